/**
 * The file operations `log-file` needs, as a service, so the driver runs on the real disk (`LogFilesNode`) and in
 * memory (`LogFilesMemory`) with the same code and tests.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"

/**
 * A file operation failed; the message names the operation and the path.
 *
 * @since 0.1.0
 */
export class LogFilesError extends Data.TaggedError("LogFilesError")<{
  readonly operation: string
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `${this.operation} ${this.path}: ${this.reason}`
  }
}

/**
 * A file opened for reading: its size when opened, and its bytes up to a given end. Renames and removals after
 * the open do not affect it (the open file is what is read).
 *
 * @since 0.1.0
 */
export interface OpenFile {
  readonly size: number
  /** The bytes from the start of the file up to `end`. */
  readonly read: (end: number) => Stream.Stream<Uint8Array, LogFilesError>
}

/**
 * A file opened for appending: its size when opened, and writes at its end (each written whole, in order).
 *
 * @since 0.1.0
 */
export interface AppendFile {
  /** Bytes in the file when it was opened. */
  readonly size: number
  /** The file did not end with a newline when opened: its last record was cut short (a crash, a full disk). */
  readonly unterminated: boolean
  /**
   * Appends `bytes` at the end of the file. The driver reuses the buffer under `bytes` once the write has completed
   * or failed: an implementation that keeps them longer must copy them.
   */
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, LogFilesError>
}

/**
 * The operations.
 *
 * @since 0.1.0
 */
export interface Service {
  /** `mkdir -p`. */
  readonly makeDirectory: (path: string) => Effect.Effect<void, LogFilesError>
  /**
   * Opens a file for appending until the scope closes, creating it (mode 0640) when missing: a container's file
   * stays open between batches, as the engine's json-file keeps it, instead of an open and a close per write.
   */
  readonly openAppend: (path: string) => Effect.Effect<AppendFile, LogFilesError, Scope.Scope>
  /** Renames a file; a missing source is fine. */
  readonly rename: (from: string, to: string) => Effect.Effect<void, LogFilesError>
  /** Removes a file; a missing one is fine. */
  readonly remove: (path: string) => Effect.Effect<void, LogFilesError>
  /** Opens a file for reading until the scope closes; `undefined` when it does not exist. */
  readonly open: (path: string) => Effect.Effect<OpenFile | undefined, LogFilesError, Scope.Scope>
  /**
   * Writes `from` gzip-compressed to `to`, then removes `from`. `to` appears whole or not at all (it is written
   * under another name first), and only then is `from` removed, so a reader always finds one of the two complete.
   */
  readonly compress: (from: string, to: string) => Effect.Effect<void, LogFilesError>
  /**
   * `open` for a gzip-compressed file: `read(end)` yields the bytes decompressed from the file's first `end` bytes
   * (a file that is not gzip fails the stream).
   */
  readonly openCompressed: (path: string) => Effect.Effect<OpenFile | undefined, LogFilesError, Scope.Scope>
}

/**
 * The service key.
 *
 * @since 0.1.0
 */
export class LogFiles extends Context.Service<LogFiles, Service>()("@docker-plugin-kit/drivers/LogFiles") {}
