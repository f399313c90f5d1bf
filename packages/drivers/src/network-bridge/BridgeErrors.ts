/**
 * Typed failures of `network-bridge`. Each carries the message the daemon shows to the user.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A network option (`docker network create -o KEY=VALUE`) or another request field is unusable.
 *
 * @since 0.1.0
 */
export class InvalidOption extends Schema.TaggedError<InvalidOption>()("InvalidOption", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

/**
 * The network is not known to the driver.
 *
 * @since 0.1.0
 */
export class NetworkNotFound extends Schema.TaggedError<NetworkNotFound>()("NetworkNotFound", {
  network: Schema.String
}) {
  override get message() {
    return `no such network: ${this.network}`
  }
}

/**
 * A network with that ID exists with other settings, or its bridge name is taken.
 *
 * @since 0.1.0
 */
export class NetworkConflict extends Schema.TaggedError<NetworkConflict>()("NetworkConflict", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

/**
 * The network still has endpoints and cannot be deleted.
 *
 * @since 0.1.0
 */
export class NetworkInUse extends Schema.TaggedError<NetworkInUse>()("NetworkInUse", {
  network: Schema.String,
  endpoints: Schema.Array(Schema.String)
}) {
  override get message() {
    return `network ${this.network} still has ${this.endpoints.length} endpoint(s): ${this.endpoints.join(", ")}`
  }
}

/**
 * The endpoint is not known on that network.
 *
 * @since 0.1.0
 */
export class EndpointNotFound extends Schema.TaggedError<EndpointNotFound>()("EndpointNotFound", {
  network: Schema.String,
  endpoint: Schema.String
}) {
  override get message() {
    return `no such endpoint ${this.endpoint} on network ${this.network}`
  }
}

/**
 * An endpoint with that ID already exists.
 *
 * @since 0.1.0
 */
export class EndpointExists extends Schema.TaggedError<EndpointExists>()("EndpointExists", {
  endpoint: Schema.String
}) {
  override get message() {
    return `endpoint ${this.endpoint} already exists`
  }
}

/**
 * A port binding (`docker run -p`) the driver cannot publish: `binding` as `docker run -p` spells it, `reason` why
 * and what to give instead.
 *
 * @since 0.1.0
 */
export class PortRefused extends Schema.TaggedError<PortRefused>()("PortRefused", {
  endpoint: Schema.String,
  binding: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `network-bridge cannot publish ${this.binding}: ${this.reason}`
  }
}

/**
 * A host port this plugin instance publishes already for another endpoint.
 *
 * @since 0.1.0
 */
export class PortConflict extends Schema.TaggedError<PortConflict>()("PortConflict", {
  endpoint: Schema.String,
  binding: Schema.String,
  other: Schema.String,
  otherBinding: Schema.String
}) {
  override get message() {
    return `network-bridge cannot publish ${this.binding} for endpoint ${this.endpoint}: the host port is published already as ${this.otherBinding} for endpoint ${this.other}; give another host port`
  }
}

/**
 * Every failure of the state machine.
 *
 * @since 0.1.0
 */
export type BridgeError =
  | InvalidOption
  | NetworkNotFound
  | NetworkConflict
  | NetworkInUse
  | EndpointNotFound
  | EndpointExists
  | PortRefused
  | PortConflict
