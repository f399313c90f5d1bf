// PluginServer.launch as a process: the logfmt records of a verbose server, and exit 0 after a clean shutdown.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { post, tempDir, waitFor } from "./support.ts"

const fixture = Path.join(import.meta.dirname, "fixtures", "launch-verbose.ts")

const launch = (socketPath: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, ["--conditions=@docker-plugin-kit/source", fixture, socketPath])
      let out = ""
      child.stdout.on("data", (d) => (out += d))
      child.stderr.on("data", (d) => (out += d))
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      return { child, output: () => out, exited: Effect.promise(() => exited) }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )

describe("PluginServer.launch", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it.live(`logs one logfmt record per call, rejections with their reason, and exits 0 on ${signal}`, () =>
      Effect.gen(function* () {
        const socketPath = Path.join(yield* tempDir, "launched.sock")
        const run = yield* launch(socketPath)
        yield* waitFor(() => run.output().includes("listening on"), 30_000)
        expect((yield* post({ socketPath }, "/Plugin.Activate")).status).toBe(200)
        expect((yield* post({ socketPath }, "/VolumeDriver.Get", "{nope")).status).toBe(400)
        yield* waitFor(() => run.output().includes("status=400"))
        const lines = run.output().trim().split("\n")
        expect(lines[0]).toBe(`launched: listening on unix://${socketPath}`)
        expect(lines.slice(1)).toEqual([
          expect.stringMatching(
            /^timestamp=\S+ level=INFO fiber=#\d+ message="plugin call" endpoint=\/Plugin\.Activate status=200 outcome=ok durationMs=[\d.]+$/
          ),
          expect.stringMatching(
            /^timestamp=\S+ level=INFO fiber=#\d+ message="plugin call" endpoint=\/VolumeDriver\.Get status=400 outcome=error durationMs=[\d.]+ reason="\/VolumeDriver\.Get: request body is not valid JSON \(.+\)"$/
          )
        ])
        run.child.kill(signal)
        expect(yield* run.exited).toBe(0)
        expect(Fs.existsSync(socketPath)).toBe(false)
      })
    )
  }
})
