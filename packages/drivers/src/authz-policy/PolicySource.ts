/**
 * Where `authz-policy` gets its policy text and learns that it changed, as a service: a file plus SIGHUP on the
 * host (`PolicySourceNode`), or a value tests set (`PolicySourceMemory`). The driver's rules (what to keep when a
 * new policy is bad, how to decide) are written against this interface only.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"

/**
 * The policy text could not be read.
 *
 * @since 0.1.0
 */
export class PolicyUnreadable extends Schema.TaggedError<PolicyUnreadable>()("PolicyUnreadable", {
  source: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot read the policy ${this.source}: ${this.reason}`
  }
}

/**
 * The operations.
 *
 * @since 0.1.0
 */
export interface Service {
  /** Where the policy comes from, for messages (the file path). */
  readonly location: string
  /** The current text. */
  readonly read: Effect.Effect<string, PolicyUnreadable>
  /** One element each time the policy may have changed, saying why (`SIGHUP`, `file changed`). */
  readonly changes: Stream.Stream<string>
}

/**
 * The service key.
 *
 * @since 0.1.0
 */
export class PolicySource extends Context.Service<PolicySource, Service>()("@docker-plugin-kit/drivers/PolicySource") {}
