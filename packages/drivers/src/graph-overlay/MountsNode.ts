/**
 * `Mounts` on the host: mount(8) and umount(8) for overlays, /proc/self/mountinfo for what is mounted, cp(1) with
 * `-a` for full copies. Needs root (CAP_SYS_ADMIN) for mounts.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { MountError, Mounts } from "./Mounts.ts"

const run = (file: string, args: ReadonlyArray<string>, operation: string, path: string, cwd?: string) =>
  Effect.callback<void, MountError>((resume) => {
    const child = ChildProcess.execFile(
      file,
      [...args],
      { encoding: "utf8", ...(cwd === undefined ? {} : { cwd }) },
      (error, _stdout, stderr) =>
        resume(
          error === null
            ? Effect.void
            : Effect.fail(new MountError({ operation, path, reason: stderr.trim() || error.message }))
        )
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** Undoes mountinfo's octal escapes (`\040` for a space, ...). */
const unescapeMountPath = (path: string) =>
  path.replace(/\\([0-7]{3})/g, (_, code: string) => String.fromCharCode(Number.parseInt(code, 8)))

/**
 * The mount points listed in a mountinfo text.
 *
 * @since 0.1.0
 */
export const mountPoints = (mountinfo: string): Array<string> =>
  mountinfo
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((p): p is string => p !== undefined && p !== "")
    .map(unescapeMountPath)

/**
 * The service.
 *
 * @since 0.1.0
 */
export const service: Mounts["Service"] = {
  mountOverlay: ({ cwd, lowers, upper, work, target }) =>
    run(
      "mount",
      ["-t", "overlay", "overlay", "-o", `lowerdir=${lowers.join(":")},upperdir=${upper},workdir=${work}`, target],
      "mount overlay on",
      target,
      cwd
    ),
  unmount: (target) => run("umount", [target], "umount", target),
  mountedUnder: (folder) =>
    Effect.try({
      try: () => {
        const prefix = folder.endsWith("/") ? folder : `${folder}/`
        return mountPoints(Fs.readFileSync("/proc/self/mountinfo", "utf8")).filter((p) => p.startsWith(prefix))
      },
      catch: (e) => new MountError({ operation: "read mounts under", path: folder, reason: String(e) })
    }),
  copy: (from, to) => run("cp", ["-a", "--reflink=auto", `${from}/.`, to], "copy", from)
}

/**
 * The host Layer.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Mounts> = Layer.succeed(Mounts, service)
