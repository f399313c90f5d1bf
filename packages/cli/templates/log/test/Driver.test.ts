// The driver tested in-process with the daemon's logging sequences (real FIFOs, the testkit's fake daemon), then
// over a Unix socket with the toolkit's logging conformance suite.
import { LogEntry, LogFraming } from "@docker-plugin-kit/helpers"
import {
  Conformance,
  ConformanceLog,
  ConformanceSuites,
  InProcess,
  LogSequences,
  SocketHarness
} from "@docker-plugin-kit/testkit"
import { ConformanceVitest } from "@docker-plugin-kit/testkit/vitest"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Driver from "../src/Driver.ts"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "__NAME__-test-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))

describe("the driver, in-process", () => {
  it.live("writes a container's lines to its file and reads them back with --tail and --since", () =>
    Effect.gen(function* () {
      const dir = Path.join(root, "a")
      const plugin = yield* InProcess.make(Driver.layer(dir))
      const daemon = yield* LogSequences.make(plugin.client, { fifoDir: yield* SocketHarness.tempFolder })
      const logging = yield* daemon.run()
      expect(logging.start.error).toBeUndefined()
      yield* logging.print("stdout", ["one", "two"])
      yield* logging.print("stderr", ["three"])
      expect((yield* logging.stop).error).toBeUndefined()
      // The file holds the entries as the daemon framed them.
      const file = Path.join(dir, `${logging.info.ContainerID}.log`)
      const stored = LogFraming.decoder().push(Fs.readFileSync(file)).entries
      expect(stored.map((e) => `${e.source}:${LogEntry.lineText(e)}`)).toEqual([
        "stdout:one",
        "stdout:two",
        "stderr:three"
      ])
      const logs = (config: Partial<{ Tail: number; Since: string }>) =>
        Effect.map(daemon.logsStopped(logging.info, config), (l) => l.entries.map(LogEntry.lineText))
      expect(yield* logs({})).toEqual(["one\n", "two\n", "three\n"])
      expect(yield* logs({ Tail: 2 })).toEqual(["two\n", "three\n"])
      expect(yield* logs({ Tail: 0 })).toEqual([])
      expect(yield* logs({ Since: new Date(Date.now() + 60_000).toISOString() })).toEqual([])
    })
  )

  // The suite only warns when -f does not follow; this driver follows, so the check must pass outright.
  it.live("docker logs -f sends the lines as they come and ends when the container stops", () =>
    Effect.gen(function* () {
      const follow = ConformanceLog.checks.find((c) => c.name.startsWith("ReadLogs with Follow"))
      expect(follow).toBeDefined()
      const client = yield* ConformanceSuites.inProcess(Driver.layer(Path.join(root, "d")))
      const outcome = yield* Conformance.runCheck(follow!, Conformance.context(client))
      expect(outcome.status).toBe("pass")
    })
  )

  it.effect("refuses a container ID that would leave the folder", () =>
    Effect.gen(function* () {
      const plugin = yield* InProcess.make(Driver.layer(Path.join(root, "b")))
      const answer = yield* plugin.call("/LogDriver.ReadLogs", {
        Info: LogSequences.info({ ContainerID: "../escape" }),
        Config: LogSequences.readConfig()
      })
      expect(answer.body).toEqual({ Err: 'invalid container ID "../escape"' })
    })
  )
})

ConformanceVitest.describeSuite("the driver over a Unix socket", ConformanceLog.suite, () =>
  ConformanceSuites.overSocket(Driver.layer(Path.join(root, "c")))
)
