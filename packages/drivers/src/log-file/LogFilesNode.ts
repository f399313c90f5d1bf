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
import { LogFiles, LogFilesError } from "./LogFiles.ts"

const reasonOf = (error: unknown) =>
  (error as NodeJS.ErrnoException).code === "ELOOP"
    ? "it is a symlink; log files are never opened through one (it could point anywhere)"
    : error instanceof Error
      ? error.message
      : String(error)

// A symlink where a log file would be is refused, not followed: appending through it would write outside the
// log folder, and reading through it would serve any file to `docker logs`.
const { O_APPEND, O_CREAT, O_NOFOLLOW, O_RDONLY, O_WRONLY } = Fs.constants
const appendFlags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW
const readFlags = O_RDONLY | O_NOFOLLOW
const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === "ENOENT"

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
          const handle = await Fs.promises.open(path, appendFlags, 0o640)
          try {
            return { handle, size: (await handle.stat()).size }
          } catch (error) {
            await handle.close().catch(() => {})
            throw error
          }
        }),
        // The handle closes once its pending writes are done; a failed close loses nothing written.
        ({ handle }) => Effect.promise(() => handle.close().catch(() => {}))
      ).pipe(
        Effect.map(({ handle, size }) => ({
          size,
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
    open: (path) =>
      Effect.acquireRelease(
        attempt(
          "open",
          path,
          ignoringMissing(async () => {
            const handle = await Fs.promises.open(path, readFlags)
            return { handle, size: (await handle.stat()).size }
          })
        ),
        // A failed close of a read-only handle loses nothing.
        (opened) => (opened === undefined ? Effect.void : Effect.promise(() => opened.handle.close().catch(() => {})))
      ).pipe(
        Effect.map((opened) =>
          opened === undefined
            ? undefined
            : {
                size: opened.size,
                read: (end: number) =>
                  end <= 0
                    ? Stream.empty
                    : NodeStream.fromReadable<Uint8Array, LogFilesError>({
                        evaluate: () =>
                          opened.handle.createReadStream({
                            start: 0,
                            end: end - 1,
                            autoClose: false,
                            emitClose: false
                          }),
                        onError: (error) => new LogFilesError({ operation: "read", path, reason: reasonOf(error) })
                      })
              }
        )
      )
  })
)
