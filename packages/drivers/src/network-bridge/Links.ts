/**
 * The link operations `network-bridge` needs, as a service: bridges, veth pairs, addresses, state. The driver's
 * rules are written against this interface only, so the same driver runs on the host's links (`LinksNode`, with
 * iproute2) and in memory (`LinksMemory`, no root needed) and both pass the same tests.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/**
 * A link operation failed. The message names the operation and the link, so it can be shown to the user as is.
 *
 * @since 0.1.0
 */
export class LinksError extends Schema.TaggedError<LinksError>()("LinksError", {
  operation: Schema.String,
  name: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.operation} ${this.name}: ${this.reason}`
  }
}

/**
 * A link of the host as `list` reports it.
 *
 * @since 0.1.0
 */
export interface Link {
  readonly name: string
  readonly kind: "bridge" | "veth" | "other"
  readonly mtu: number
  /** Administratively up. */
  readonly up: boolean
  readonly macAddress: string
  /** The bridge the link is a port of. */
  readonly master?: string
  /** The interface alias (`ifalias`): the driver tags its links with it, to find them after a crash. */
  readonly alias?: string
  /** Global-scope addresses, CIDR form. */
  readonly addresses: ReadonlyArray<string>
}

/**
 * A veth pair to create, both ends tagged with `alias`: `host` is attached to `bridge` and brought up;
 * `container` (the end the daemon moves into the container) gets the MAC.
 *
 * @since 0.1.0
 */
export interface VethSpec {
  readonly host: string
  readonly container: string
  readonly bridge: string
  readonly containerMac: string
  readonly mtu?: number
  readonly alias: string
}

/**
 * The operations.
 *
 * @since 0.1.0
 */
export interface Service {
  /** Every link of the host. */
  readonly list: Effect.Effect<ReadonlyArray<Link>, LinksError>
  /** Creates a bridge, tags it with `alias` and brings it up; fails if the name is taken. */
  readonly addBridge: (
    name: string,
    options: { readonly mtu?: number; readonly alias: string }
  ) => Effect.Effect<void, LinksError>
  /** Creates a veth pair; fails if a name is taken. */
  readonly addVeth: (spec: VethSpec) => Effect.Effect<void, LinksError>
  /** Adds an address (CIDR) to a link; an address already there is fine. */
  readonly addAddress: (name: string, cidr: string) => Effect.Effect<void, LinksError>
  /** Makes `name` a port of `bridge` and brings it up (adopting a link found after a restart). */
  readonly attach: (name: string, bridge: string) => Effect.Effect<void, LinksError>
  /** Brings a link up. */
  readonly setUp: (name: string) => Effect.Effect<void, LinksError>
  /** Deletes a link (a veth takes its peer with it); a missing link is fine. */
  readonly remove: (name: string) => Effect.Effect<void, LinksError>
}

/**
 * The service key.
 *
 * @since 0.1.0
 */
export class Links extends Context.Service<Links, Service>()("@docker-plugin-kit/drivers/Links") {}
