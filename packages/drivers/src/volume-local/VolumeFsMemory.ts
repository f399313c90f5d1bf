/**
 * `VolumeFs` in memory: a map of paths, with owners, modes and times, and an optional fault hook. It lets the
 * `volume-local` driver be tested (restarts and failed writes included) without touching the disk.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Path from "node:path"
import { type Entry, type Service, VolumeFs, VolumeFsError } from "./VolumeFs.ts"

interface Node {
  readonly type: "File" | "Directory"
  readonly content: string
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly modifiedAt: Date
}

/**
 * Settings of a memory filesystem.
 *
 * @since 0.1.0
 */
export interface Options {
  /**
   * Called before every operation; returning a string makes that operation fail with it (to test how the driver
   * rolls back).
   */
  readonly fault?: (operation: keyof Service, path: string) => string | undefined
  /** The clock of modification times (default: the system's). */
  readonly now?: () => Date
}

/**
 * A memory filesystem and a view of its entries (for assertions).
 *
 * @since 0.1.0
 */
export interface MemoryFs {
  readonly service: Service
  /** Every path with its entry, sorted. */
  readonly entries: () => ReadonlyArray<readonly [string, Entry & { readonly content: string }]>
}

/**
 * Builds an empty memory filesystem (only `/` exists).
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): MemoryFs => {
  const now = options.now ?? (() => new Date())
  const nodes = new Map<string, Node>([
    ["/", { type: "Directory", content: "", mode: 0o755, uid: 0, gid: 0, modifiedAt: now() }]
  ])
  const norm = (p: string) => Path.posix.resolve("/", p)
  const children = (dir: string) => {
    const prefix = dir === "/" ? "/" : `${dir}/`
    return [...nodes.keys()].filter((k) => k !== dir && k.startsWith(prefix) && !k.slice(prefix.length).includes("/"))
  }

  const op =
    <Args extends ReadonlyArray<any>, A>(
      operation: keyof Service,
      run: (path: string, ...args: Args) => A
    ): ((path: string, ...args: Args) => Effect.Effect<A, VolumeFsError>) =>
    (path, ...args) =>
      Effect.suspend(() => {
        const p = norm(path)
        const injected = options.fault?.(operation, p)
        if (injected !== undefined) return Effect.fail(new VolumeFsError({ operation, path: p, reason: injected }))
        try {
          return Effect.succeed(run(p, ...args))
        } catch (e) {
          return Effect.fail(new VolumeFsError({ operation, path: p, reason: (e as Error).message }))
        }
      })

  const requireDirectory = (dir: string) => {
    const node = nodes.get(dir)
    if (node === undefined) throw new Error(`ENOENT: no such file or directory, ${dir}`)
    if (node.type !== "Directory") throw new Error(`ENOTDIR: not a directory, ${dir}`)
  }

  const service: Service = {
    makeDirectory: op("makeDirectory", (path, settings: { uid?: number; gid?: number; mode?: number } = {}) => {
      const missing: Array<string> = []
      for (let p = path; !nodes.has(p); p = Path.posix.dirname(p)) missing.unshift(p)
      for (const p of missing) {
        requireDirectory(Path.posix.dirname(p))
        nodes.set(p, { type: "Directory", content: "", mode: 0o755, uid: 0, gid: 0, modifiedAt: now() })
      }
      const node = nodes.get(path)!
      if (node.type !== "Directory") throw new Error(`EEXIST: file already exists, ${path}`)
      nodes.set(path, {
        ...node,
        uid: settings.uid ?? node.uid,
        gid: settings.gid ?? node.gid,
        mode: settings.mode ?? node.mode
      })
    }),
    removeTree: op("removeTree", (path) => {
      for (const key of [...nodes.keys()]) if (key === path || key.startsWith(`${path}/`)) nodes.delete(key)
    }),
    readDirectory: op("readDirectory", (path) =>
      nodes.has(path) ? children(path).map((k) => Path.posix.basename(k)) : []
    ),
    stat: op("stat", (path) => {
      const node = nodes.get(path)
      return node === undefined
        ? undefined
        : { type: node.type, mode: node.mode, uid: node.uid, gid: node.gid, modifiedAt: node.modifiedAt }
    }),
    // No symlinks in memory: an existing path is its own real path.
    realPath: op("realPath", (path) => {
      if (!nodes.has(path)) throw new Error(`ENOENT: no such file or directory, ${path}`)
      return path
    }),
    readFile: op("readFile", (path) => {
      const node = nodes.get(path)
      if (node === undefined) throw new Error(`ENOENT: no such file or directory, ${path}`)
      if (node.type !== "File") throw new Error(`EISDIR: illegal operation on a directory, ${path}`)
      return node.content
    }),
    writeFileAtomic: op("writeFileAtomic", (path, content: string, _tmpDir: string) => {
      requireDirectory(Path.posix.dirname(path))
      nodes.set(path, { type: "File", content, mode: 0o600, uid: 0, gid: 0, modifiedAt: now() })
    }),
    removeFile: op("removeFile", (path) => {
      nodes.delete(path)
    }),
    // A memory filesystem belongs to the one driver (and process) that was given it: nothing to claim, and nothing
    // written, so the entries stay what the driver's state files make them.
    claimFolder: op("claimFolder", () => undefined)
  }

  return {
    service,
    entries: () =>
      [...nodes.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([path, { type, content, mode, uid, gid, modifiedAt }]) => [
          path,
          { type, content, mode, uid, gid, modifiedAt }
        ])
  }
}

/**
 * A fresh memory filesystem as a Layer.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<VolumeFs> => Layer.sync(VolumeFs, () => make(options).service)
