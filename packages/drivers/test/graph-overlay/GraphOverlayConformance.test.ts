/**
 * The GraphDriver conformance suite against graph-overlay and graph-vfs: in-process (memory mounts), over a socket
 * (real mounts, as root), and by `dpk probe` against `dpk serve graph-overlay`.
 */
import { GraphOverlay } from "@docker-plugin-kit/drivers"
import { Conformance, ConformanceGraph, ConformanceSuites } from "@docker-plugin-kit/testkit"
import { ConformanceVitest } from "@docker-plugin-kit/testkit/vitest"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { spawnServe } from "../support/engine.ts"
import { isRoot } from "./support.ts"

const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-conformance-graph-"))
afterAll(() => Fs.rmSync(base, { recursive: true, force: true }))
let n = 0
const root = () => Path.join(base, `root-${++n}`)

for (const mode of ["overlay", "vfs"] as const) {
  ConformanceVitest.describeSuite(`conformance: graph-${mode}, memory mounts, in-process`, ConformanceGraph.suite, () =>
    ConformanceSuites.inProcess(Layer.fresh(GraphOverlay.layerMemory({ mode, root: root() })))
  )
  if (isRoot) {
    ConformanceVitest.describeSuite(
      `conformance: graph-${mode}, host mounts, over a socket`,
      ConformanceGraph.suite,
      () => ConformanceSuites.overSocket(Layer.fresh(GraphOverlay.layerNode({ mode, root: root() })))
    )
  }
}

describe("conformance report of graph-overlay and graph-vfs", () => {
  it.live("every check passes in both modes", () =>
    Effect.gen(function* () {
      for (const mode of ["overlay", "vfs"] as const) {
        const client = yield* ConformanceSuites.inProcess(GraphOverlay.layerMemory({ mode, root: root() }))
        const report = yield* Conformance.run(ConformanceGraph.suite, client)
        expect(report.outcomes.filter((o) => o.status !== "pass")).toEqual([])
      }
    })
  )
})

const cliBin = fileURLToPath(new URL("../../../cli/src/bin.ts", import.meta.url))

describe.skipIf(!isRoot)("dpk probe", () => {
  it.live("passes dpk serve graph-overlay", () =>
    Effect.gen(function* () {
      const socket = Path.join(base, "probe.sock")
      const served = yield* Effect.promise(() =>
        spawnServe(["graph-overlay", "--name", "probe-graph", "--socket", socket, "--root", root()])
      )
      yield* Effect.addFinalizer(() => Effect.promise(() => served.stop()))
      const out = yield* Effect.promise(
        () =>
          new Promise<{ code: number; stdout: string }>((resolve) =>
            ChildProcess.execFile(
              process.execPath,
              ["--conditions=@docker-plugin-kit/source", cliBin, "probe", socket],
              (error, stdout) => resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout })
            )
          )
      )
      expect(out.code, out.stdout).toBe(0)
      expect(out.stdout).toContain("implements GraphDriver")
      expect(out.stdout).toMatch(/GraphDriver conformance of .*: 11 passed, 0 failed/)
    })
  )
})
