/**
 * Other processes for the tests of folder owners: a live one (killed when the scope closes), the pid of a dead one,
 * and a zombie (exited, not reaped by its parent).
 */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"

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

/**
 * The pid of a zombie: a child that has exited and that its parent (a `sleep` that never waits) has not reaped. The
 * parent is killed by its pid when the scope closes; the zombie goes with it (reaped by whoever inherits it).
 */
export const zombieProcess = Effect.acquireRelease(
  Effect.promise(
    () =>
      new Promise<{ readonly parent: ChildProcess.ChildProcess; readonly zombie: number }>((resolve, reject) => {
        // `sleep 0` exits at once; `exec` makes its parent a `sleep`, which never reaps it.
        const parent = ChildProcess.spawn("sh", ["-c", "sleep 0 & echo $!; exec sleep 60"], {
          stdio: ["ignore", "pipe", "ignore"]
        })
        parent.once("error", reject)
        parent.stdout.once("data", (data: Buffer) => {
          const zombie = Number(data.toString().trim())
          const waitForExit = () => {
            let state: string | undefined
            try {
              state = Fs.readFileSync(`/proc/${zombie}/stat`, "utf8").split(") ")[1]?.[0]
            } catch {
              state = undefined
            }
            if (state === "Z") resolve({ parent, zombie })
            else setTimeout(waitForExit, 10)
          }
          waitForExit()
        })
      })
  ),
  ({ parent }) =>
    Effect.promise(
      () =>
        new Promise<void>((resolve) => {
          if (parent.exitCode !== null || parent.signalCode !== null) return resolve()
          parent.once("exit", () => resolve())
          process.kill(parent.pid!, "SIGKILL")
        })
    )
).pipe(Effect.map(({ zombie }) => zombie))
