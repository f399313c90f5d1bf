/**
 * Typed failures of the reference volume drivers. Each carries the message the daemon shows to the user.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The named volume does not exist.
 *
 * @since 0.1.0
 */
export class VolumeNotFound extends Schema.TaggedError<VolumeNotFound>()("VolumeNotFound", {
  volume: Schema.String
}) {
  override get message() {
    return `no such volume: ${this.volume}`
  }
}

/**
 * A volume of that name exists with different options.
 *
 * @since 0.1.0
 */
export class VolumeConflict extends Schema.TaggedError<VolumeConflict>()("VolumeConflict", {
  volume: Schema.String
}) {
  override get message() {
    return `volume ${this.volume} already exists with different options`
  }
}

/**
 * The volume is mounted and cannot be removed.
 *
 * @since 0.1.0
 */
export class VolumeInUse extends Schema.TaggedError<VolumeInUse>()("VolumeInUse", {
  volume: Schema.String,
  mounts: Schema.Number
}) {
  override get message() {
    return `volume ${this.volume} is in use by ${this.mounts} mount(s)`
  }
}

/**
 * A request field failed validation (bad volume name, unknown or malformed option).
 *
 * @since 0.1.0
 */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>()("InvalidArgument", {
  field: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `invalid ${this.field}: ${this.reason}`
  }
}

/**
 * Any failure of the volume state machine.
 *
 * @since 0.1.0
 */
export type VolumeError = VolumeNotFound | VolumeConflict | VolumeInUse | InvalidArgument
