/**
 * Errors a driver reports back to the daemon.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * What every driver failure must carry: a tag (so Effect code can tell failures apart) and a message (the text
 * the daemon shows to the user in `Err`).
 *
 * Drivers are free to fail with their own tagged errors (`VolumeNotFound`, `VolumeInUse`, ...) as long as
 * they have this shape.
 *
 * @since 0.1.0
 */
export interface DriverFailure {
  readonly _tag: string
  readonly message: string
}

/**
 * A generic driver failure, for drivers that do not need a class of their own per error.
 *
 * @since 0.1.0
 */
export class DriverError extends Schema.TaggedError<DriverError>()("DriverError", {
  message: Schema.String
}) {}

/**
 * A request body stream that broke while the driver was reading it (client went away, bad chunking).
 *
 * @since 0.1.0
 */
export class BodyError extends Schema.TaggedError<BodyError>()("BodyError", {
  message: Schema.String
}) {}
