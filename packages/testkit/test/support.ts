// Test support: temp folders and plugin processes started for a test and stopped after it.
import { Effect, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

export const repoRoot = Path.join(import.meta.dirname, "..", "..", "..")
export const fixture = (name: string) => Path.join(import.meta.dirname, "fixtures", name)
export const cliBin = Path.join(repoRoot, "packages", "cli", "src", "bin.ts")

export const tempDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-testkit-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** Runs `node --conditions=... script args` until the scope closes; resolves once `ready` appears on stdout. */
export const nodeProcess = (
  script: string,
  args: ReadonlyArray<string>,
  ready: string
): Effect.Effect<ChildProcess, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<ChildProcess, Error>((resume) => {
      const child = spawn(process.execPath, ["--conditions=@docker-plugin-kit/source", script, ...args], {
        stdio: ["ignore", "pipe", "pipe"]
      })
      let out = ""
      let err = ""
      child.stdout.on("data", (d) => {
        out += d
        if (out.includes(ready)) resume(Effect.succeed(child))
      })
      child.stderr.on("data", (d) => {
        err += d
      })
      child.once("exit", (code) => resume(Effect.fail(new Error(`${script} exited with ${code}: ${err || out}`))))
    }),
    (child) =>
      Effect.callback<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.kill("SIGTERM")
      })
  )

/** Runs the dpk CLI to completion. */
export const dpk = (
  args: ReadonlyArray<string>
): Effect.Effect<{ code: number | null; stdout: string; stderr: string }> =>
  Effect.callback((resume) => {
    const child = spawn(process.execPath, ["--conditions=@docker-plugin-kit/source", cliBin, ...args], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => {
      stdout += d
    })
    child.stderr.on("data", (d) => {
      stderr += d
    })
    child.once("exit", (code) => resume(Effect.succeed({ code, stdout, stderr })))
  })
