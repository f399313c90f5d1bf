/**
 * Other processes for the tests of folder owners: a live one (killed when the scope closes) and the pid of a dead one.
 */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"

/** A live process other than this one (an idle `node`), killed by its pid when the scope closes. */
export const liveProcess = Effect.acquireRelease(
  Effect.sync(() => {
    const child = ChildProcess.spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" })
    if (child.pid === undefined) throw new Error("could not start a child process")
    return child
  }),
  (child) =>
    Effect.promise(
      () =>
        new Promise<void>((resolve) => {
          // Waited for: until Node reaps it, the killed child is a zombie that `kill(pid, 0)` still finds.
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once("exit", () => resolve())
          try {
            process.kill(child.pid!, "SIGKILL")
          } catch {
            resolve()
          }
        })
    )
).pipe(Effect.map((child) => child.pid!))

/** The pid of a process that has exited (and been reaped). */
export const deadPid = (): number => {
  const pid = ChildProcess.spawnSync(process.execPath, ["-e", ""]).pid
  if (pid === undefined) throw new Error("could not start a child process")
  return pid
}
