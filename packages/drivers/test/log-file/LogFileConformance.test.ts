/**
 * The LogDriver conformance suite against log-file: in-process (memory and disk), over a socket, and by `dpk probe`
 * against `dpk serve log-file` in its own process.
 */
import { LogFile } from "@docker-plugin-kit/drivers"
import { Conformance, ConformanceLog, ConformanceSuites } from "@docker-plugin-kit/testkit"
import { ConformanceVitest } from "@docker-plugin-kit/testkit/vitest"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { spawnServe } from "../support/engine.ts"

const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-conformance-log-"))
afterAll(() => Fs.rmSync(base, { recursive: true, force: true }))

const onDisk = () => Layer.fresh(LogFile.layerNode({ dir: Path.join(base, "logs") }))
const inMemory = () => LogFile.layerMemory({ dir: "/logs" })

ConformanceVitest.describeSuite("conformance: log-file, memory files, in-process", ConformanceLog.suite, () =>
  ConformanceSuites.inProcess(inMemory())
)
ConformanceVitest.describeSuite("conformance: log-file, disk, over a socket", ConformanceLog.suite, () =>
  ConformanceSuites.overSocket(onDisk())
)

const cliBin = fileURLToPath(new URL("../../../cli/src/bin.ts", import.meta.url))

describe("conformance report of log-file", () => {
  it.live("passes every check with no warning, in-process on disk", () =>
    Effect.gen(function* () {
      const report = yield* Conformance.run(ConformanceLog.suite, yield* ConformanceSuites.inProcess(onDisk()))
      expect(report.outcomes.filter((o) => o.status !== "pass")).toEqual([])
      expect(report.outcomes).toHaveLength(ConformanceLog.checks.length)
    })
  )

  it("dpk probe passes dpk serve log-file", async () => {
    const dir = Fs.mkdtempSync(Path.join(base, "probe-"))
    const socket = Path.join(dir, "lf.sock")
    const served = await spawnServe(["log-file", "--name", "lf", "--socket", socket, "--dir", Path.join(dir, "logs")])
    try {
      const probe = ChildProcess.spawnSync(
        process.execPath,
        ["--conditions=@docker-plugin-kit/source", cliBin, "probe", socket],
        { encoding: "utf8", timeout: 120_000 }
      )
      expect(probe.status, probe.stdout + probe.stderr).toBe(0)
      expect(probe.stdout).toContain("implements LogDriver")
      expect(probe.stdout).toMatch(
        new RegExp(`LogDriver conformance of .*: ${ConformanceLog.checks.length} passed, 0 failed$`, "m")
      )
    } finally {
      await served.stop()
    }
  })
})
