/**
 * `LogFiles` on the real disk.
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import { pipeline } from "node:stream/promises"
import * as Zlib from "node:zlib"
import { LogFiles, LogFilesError, type OpenFile } from "./LogFiles.ts"

const reasonOf = (error: unknown) =>
  (error as NodeJS.ErrnoException).code === "ELOOP"
    ? "it is a symlink; log files are never opened through one (it could point anywhere)"
    : error instanceof Error
      ? error.message
      : String(error)

// A symlink where a log file would be is refused, not followed: appending through it would write outside the
// log folder, and reading through it would serve any file to `docker logs`.
// `O_NONBLOCK` (no effect on a regular file): opening a FIFO planted there would otherwise wait for its other end,
// parking a thread of Node's small pool for good; it opens at once, and `openRegular` refuses it.
const { O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY } = Fs.constants
// Read too: the last byte says whether the last record was written whole.
const appendFlags = O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK
const readFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK
const createFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
const newline = 0x0a
const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === "ENOENT"

/**
 * Opens `path`, which must be a regular file: a FIFO, a device or a folder in a log file's place is refused (reading
 * one would never end, or fail in the middle of a `docker logs` answer). Answers the handle and the file's size.
 */
const openRegular = async (path: string, flags: number, mode?: number) => {
  const handle = await Fs.promises.open(path, flags, mode)
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw new Error("not a regular file; only regular files are log files")
    return { handle, size: info.size }
  } catch (error) {
    await handle.close().catch(() => {})
    throw error
  }
}

const attempt = <A>(operation: string, path: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (error) => new LogFilesError({ operation, path, reason: reasonOf(error) }) })

const ignoringMissing =
  <A>(run: () => Promise<A>) =>
  async () => {
    try {
      return await run()
    } catch (error) {
      if (isMissing(error)) return undefined
      throw error
    }
  }

/** Opens `path` for reading; `content` turns the file's bytes into what `read` yields. */
const openWith = (
  path: string,
  content: (bytes: Stream.Stream<Uint8Array, LogFilesError>) => Stream.Stream<Uint8Array, LogFilesError>
) =>
  Effect.acquireRelease(
    attempt(
      "open",
      path,
      ignoringMissing(() => openRegular(path, readFlags))
    ),
    // A failed close of a read-only handle loses nothing.
    (opened) => (opened === undefined ? Effect.void : Effect.promise(() => opened.handle.close().catch(() => {})))
  ).pipe(
    Effect.map((opened): OpenFile | undefined =>
      opened === undefined
        ? undefined
        : {
            size: opened.size,
            read: (end: number) =>
              end <= 0
                ? Stream.empty
                : content(
                    NodeStream.fromReadable<Uint8Array, LogFilesError>({
                      evaluate: () =>
                        opened.handle.createReadStream({ start: 0, end: end - 1, autoClose: false, emitClose: false }),
                      onError: (error) => new LogFilesError({ operation: "read", path, reason: reasonOf(error) })
                    })
                  )
          }
    )
  )

/**
 * Compresses `from` into `to` through `to.tmp` (a leftover of a compression cut short is replaced), streamed with
 * flat memory, then removes `from`. Neither end is opened through a symlink, and the rename replaces whatever is at
 * `to` without following it.
 */
const compressFile = async (from: string, to: string) => {
  const temporary = `${to}.tmp`
  await Fs.promises.rm(temporary, { force: true })
  const { handle: source } = await openRegular(from, readFlags)
  let target: Fs.promises.FileHandle
  try {
    target = await Fs.promises.open(temporary, createFlags, 0o640)
  } catch (error) {
    await source.close()
    throw error
  }
  try {
    // Each stream closes its handle when it ends or fails.
    await pipeline(source.createReadStream(), Zlib.createGzip(), target.createWriteStream())
  } catch (error) {
    await Fs.promises.rm(temporary, { force: true }).catch(() => {})
    throw error
  }
  await Fs.promises.rename(temporary, to)
  await Fs.promises.rm(from, { force: true })
}

/**
 * The real-disk Layer.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<LogFiles> = Layer.succeed(
  LogFiles,
  LogFiles.of({
    makeDirectory: (path) =>
      attempt("mkdir", path, () => Fs.promises.mkdir(path, { recursive: true, mode: 0o750 })).pipe(Effect.asVoid),
    openAppend: (path) =>
      Effect.acquireRelease(
        attempt("open", path, async () => {
          const { handle, size } = await openRegular(path, appendFlags, 0o640)
          try {
            const last = new Uint8Array(1)
            if (size > 0) await handle.read(last, 0, 1, size - 1)
            return { handle, size, unterminated: size > 0 && last[0] !== newline }
          } catch (error) {
            await handle.close().catch(() => {})
            throw error
          }
        }),
        // The handle closes once its pending writes are done; a failed close loses nothing written.
        ({ handle }) => Effect.promise(() => handle.close().catch(() => {}))
      ).pipe(
        Effect.map(({ handle, size, unterminated }) => ({
          size,
          unterminated,
          write: (bytes: Uint8Array) =>
            attempt("append", path, async () => {
              // A regular file takes a write whole but on errors; loop anyway rather than lose the tail.
              for (let at = 0; at < bytes.length; ) {
                at += (await handle.write(bytes, at, bytes.length - at, null)).bytesWritten
              }
            })
        }))
      ),
    rename: (from, to) =>
      attempt(
        "rename",
        from,
        ignoringMissing(() => Fs.promises.rename(from, to))
      ),
    remove: (path) => attempt("remove", path, () => Fs.promises.rm(path, { force: true })),
    open: (path) => openWith(path, (bytes) => bytes),
    compress: (from, to) => attempt("compress", from, () => compressFile(from, to)),
    openCompressed: (path) =>
      openWith(path, (bytes) =>
        bytes.pipe(
          NodeStream.pipeThroughDuplex({
            evaluate: () => Zlib.createGunzip(),
            onError: (error) => new LogFilesError({ operation: "decompress", path, reason: reasonOf(error) })
          })
        )
      )
  })
)
