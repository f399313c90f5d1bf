/**
 * The filesystem operations `volume-local` needs, as a service. The driver's rules (state machine, persistence
 * order, reconciliation) are written against this interface only, so the same driver runs on the real disk
 * (`VolumeFsNode`) and in memory (`VolumeFsMemory`) and both pass the same tests.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { StateFolderInUse } from "../shared/StateFiles.ts"

/**
 * A filesystem operation failed. The message names the operation and the path, so it can be shown to the user
 * as is.
 *
 * @since 0.1.0
 */
export class VolumeFsError extends Schema.TaggedError<VolumeFsError>()("VolumeFsError", {
  operation: Schema.String,
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.operation} ${this.path}: ${this.reason}`
  }
}

/**
 * Ownership and permissions to apply to a folder; absent fields are left as they are.
 *
 * @since 0.1.0
 */
export interface FolderSettings {
  readonly uid?: number
  readonly gid?: number
  readonly mode?: number
}

/**
 * What `stat` reports.
 *
 * @since 0.1.0
 */
export interface Entry {
  readonly type: "File" | "Directory" | "Other"
  /** Permission bits (`mode & 0o7777`). */
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly modifiedAt: Date
}

/**
 * Why a volume's path holding something other than a folder is refused (`makeDirectory`, and the driver's checks
 * before it hands a path out).
 *
 * @since 0.1.0
 */
export const notAFolder = "it is not a folder (a symlink or a file is in its place)"

/**
 * The operations.
 *
 * @since 0.1.0
 */
export interface Service {
  /**
   * `mkdir -p`, then chmod/chown the last component as asked (chmod bypasses the umask). With settings, anything
   * but a folder at the path (a symlink included, which chmod/chown would follow) fails instead.
   */
  readonly makeDirectory: (path: string, settings?: FolderSettings) => Effect.Effect<void, VolumeFsError>
  /** `rm -rf`; a missing path is fine. */
  readonly removeTree: (path: string) => Effect.Effect<void, VolumeFsError>
  /** Names in a folder; a missing folder has none. */
  readonly readDirectory: (path: string) => Effect.Effect<ReadonlyArray<string>, VolumeFsError>
  /** The entry at a path (symlinks are not followed), or `undefined` when there is none. */
  readonly stat: (path: string) => Effect.Effect<Entry | undefined, VolumeFsError>
  /**
   * The path of an existing entry with every symlink resolved (`realpath`): the driver compares its root and state
   * folder through it, as a state folder reached through a symlink may be inside the root all the same.
   */
  readonly realPath: (path: string) => Effect.Effect<string, VolumeFsError>
  /** A file's content as UTF-8 text. */
  readonly readFile: (path: string) => Effect.Effect<string, VolumeFsError>
  /**
   * Replaces a file so that a crash at any moment leaves either the old or the new content, never a mix:
   * write a temporary file in `tmpDir` (same filesystem), fsync it, rename it over `path`, fsync the folder.
   */
  readonly writeFileAtomic: (path: string, content: string, tmpDir: string) => Effect.Effect<void, VolumeFsError>
  /** Removes a file (missing is fine) and fsyncs its folder so the removal is durable. */
  readonly removeFile: (path: string) => Effect.Effect<void, VolumeFsError>
  /**
   * Claims a state folder (made if missing) for this process until the scope closes: refused while another live
   * process, or another driver of this process, has it (see `FolderOwner`). Two drivers on one state folder would
   * overwrite each other's state files. Part of the port because only the port knows where the folder really is.
   */
  readonly claimFolder: (path: string) => Effect.Effect<void, VolumeFsError | StateFolderInUse, Scope.Scope>
}

/**
 * The service key.
 *
 * @since 0.1.0
 */
export class VolumeFs extends Context.Service<VolumeFs, Service>()("@docker-plugin-kit/drivers/VolumeFs") {}
