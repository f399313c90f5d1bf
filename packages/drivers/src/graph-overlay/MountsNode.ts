/**
 * `Mounts` on the host: mount(8) and umount(8) for overlays, /proc/self/mountinfo for what is mounted, cp(1) with
 * `-a` for full copies, `ROOT/owner.pid` (`FolderOwner`) for the root's claim. Needs root (CAP_SYS_ADMIN) for mounts.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as FolderOwner from "../shared/FolderOwner.ts"
import { GraphRootInUse } from "./GraphErrors.ts"
import { MountError, Mounts, type OverlaySpec } from "./Mounts.ts"

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

/** mount(2) takes at most a page of options, the terminating NUL included. */
const maxOptionBytes = 4095

/**
 * The options that switch off what this kernel's overlayfs turns on by default and a layer's `Diff`, read from its
 * upper folder alone, cannot carry: `redirect_dir` (a renamed lower folder becomes a redirect attribute, its content
 * staying below) and `metacopy` (a `chmod` copies up the metadata only). The daemon's overlay2 falls back to a slower
 * naive diff when it finds either on; off, a rename copies the folder up (or answers `EXDEV`, and `mv` copies) and
 * a `chmod` copies the file. `parameter` reads `/sys/module/overlay/parameters/NAME` (undefined when absent).
 *
 * @since 0.1.0
 */
export const featuresOff = (parameter: (name: string) => string | undefined): Array<string> =>
  ["redirect_dir", "metacopy"].filter((name) => parameter(name)?.trim() === "Y").map((name) => `${name}=off`)

const kernelParameter = (name: string): string | undefined => {
  try {
    return Fs.readFileSync(`/sys/module/overlay/parameters/${name}`, "utf8")
  } catch {
    return undefined
  }
}

const overlayOptions = (lowers: ReadonlyArray<string>, upper: string, work: string, off: ReadonlyArray<string>) =>
  [`lowerdir=${lowers.join(":")}`, `upperdir=${upper}`, `workdir=${work}`, ...off].join(",")

const mountIn = (cwd: string, options: string, target: string) =>
  run("mount", ["-t", "overlay", "overlay", "-o", options, target], "mount overlay on", target, cwd)

/**
 * Mounts an overlay whose lower folders do not fit a page even relative to `cwd` (about 57 of the daemon's 64-digit
 * IDs as `<id>/diff`, where images have up to 127 layers): they are named by symlinks `0`, `1`, ... in a temporary
 * folder under `cwd` (`.tmp-`: the driver clears such leftovers at start), which the mount runs in. overlayfs
 * resolves the links when it mounts, so the folder goes right after.
 */
const mountThroughLinks = ({ cwd, lowers, upper, work, target }: OverlaySpec, off: ReadonlyArray<string>) => {
  const failed = (e: unknown) => new MountError({ operation: "mount overlay on", path: target, reason: String(e) })
  return Effect.acquireUseRelease(
    Effect.try({ try: () => Fs.mkdtempSync(Path.join(cwd, ".tmp-lowers-")), catch: failed }),
    (links) =>
      Effect.andThen(
        Effect.try({
          try: () => {
            for (const [i, lower] of lowers.entries())
              Fs.symlinkSync(Path.resolve(cwd, lower), Path.join(links, `${i}`))
          },
          catch: failed
        }),
        mountIn(
          links,
          overlayOptions(
            lowers.map((_, i) => `${i}`),
            Path.relative(links, Path.resolve(cwd, upper)),
            Path.relative(links, Path.resolve(cwd, work)),
            off
          ),
          Path.resolve(cwd, target)
        )
      ),
    (links) => Effect.sync(() => Fs.rmSync(links, { recursive: true, force: true }))
  )
}

const mountWith = (spec: OverlaySpec, off: ReadonlyArray<string>) => {
  const options = overlayOptions(spec.lowers, spec.upper, spec.work, off)
  return Buffer.byteLength(options) <= maxOptionBytes
    ? mountIn(spec.cwd, options, spec.target)
    : mountThroughLinks(spec, off)
}

const unmount = (target: string, cwd?: string) => run("umount", [target], "umount", target, cwd)

/**
 * The service, reading the overlay module's parameters with `parameter` at each mount (the module may be loaded by
 * the first one).
 *
 * @since 0.1.0
 */
export const make = (parameter: (name: string) => string | undefined = kernelParameter): Mounts["Service"] => ({
  mountOverlay: (spec) => {
    if (parameter("redirect_dir") !== undefined) return mountWith(spec, featuresOff(parameter))
    // No parameters yet: the module is loaded by the first overlay mount, and its defaults are known only after it.
    return Effect.andThen(mountWith(spec, []), () => {
      const off = featuresOff(parameter)
      return off.length === 0 ? Effect.void : Effect.andThen(unmount(spec.target, spec.cwd), mountWith(spec, off))
    })
  },
  unmount: (target) => unmount(target),
  mountedUnder: (folder) =>
    Effect.try({
      try: () => {
        const prefix = folder.endsWith("/") ? folder : `${folder}/`
        return mountPoints(Fs.readFileSync("/proc/self/mountinfo", "utf8")).filter((p) => p.startsWith(prefix))
      },
      catch: (e) => new MountError({ operation: "read mounts under", path: folder, reason: String(e) })
    }),
  copy: (from, to) => run("cp", ["-a", "--reflink=auto", `${from}/.`, to], "copy", from),
  claimRoot: (root) =>
    FolderOwner.claimScoped(root).pipe(
      Effect.asVoid,
      Effect.mapError((e) =>
        e._tag === "FolderOwnerError"
          ? new MountError({ operation: e.operation, path: e.path, reason: e.reason })
          : new GraphRootInUse({ root, owner: e.owner, inThisProcess: e.inThisProcess })
      )
    )
})

/**
 * The service with the host's overlay parameters.
 *
 * @since 0.1.0
 */
export const service: Mounts["Service"] = make()

/**
 * The host Layer.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Mounts> = Layer.succeed(Mounts, service)
