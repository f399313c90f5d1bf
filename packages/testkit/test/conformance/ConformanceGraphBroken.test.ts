/**
 * The GraphDriver suite against graph-vfs broken one way at a time, to show that each defect fails a check, and
 * that the driver itself still passes.
 */
import { GraphOverlay, MountsMemory } from "@docker-plugin-kit/drivers"
import { GraphDriver } from "@docker-plugin-kit/protocol"
import { Conformance, ConformanceGraph, ConformanceSuites } from "@docker-plugin-kit/testkit"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-conformance-graph-broken-"))
afterAll(() => Fs.rmSync(base, { recursive: true, force: true }))
let n = 0

/** graph-vfs (its Dir is a real copy this process can read) with some methods replaced. */
const broken = (patch: (driver: GraphDriver.Driver) => Partial<GraphDriver.Driver>) =>
  Layer.effect(
    GraphDriver.GraphDriver,
    Effect.map(GraphOverlay.make({ mode: "vfs", root: Path.join(base, `root-${++n}`) }), (driver) => ({
      ...driver,
      ...patch(driver)
    }))
  ).pipe(Layer.provide(MountsMemory.layer()))

const failures = (layer: Layer.Layer<GraphDriver.GraphDriver, unknown>) =>
  Effect.gen(function* () {
    const client = yield* ConformanceSuites.inProcess(layer)
    const report = yield* Conformance.run(ConformanceGraph.suite, client)
    return Object.fromEntries(report.outcomes.filter((o) => o.status === "fail").map((o) => [o.check, o.reason]))
  })

describe("ConformanceGraph against broken drivers", () => {
  it.live("graph-vfs passes", () =>
    Effect.gen(function* () {
      expect(yield* failures(broken(() => ({})))).toEqual({})
    })
  )

  it.live("a Put that releases the layer while another Get still holds it", () =>
    Effect.gen(function* () {
      // Releases on every Put, as a driver that does not count would unmount: Dir's content goes away.
      const report = yield* failures(
        broken((d) => ({
          put: (request) =>
            d.get({ ID: request.ID, MountLabel: "" }).pipe(
              Effect.tap(({ Dir }) => Effect.sync(() => Fs.rmSync(Path.join(Dir, "counted"), { force: true }))),
              Effect.andThen(d.put(request)),
              Effect.andThen(d.put(request))
            )
        }))
      )
      const [check, reason] = Object.entries(report)[0] ?? []
      expect(Object.keys(report)).toHaveLength(1)
      expect(check).toMatch(/^Get is counted per ID/)
      expect(reason).toMatch(/after two Gets and one Put, .*counted is gone/)
    })
  )

  it.live("a Get that answers the same Dir for every layer", () =>
    Effect.gen(function* () {
      const report = yield* failures(broken((d) => ({ get: (request) => Effect.as(d.get(request), { Dir: base }) })))
      expect(report).toEqual({
        "Get is counted per ID: two Gets answer the same Dir, and the first Put leaves it mounted": `Get answered the same Dir ${base} for a layer and for its parent`
      })
    })
  )

  it.live("a Get that answers a folder of this host that is not the layer", () =>
    Effect.gen(function* () {
      // Mounts the layer, but answers a folder of its own (one per layer, with a file in it).
      const report = yield* failures(
        broken((d) => ({
          get: (request) =>
            Effect.andThen(d.get(request), () =>
              Effect.sync(() => {
                const Dir = Path.join(base, `elsewhere-${request.ID}`)
                Fs.mkdirSync(Dir, { recursive: true })
                Fs.writeFileSync(Path.join(Dir, "unrelated"), "")
                return { Dir }
              })
            )
        }))
      )
      const [check, reason] = Object.entries(report)[0] ?? []
      expect(Object.keys(report)).toHaveLength(1)
      expect(check).toMatch(/^Get is counted per ID/)
      expect(reason).toMatch(/elsewhere-.* holds unrelated but not the parent's file "counted": it is not this layer$/)
    })
  )
})
