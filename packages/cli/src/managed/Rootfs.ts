/**
 * The root file system of a managed plugin: a Node runtime with the shared libraries it links against, the
 * plugin's bundle, any host tool a driver runs (e.g. `ip`) with its libraries, and the folders the daemon mounts
 * into. Nothing is downloaded: the runtime and tools are this machine's.
 *
 * @since 0.1.0
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

/**
 * Where the plugin's bundle is, seen from inside the plugin.
 *
 * @since 0.1.0
 */
export const bundlePath = "/plugin/plugin.js"

/**
 * Where Node is, seen from inside the plugin.
 *
 * @since 0.1.0
 */
export const nodePath = "/usr/local/bin/node"

/**
 * The shared libraries a binary loads (absolute paths, the dynamic loader included), as `ldd` lists them.
 *
 * @since 0.1.0
 */
export const sharedLibraries = (binary: string): ReadonlyArray<string> => {
  const out = ChildProcess.execFileSync("ldd", [binary], { encoding: "utf8" })
  return parseLdd(out)
}

/**
 * The library paths in `ldd`'s output: `name => /path (0x...)` and `/lib64/ld-linux-x86-64.so.2 (0x...)` lines.
 *
 * @since 0.1.0
 */
export const parseLdd = (output: string): ReadonlyArray<string> =>
  output
    .split("\n")
    .map((line) => /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line)?.[1])
    .filter((p): p is string => p !== undefined)

/**
 * What goes into a rootfs.
 *
 * @since 0.1.0
 */
export interface Contents {
  /** The plugin's bundle (`dpk build`). */
  readonly bundle: string
  /** The folder of its chunks when it was split (`dpk build --split`): copied beside it, under the same name. */
  readonly chunks?: string
  /** The Node binary to ship (default: the one running). */
  readonly node?: string
  /** Host tools the driver runs, by name or path, shipped at the same path with their libraries. */
  readonly binaries?: ReadonlyArray<string>
}

const copyInto = (rootfs: string, hostPath: string, inside = hostPath) => {
  const target = Path.join(rootfs, inside)
  Fs.mkdirSync(Path.dirname(target), { recursive: true })
  // The real file, not a link that would point outside the rootfs.
  Fs.copyFileSync(Fs.realpathSync(hostPath), target)
  Fs.chmodSync(target, Fs.statSync(hostPath).mode & 0o7777)
}

/**
 * A tool's path on this machine: as given when it has a `/` (if it is a file), else the first match on `PATH`;
 * undefined when there is none.
 *
 * @since 0.1.0
 */
export const locate = (name: string): string | undefined => {
  const isFile = (path: string) => Fs.statSync(path, { throwIfNoEntry: false })?.isFile() === true
  if (name.includes("/")) return isFile(name) ? name : undefined
  return (process.env.PATH ?? "")
    .split(":")
    .filter((dir) => dir !== "")
    .map((dir) => Path.join(dir, name))
    .find(isFile)
}

const which = (name: string): string => {
  const found = locate(name)
  if (found === undefined) {
    throw new Error(`${name} is not ${name.includes("/") ? "a file" : "on PATH"}; the plugin needs it in its rootfs`)
  }
  return found
}

/**
 * Writes `rootfs` (which must not exist yet).
 *
 * @since 0.1.0
 */
export const write = (rootfs: string, contents: Contents): void => {
  Fs.mkdirSync(rootfs)
  for (const dir of ["run/docker/plugins", "tmp", "etc", "proc", "sys", "dev", "var/lib"]) {
    Fs.mkdirSync(Path.join(rootfs, dir), { recursive: true })
  }
  Fs.chmodSync(Path.join(rootfs, "tmp"), 0o1777)
  const node = contents.node ?? process.execPath
  copyInto(rootfs, node, nodePath)
  const binaries = (contents.binaries ?? []).map(which)
  for (const binary of binaries) copyInto(rootfs, binary)
  for (const library of new Set([node, ...binaries].flatMap(sharedLibraries))) copyInto(rootfs, library)
  copyInto(rootfs, contents.bundle, bundlePath)
  // A split bundle without lazy imports has no chunks, and no folder.
  if (contents.chunks !== undefined && Fs.existsSync(contents.chunks)) {
    const inside = Path.join(Path.dirname(bundlePath), Path.basename(contents.chunks))
    for (const file of Fs.readdirSync(contents.chunks))
      copyInto(rootfs, Path.join(contents.chunks, file), Path.join(inside, file))
  }
}
