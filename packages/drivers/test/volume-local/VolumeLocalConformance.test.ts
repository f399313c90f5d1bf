/**
 * The VolumeDriver conformance suite against volume-local on both filesystems, in-process and over a socket.
 */
import { VolumeLocal, VolumeMemory } from "@docker-plugin-kit/drivers"
import { Conformance, ConformanceSuites, ConformanceVolume } from "@docker-plugin-kit/testkit"
import { ConformanceVitest } from "@docker-plugin-kit/testkit/vitest"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-conformance-local-"))
afterAll(() => Fs.rmSync(base, { recursive: true, force: true }))

const onDisk = () =>
  Layer.fresh(VolumeLocal.layerNode({ root: Path.join(base, "volumes"), stateDir: Path.join(base, "state") }))
const inMemory = () => VolumeLocal.layerMemory({ root: "/srv/volumes", stateDir: "/srv/state" }, {})

ConformanceVitest.describeSuite("conformance: volume-local, Node VolumeFs, in-process", ConformanceVolume.suite, () =>
  ConformanceSuites.inProcess(onDisk())
)
ConformanceVitest.describeSuite("conformance: volume-local, memory VolumeFs, in-process", ConformanceVolume.suite, () =>
  ConformanceSuites.inProcess(inMemory())
)
ConformanceVitest.describeSuite(
  "conformance: volume-local, Node VolumeFs, over a socket",
  ConformanceVolume.suite,
  () => ConformanceSuites.overSocket(onDisk())
)
ConformanceVitest.describeSuite("conformance: volume-memory, in-process", ConformanceVolume.suite, () =>
  ConformanceSuites.inProcess(VolumeMemory.layer())
)

describe("conformance report of volume-local", () => {
  it.live("passes every check, warnings included (unknown Unmount IDs, an ID mounted twice)", () =>
    Effect.gen(function* () {
      for (const layer of [onDisk(), inMemory()]) {
        const report = yield* Conformance.run(ConformanceVolume.suite, yield* ConformanceSuites.inProcess(layer))
        expect(report.passed).toBe(true)
        expect(report.outcomes.filter((o) => o.status !== "pass")).toEqual([])
      }
    })
  )
})
