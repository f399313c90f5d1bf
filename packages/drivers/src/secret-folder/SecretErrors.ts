/**
 * Typed failures of `secret-folder`. Each carries the message the plugin answers in `Err`; the swarm manager logs it
 * only at debug level and fails the task with `secret ID not found`, so the driver logs it too (see `SecretFolder`).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The key of a secret (its `key` label, or its name) is not a safe relative path under the root.
 *
 * @since 0.1.0
 */
export class InvalidSecretKey extends Schema.TaggedError<InvalidSecretKey>()("InvalidSecretKey", {
  secret: Schema.String,
  /** Where the key came from: `label key` or `SecretName`. */
  field: Schema.String,
  value: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `secret ${JSON.stringify(this.secret)}: invalid ${this.field} ${JSON.stringify(this.value)}: ${this.reason}`
  }
}

/**
 * A label of the secret that the driver reads has a value it does not understand.
 *
 * @since 0.1.0
 */
export class InvalidSecretLabel extends Schema.TaggedError<InvalidSecretLabel>()("InvalidSecretLabel", {
  secret: Schema.String,
  label: Schema.String,
  value: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `secret ${JSON.stringify(this.secret)}: invalid label ${this.label} ${JSON.stringify(this.value)}: ${this.reason}`
  }
}

/**
 * The secret's `services` label does not name the service the task belongs to.
 *
 * @since 0.1.0
 */
export class SecretAccessDenied extends Schema.TaggedError<SecretAccessDenied>()("SecretAccessDenied", {
  secret: Schema.String,
  /** The requesting service's name (empty when the manager sent none). */
  service: Schema.String,
  /** The services the label allows. */
  allowed: Schema.Array(Schema.String)
}) {
  override get message() {
    const who = this.service === "" ? "a task without a service name" : `service ${JSON.stringify(this.service)}`
    return `secret ${JSON.stringify(this.secret)} is not given to ${who}: its label services allows ${
      this.allowed.length === 0 ? "no service" : this.allowed.join(", ")
    }`
  }
}

/**
 * No file for the secret's key under the root.
 *
 * @since 0.1.0
 */
export class SecretNotFound extends Schema.TaggedError<SecretNotFound>()("SecretNotFound", {
  secret: Schema.String,
  key: Schema.String,
  /** The first part of the key that does not exist (the key itself, or one of its folders). */
  missing: Schema.String
}) {
  override get message() {
    return `secret ${JSON.stringify(this.secret)}: no file ${JSON.stringify(this.key)} under the secrets folder${
      this.missing === this.key ? "" : ` (${JSON.stringify(this.missing)} does not exist)`
    }`
  }
}

/**
 * The secret's file exists but is not served: a symlink on its path, something other than a regular file (a
 * folder, a FIFO, a device), a file of several hard links, or a size the swarm manager refuses (empty, or 500 KiB or
 * more).
 *
 * @since 0.1.0
 */
export class SecretFileRefused extends Schema.TaggedError<SecretFileRefused>()("SecretFileRefused", {
  secret: Schema.String,
  key: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `secret ${JSON.stringify(this.secret)}: file ${JSON.stringify(this.key)} is refused: ${this.reason}`
  }
}

/**
 * Every failure of a `GetSecret` call (besides `SecretFilesError`, an unexpected error of the disk).
 *
 * @since 0.1.0
 */
export type SecretError =
  | InvalidSecretKey
  | InvalidSecretLabel
  | SecretAccessDenied
  | SecretNotFound
  | SecretFileRefused
