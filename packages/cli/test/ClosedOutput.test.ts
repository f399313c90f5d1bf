// A reader that goes away (`dpk ... | head -1`) ends no command: `serve` keeps serving and drops its logs, a one-shot
// command exits with its own status and no stack trace.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { post, tempDir, waitFor } from "../../server/test/support.ts"
import { nodeArgs } from "./support.ts"

/** Starts dpk with its stdout (and, with `both`, its stderr) a pipe whose reader is gone before dpk writes a byte. */
const withClosedOutput = (args: ReadonlyArray<string>, both: boolean) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ["ignore", "pipe", "pipe"] })
      child.stdout.destroy()
      let stderr = ""
      if (both) child.stderr.destroy()
      else child.stderr.on("data", (d) => (stderr += d))
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      return { child, stderr: () => stderr, exited: Effect.promise(() => exited) }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )

describe("a closed stdout or stderr", () => {
  it.live("does not stop dpk serve: every call is answered (and logged to nobody), and SIGTERM still exits 0", () =>
    Effect.gen(function* () {
      const socket = Path.join(yield* tempDir, "closed.sock")
      const run = yield* withClosedOutput(
        ["serve", "volume-memory", "--name", "closed", "--socket", socket, "--verbose"],
        true
      )
      yield* waitFor(() => Fs.existsSync(socket), 30_000)
      // The ready line and a log line per call each hit the closed pipe.
      for (let i = 0; i < 5; i++)
        expect((yield* post({ socketPath: socket }, "/VolumeDriver.List", {})).body).toEqual({ Volumes: [] })
      expect(run.child.exitCode).toBe(null)
      run.child.kill("SIGTERM")
      expect(yield* run.exited).toBe(0)
      expect(Fs.existsSync(socket)).toBe(false)
    })
  )

  it.live("ends a one-shot command quietly with its own status", () =>
    Effect.gen(function* () {
      const ok = yield* withClosedOutput(["schema", "VolumeDriver.Create"], false)
      expect(yield* ok.exited).toBe(0)
      expect(ok.stderr()).toBe("")
      const failed = yield* withClosedOutput(["schema", "VolumeDriver.Nope"], true)
      expect(yield* failed.exited).toBe(1)
    })
  )
})
