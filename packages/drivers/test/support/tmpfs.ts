/**
 * A small tmpfs mounted over a test's folder, to make a full disk on demand (as root, outside a restricted
 * container; tests skip where `canMount` is false).
 */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** Whether this process can mount a tmpfs. */
export const canMount: boolean = (() => {
  if (process.getuid?.() !== 0) return false
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-tmpfs-probe-"))
  try {
    ChildProcess.execFileSync("mount", ["-t", "tmpfs", "-o", "size=4k", "tmpfs", dir], { stdio: "ignore" })
    ChildProcess.execFileSync("umount", [dir])
    return true
  } catch {
    return false
  } finally {
    Fs.rmdirSync(dir)
  }
})()

/** Mounts a tmpfs of `size` (`4k`, `8k`) over `dir` for the scope. */
export const mountTmpfs = (dir: string, size: string) =>
  Effect.acquireRelease(
    Effect.sync(() => ChildProcess.execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir])),
    () => Effect.sync(() => ChildProcess.execFileSync("umount", [dir]))
  )
