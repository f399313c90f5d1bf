/**
 * What can go wrong while reading, applying or writing a layer tar. Each error names the entry or path at fault,
 * so its message can be answered to the daemon as is.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * A tar entry that would write outside the target folder, or that cannot be applied safely: `../` or absolute
 * names, a path through a symlink, a hard link to outside, a whiteout naming a parent, an over-long name.
 * Nothing of that entry is written.
 *
 * @since 0.1.0
 */
export class UnsafeEntry extends Data.TaggedError("UnsafeEntry")<{
  readonly name: string
  readonly reason: string
}> {
  override get message() {
    return `refused tar entry ${JSON.stringify(this.name)}: ${this.reason}`
  }
}

/**
 * The bytes are not a complete tar: a bad header, or a stream that ends inside an entry or before the
 * end-of-archive blocks.
 *
 * @since 0.1.0
 */
export class MalformedTar extends Data.TaggedError("MalformedTar")<{
  readonly reason: string
}> {
  override get message() {
    return `malformed layer tar: ${this.reason}`
  }
}

/**
 * A filesystem operation failed while applying or reading a layer.
 *
 * @since 0.1.0
 */
export class LayerIoError extends Data.TaggedError("LayerIoError")<{
  readonly operation: string
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `${this.operation} ${this.path}: ${this.reason}`
  }
}

/**
 * Every failure of the layer-tar toolkit.
 *
 * @since 0.1.0
 */
export type LayerTarError = UnsafeEntry | MalformedTar | LayerIoError

/**
 * Turns a thrown Node error into a `LayerIoError` naming the operation and path.
 *
 * @since 0.1.0
 */
export const ioError =
  (operation: string, path: string) =>
  (cause: unknown): LayerIoError =>
    new LayerIoError({ operation, path, reason: cause instanceof Error ? cause.message : String(cause) })
