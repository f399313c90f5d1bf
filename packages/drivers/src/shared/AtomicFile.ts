/**
 * Crash-safe file replacement on a real disk, for every driver that persists state: a file is replaced so that a
 * crash at any moment leaves either its old or its new content, never a mix, and a removal survives a crash.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import type * as PlatformError from "effect/PlatformError"
import * as Schema from "effect/Schema"
import * as Crypto from "node:crypto"
import * as Path from "node:path"

/**
 * One step of an atomic write or a durable removal failed; the message names the step and the path.
 *
 * @since 0.1.0
 */
export class AtomicFileError extends Schema.TaggedError<AtomicFileError>()("AtomicFileError", {
  operation: Schema.String,
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.operation} ${this.path}: ${this.reason}`
  }
}

/**
 * The readable reason of a platform error (the system's message when there is one, e.g. `ENOSPC: ...`).
 *
 * @since 0.1.0
 */
export const reasonOf = (error: PlatformError.PlatformError): string => {
  const cause = error.reason.cause
  if (cause instanceof Error) return cause.message
  return error.reason.description ?? error.reason._tag
}

const fail = (operation: string, path: string) => (error: PlatformError.PlatformError) =>
  new AtomicFileError({ operation, path, reason: reasonOf(error) })

/**
 * fsync of a folder: makes the renames and unlinks inside it durable (a rename alone may be lost in a crash).
 *
 * @since 0.1.0
 */
export const syncDirectory = (dir: string): Effect.Effect<void, AtomicFileError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    Effect.scoped(Effect.flatMap(fs.open(dir, { flag: "r" }), (file) => file.sync)).pipe(
      Effect.mapError(fail("fsync", dir))
    )
  )

/**
 * Replaces `path` with `content`: write a new temporary file in `tmpDir` (which must be on the same filesystem, so
 * the rename is atomic; created if missing), fsync it, rename it over `path`, fsync `path`'s folder. The file is
 * created with mode 0600: state files may hold secrets (options, credentials) of the objects they describe.
 *
 * @since 0.1.0
 */
export const write = (
  path: string,
  content: string | Uint8Array,
  tmpDir: string
): Effect.Effect<void, AtomicFileError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const tmp = Path.join(tmpDir, `${Crypto.randomUUID()}.tmp`)
    yield* fs.makeDirectory(tmpDir, { recursive: true }).pipe(Effect.mapError(fail("mkdir", tmpDir)))
    yield* Effect.scoped(
      Effect.gen(function* () {
        const file = yield* fs.open(tmp, { flag: "wx", mode: 0o600 })
        yield* file.writeAll(typeof content === "string" ? new TextEncoder().encode(content) : content)
        yield* file.sync
      })
    ).pipe(
      Effect.mapError(fail("write", tmp)),
      Effect.tapError(() => fs.remove(tmp, { force: true }).pipe(Effect.ignore))
    )
    yield* fs.rename(tmp, path).pipe(
      Effect.mapError(fail("rename", path)),
      Effect.tapError(() => fs.remove(tmp, { force: true }).pipe(Effect.ignore))
    )
    yield* syncDirectory(Path.dirname(path))
  })

/**
 * Removes a file (a missing one is fine) and fsyncs its folder, so the removal survives a crash.
 *
 * @since 0.1.0
 */
export const remove = (path: string): Effect.Effect<void, AtomicFileError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    fs
      .remove(path, { force: true })
      .pipe(Effect.mapError(fail("remove", path)), Effect.andThen(syncDirectory(Path.dirname(path))))
  )
