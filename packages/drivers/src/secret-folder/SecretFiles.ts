/**
 * The file operations `secret-folder` needs, as a service, so the driver runs on the real disk (`SecretFilesNode`)
 * and in memory (`SecretFilesMemory`) with the same code and tests. A lookup answers what it found at a key, and the
 * driver decides what each finding means for the secret.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/**
 * A file operation failed for a reason other than what a lookup reports (permissions, I/O); the message names the
 * operation and the path.
 *
 * @since 0.1.0
 */
export class SecretFilesError extends Schema.TaggedError<SecretFilesError>()("SecretFilesError", {
  operation: Schema.String,
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.operation} ${this.path}: ${this.reason}`
  }
}

/**
 * What a lookup found at a key. `at` is the part of the key (its segments joined by `/`) where the lookup stopped.
 *
 * @since 0.1.0
 */
export type Lookup =
  /** A regular file, and its first bytes: never more than `limit + 1` of them. */
  | { readonly _tag: "Found"; readonly bytes: Uint8Array }
  /** Nothing at `at`. */
  | { readonly _tag: "Missing"; readonly at: string }
  /** A symlink at `at`, not followed (it could point anywhere, the root's outside included). */
  | { readonly _tag: "Symlink"; readonly at: string }
  /**
   * A regular file at `at` with more than one name (`links` hard links), not read: whoever can write in the folder
   * can link into it any file of the same file system they can reach, the root's outside included.
   */
  | { readonly _tag: "HardLinked"; readonly at: string; readonly links: number }
  /** Something other than what the path needs at `at`: a folder for a parent, a regular file for the last part. */
  | { readonly _tag: "WrongKind"; readonly at: string; readonly kind: string; readonly wanted: "folder" | "file" }

/**
 * The operations.
 *
 * @since 0.1.0
 */
export interface Service {
  /** `mkdir -p` (mode 0700 for what it creates: the folder holds secrets); an existing folder is left as it is. */
  readonly makeDirectory: (path: string) => Effect.Effect<void, SecretFilesError>
  /**
   * Reads the file at `segments` under `root` (the root itself may be reached through symlinks: it is the
   * operator's choice), without following a symlink below the root, without reading a file of several hard links,
   * without blocking on a FIFO or a device, and without reading more than `limit + 1` bytes.
   */
  readonly read: (
    root: string,
    segments: ReadonlyArray<string>,
    limit: number
  ) => Effect.Effect<Lookup, SecretFilesError>
}

/**
 * The service key.
 *
 * @since 0.1.0
 */
export class SecretFiles extends Context.Service<SecretFiles, Service>()("@docker-plugin-kit/drivers/SecretFiles") {}
