/**
 * `LogFiles` in memory, for tests: the same behaviour as the disk, and a switch that stalls every append (a sink
 * that stops keeping up) to check that the container is never blocked.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import { LogFiles, LogFilesError, type Service } from "./LogFiles.ts"

/**
 * Settings of the memory files.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Appends never complete (a stalled disk or remote sink). */
  readonly stallAppends?: boolean
}

/**
 * The files, for tests to inspect.
 *
 * @since 0.1.0
 */
export interface MemoryFiles extends Service {
  /** Contents by path. */
  readonly contents: () => ReadonlyMap<string, string>
}

/**
 * A fresh set of memory files.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): MemoryFiles => {
  const files = new Map<string, Uint8Array>()
  const folders = new Set<string>(["/"])
  const text = new TextDecoder()
  const parentExists = (path: string) => folders.has(Path.dirname(path))
  const missing = (operation: string, path: string) =>
    Effect.fail(new LogFilesError({ operation, path, reason: "ENOENT: no such file or directory" }))
  // Contents are replaced, never changed in place, so holding the current array is a snapshot of the file.
  const openWith = (path: string, content: (bytes: Uint8Array) => Stream.Stream<Uint8Array, LogFilesError>) =>
    Effect.sync(() => {
      const bytes = files.get(path)
      return bytes === undefined
        ? undefined
        : { size: bytes.length, read: (end: number) => content(bytes.subarray(0, Math.max(0, end))) }
    })
  return {
    contents: () => new Map([...files].map(([p, bytes]) => [p, text.decode(bytes)])),
    makeDirectory: (path) =>
      Effect.sync(() => {
        for (let p = Path.resolve(path); !folders.has(p); p = Path.dirname(p)) folders.add(p)
      }),
    openAppend: (path) =>
      Effect.suspend(() => {
        if (!parentExists(path)) return missing("open", path)
        const size = files.get(path)?.length ?? 0
        const unterminated = size > 0 && files.get(path)![size - 1] !== 0x0a
        if (!files.has(path)) files.set(path, new Uint8Array(0))
        // Like an open file: writes go to the file that was opened, even after it is renamed.
        let current = files.get(path)!
        const write = (added: Uint8Array) =>
          options.stallAppends
            ? Effect.never
            : Effect.sync(() => {
                const next = new Uint8Array(current.length + added.length)
                next.set(current)
                next.set(added, current.length)
                for (const [p, bytes] of files) if (bytes === current) files.set(p, next)
                current = next
              })
        return Effect.succeed({ size, unterminated, write })
      }),
    rename: (from, to) =>
      Effect.suspend(() => {
        const bytes = files.get(from)
        if (bytes === undefined) return Effect.void
        if (!parentExists(to)) return missing("rename", to)
        files.delete(from)
        files.set(to, bytes)
        return Effect.void
      }),
    remove: (path) => Effect.sync(() => void files.delete(path)),
    open: (path) => openWith(path, (bytes) => Stream.make(bytes)),
    compress: (from, to) =>
      Effect.suspend(() => {
        const bytes = files.get(from)
        if (bytes === undefined) return missing("compress", from)
        if (!parentExists(to)) return missing("compress", to)
        files.set(to, Zlib.gzipSync(bytes))
        files.delete(from)
        return Effect.void
      }),
    openCompressed: (path) =>
      openWith(path, (bytes) =>
        Stream.fromEffect(
          Effect.try({
            try: () => Zlib.gunzipSync(bytes),
            catch: (error) => new LogFilesError({ operation: "decompress", path, reason: String(error) })
          })
        )
      )
  }
}

/**
 * A Layer over given memory files (a test keeps `files` to look inside).
 *
 * @since 0.1.0
 */
export const layerOf = (files: MemoryFiles): Layer.Layer<LogFiles> => Layer.succeed(LogFiles, files)

/**
 * A Layer over fresh memory files.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<LogFiles> => layerOf(make(options))
