/**
 * `VolumeFs` on the real disk, through Effect's `FileSystem` (Node implementation).
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as PlatformError from "effect/PlatformError"
import * as Crypto from "node:crypto"
import * as Path from "node:path"
import { type Entry, VolumeFs, VolumeFsError } from "./VolumeFs.ts"

const describe = (error: PlatformError.PlatformError): string => {
  const cause = error.reason.cause
  if (cause instanceof Error) return cause.message
  return error.reason.description ?? error.reason._tag
}

const fail = (operation: string, path: string) => (error: PlatformError.PlatformError) =>
  new VolumeFsError({ operation, path, reason: describe(error) })

const isNotFound = (error: PlatformError.PlatformError) => error.reason._tag === "NotFound"

/**
 * Builds the service over a `FileSystem`.
 *
 * @since 0.1.0
 */
export const make = Effect.map(FileSystem.FileSystem, (fs) => {
  // fsync of a folder makes the renames and unlinks inside it durable (a rename alone may be lost in a crash).
  const syncDirectory = (dir: string) =>
    Effect.scoped(Effect.flatMap(fs.open(dir, { flag: "r" }), (file) => file.sync)).pipe(
      Effect.mapError(fail("fsync", dir))
    )

  const stat = (path: string): Effect.Effect<Entry | undefined, VolumeFsError> =>
    fs.lstat(path).pipe(
      Effect.map(
        (info): Entry => ({
          type: info.type === "File" ? "File" : info.type === "Directory" ? "Directory" : "Other",
          mode: info.mode & 0o7777,
          uid: Option.getOrElse(info.uid, () => 0),
          gid: Option.getOrElse(info.gid, () => 0),
          modifiedAt: Option.getOrElse(info.mtime, () => new Date(0))
        })
      ),
      Effect.catchIf(isNotFound, () => Effect.succeed(undefined)),
      Effect.mapError(fail("stat", path))
    )

  return VolumeFs.of({
    makeDirectory: (path, settings = {}) =>
      Effect.gen(function* () {
        yield* fs.makeDirectory(path, { recursive: true }).pipe(Effect.mapError(fail("mkdir", path)))
        if (settings.uid !== undefined || settings.gid !== undefined) {
          const current = yield* stat(path)
          yield* fs
            .chown(path, settings.uid ?? current?.uid ?? 0, settings.gid ?? current?.gid ?? 0)
            .pipe(Effect.mapError(fail("chown", path)))
        }
        // After chown: chown clears the setuid/setgid bits a mode may ask for.
        if (settings.mode !== undefined) {
          yield* fs.chmod(path, settings.mode).pipe(Effect.mapError(fail("chmod", path)))
        }
      }),
    removeTree: (path) => fs.remove(path, { recursive: true, force: true }).pipe(Effect.mapError(fail("remove", path))),
    readDirectory: (path) =>
      fs.readDirectory(path).pipe(
        Effect.catchIf(isNotFound, () => Effect.succeed([])),
        Effect.mapError(fail("readdir", path))
      ),
    stat,
    readFile: (path) => fs.readFileString(path).pipe(Effect.mapError(fail("read", path))),
    writeFileAtomic: (path, content, tmpDir) =>
      Effect.gen(function* () {
        const tmp = Path.join(tmpDir, `${Crypto.randomUUID()}.tmp`)
        yield* fs.makeDirectory(tmpDir, { recursive: true }).pipe(Effect.mapError(fail("mkdir", tmpDir)))
        yield* Effect.scoped(
          Effect.gen(function* () {
            const file = yield* fs.open(tmp, { flag: "wx", mode: 0o600 })
            yield* file.writeAll(new TextEncoder().encode(content))
            yield* file.sync
          })
        ).pipe(Effect.mapError(fail("write", tmp)))
        yield* fs.rename(tmp, path).pipe(
          Effect.mapError(fail("rename", path)),
          Effect.tapError(() => fs.remove(tmp, { force: true }).pipe(Effect.ignore))
        )
        yield* syncDirectory(Path.dirname(path))
      }),
    removeFile: (path) =>
      fs
        .remove(path, { force: true })
        .pipe(Effect.mapError(fail("remove", path)), Effect.andThen(syncDirectory(Path.dirname(path))))
  })
})

/**
 * The real-disk Layer.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<VolumeFs> = Layer.effect(VolumeFs, make).pipe(Layer.provide(NodeFileSystem.layer))
