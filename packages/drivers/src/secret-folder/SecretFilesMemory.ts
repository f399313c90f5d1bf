/**
 * `SecretFiles` in memory, for tests: files, folders, symlinks, FIFOs and devices at absolute paths, looked up by
 * the same rules as on the disk (a symlink is never followed, only a regular file of one name is read, never beyond
 * the limit plus one byte).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Path from "node:path"
import { type Lookup, SecretFiles, SecretFilesError, type Service } from "./SecretFiles.ts"

/**
 * An entry.
 *
 * @since 0.1.0
 */
export type Entry =
  /** `links`: its number of hard links (default 1). */
  | { readonly type: "file"; readonly bytes: Uint8Array; readonly links?: number }
  | { readonly type: "folder" }
  | { readonly type: "symlink"; readonly target: string }
  | { readonly type: "fifo" }
  | { readonly type: "device" }

/**
 * The files, for tests to fill and inspect.
 *
 * @since 0.1.0
 */
export interface MemoryFiles extends Service {
  /** Puts `entry` at `path`, creating the folders above it, replacing what was there. */
  readonly set: (path: string, entry: Entry) => void
  /** Writes a regular file (text as UTF-8), creating the folders above it. */
  readonly writeFile: (path: string, content: string | Uint8Array) => void
  /** Removes an entry (and, for a folder, what is under it). */
  readonly remove: (path: string) => void
  /** How many lookups reached a file and read it. */
  readonly reads: () => number
}

const kindOf = (entry: Entry): string =>
  entry.type === "fifo"
    ? "a FIFO"
    : entry.type === "device"
      ? "a character device"
      : entry.type === "folder"
        ? "a folder"
        : entry.type === "file"
          ? "a regular file"
          : "a symlink"

/**
 * A fresh set of memory files, holding only `/`.
 *
 * @since 0.1.0
 */
export const make = (): MemoryFiles => {
  const entries = new Map<string, Entry>([["/", { type: "folder" }]])
  let reads = 0
  const makeFolders = (path: string) => {
    for (let p = Path.resolve(path); !entries.has(p); p = Path.dirname(p)) entries.set(p, { type: "folder" })
  }
  const set = (path: string, entry: Entry) => {
    const at = Path.resolve(path)
    makeFolders(Path.dirname(at))
    entries.set(at, entry)
  }
  const lookup = (root: string, segments: ReadonlyArray<string>, limit: number): Lookup | SecretFilesError => {
    let path = Path.resolve(root)
    if (entries.get(path)?.type !== "folder") {
      return new SecretFilesError({ operation: "read", path, reason: "ENOENT: no such folder" })
    }
    for (const [index, name] of segments.entries()) {
      const at = segments.slice(0, index + 1).join("/")
      const wanted = index === segments.length - 1 ? "file" : "folder"
      path = Path.join(path, name)
      const entry = entries.get(path)
      if (entry === undefined) return { _tag: "Missing", at }
      if (entry.type === "symlink") return { _tag: "Symlink", at }
      if (wanted === "file" && entry.type === "file") {
        const links = entry.links ?? 1
        if (links > 1) return { _tag: "HardLinked", at, links }
        reads += 1
        return { _tag: "Found", bytes: entry.bytes.slice(0, limit + 1) }
      }
      if (entry.type !== wanted) return { _tag: "WrongKind", at, kind: kindOf(entry), wanted }
    }
    return new SecretFilesError({ operation: "read", path, reason: "a key has at least one segment" })
  }
  return {
    set,
    writeFile: (path, content) =>
      set(path, { type: "file", bytes: typeof content === "string" ? new TextEncoder().encode(content) : content }),
    remove: (path) => {
      const at = Path.resolve(path)
      for (const p of [...entries.keys()]) if (p === at || p.startsWith(`${at}/`)) entries.delete(p)
    },
    reads: () => reads,
    makeDirectory: (path) => Effect.sync(() => makeFolders(path)),
    read: (root, segments, limit) =>
      Effect.suspend(() => {
        const found = lookup(root, segments, limit)
        return found instanceof SecretFilesError ? Effect.fail(found) : Effect.succeed(found)
      })
  }
}

/**
 * A Layer over given memory files (a test keeps `files` to fill them).
 *
 * @since 0.1.0
 */
export const layerOf = (files: MemoryFiles): Layer.Layer<SecretFiles> => Layer.succeed(SecretFiles, files)

/**
 * A Layer over fresh memory files.
 *
 * @since 0.1.0
 */
export const layer = (): Layer.Layer<SecretFiles> => layerOf(make())
