// Runs the dpk command line as a child process, the way a user runs it.
import { Effect } from "effect"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as Path from "node:path"

export const bin = Path.join(import.meta.dirname, "..", "src", "bin.ts")
export const nodeArgs = ["--conditions=@docker-plugin-kit/source", bin]

/** Runs dpk to completion. */
export const dpk = (...args: Array<string>) => spawnSync(process.execPath, [...nodeArgs, ...args], { encoding: "utf8" })

export interface Running {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Effect.Effect<number | null>
}

/** Starts a long-running dpk process, killed when the scope closes if it is still alive. */
export const start = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) =>
  Effect.acquireRelease(
    Effect.sync((): Running => {
      const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] })
      let out = ""
      child.stdout?.on("data", (d) => (out += d))
      child.stderr?.on("data", (d) => (out += d))
      const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      return { child, output: () => out, exited: Effect.promise(() => exit) }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )
