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
import * as AtomicFile from "../shared/AtomicFile.ts"
import * as FolderOwner from "../shared/FolderOwner.ts"
import { StateFolderInUse } from "../shared/StateFiles.ts"
import { type Entry, notAFolder, VolumeFs, VolumeFsError } from "./VolumeFs.ts"

const fail = (operation: string, path: string) => (error: PlatformError.PlatformError) =>
  new VolumeFsError({ operation, path, reason: AtomicFile.reasonOf(error) })

// The shared atomic steps fail with the step and path; the port reports them as its own error.
const asVolumeFsError = ({ operation, path, reason }: AtomicFile.AtomicFileError) =>
  new VolumeFsError({ operation, path, reason })

const isNotFound = (error: PlatformError.PlatformError) => error.reason._tag === "NotFound"

/**
 * Builds the service over a `FileSystem`.
 *
 * @since 0.1.0
 */
export const make = Effect.map(FileSystem.FileSystem, (fs) => {
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
        if (settings.uid === undefined && settings.gid === undefined && settings.mode === undefined) return
        // `mkdir -p` succeeds on a symlink to a folder, and chown/chmod follow it: a link planted at the path (to
        // /etc, say) would have its target's owner and mode changed.
        const current = yield* stat(path)
        if (current?.type !== "Directory") {
          return yield* new VolumeFsError({ operation: "mkdir", path, reason: notAFolder })
        }
        if (settings.uid !== undefined || settings.gid !== undefined) {
          yield* fs
            .chown(path, settings.uid ?? current.uid, settings.gid ?? current.gid)
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
    realPath: (path) => fs.realPath(path).pipe(Effect.mapError(fail("realpath", path))),
    readFile: (path) => fs.readFileString(path).pipe(Effect.mapError(fail("read", path))),
    writeFileAtomic: (path, content, tmpDir) =>
      AtomicFile.write(path, content, tmpDir).pipe(
        Effect.mapError(asVolumeFsError),
        Effect.provideService(FileSystem.FileSystem, fs)
      ),
    removeFile: (path) =>
      AtomicFile.remove(path).pipe(Effect.mapError(asVolumeFsError), Effect.provideService(FileSystem.FileSystem, fs)),
    // The owner file is written with node:fs, not through `fs`: the claim needs an exclusive create (see
    // `FolderOwner`), which Effect's FileSystem does not offer as one step.
    claimFolder: (path) =>
      FolderOwner.claimScoped(path).pipe(
        Effect.asVoid,
        Effect.mapError((e) =>
          e._tag === "FolderOwnerError"
            ? new VolumeFsError({ operation: e.operation, path: e.path, reason: e.reason })
            : new StateFolderInUse({ folder: path, owner: e.owner, inThisProcess: e.inThisProcess })
        )
      )
  })
})

/**
 * The real-disk Layer.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<VolumeFs> = Layer.effect(VolumeFs, make).pipe(Layer.provide(NodeFileSystem.layer))
