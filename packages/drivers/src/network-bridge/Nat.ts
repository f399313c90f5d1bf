/**
 * The NAT operations `network-bridge` needs to publish ports and masquerade networks, as a service: a chain of this
 * plugin instance's own in the `nat` table (jumped to for traffic to the host's addresses) holding one DNAT rule per
 * published port, and MASQUERADE rules in `POSTROUTING`. Every rule carries a comment naming the instance and the
 * endpoint or network it was made for, so start-up tells this instance's rules from everyone else's. The driver's
 * rules are written against this interface only, so the same driver runs on the host's iptables (`NatNode`) and in
 * memory (`NatMemory`, no root needed).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/**
 * A NAT operation failed. The message names the operation and the rule or chain, so it can be shown as is.
 *
 * @since 0.1.0
 */
export class NatError extends Schema.TaggedError<NatError>()("NatError", {
  operation: Schema.String,
  name: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.operation} ${this.name}: ${this.reason}`
  }
}

/**
 * One published port: traffic to `hostPort` (on `hostIp`, or on every address of the host when absent) is sent to
 * `destination` (`IP:PORT` of the container).
 *
 * @since 0.1.0
 */
export interface DnatRule {
  readonly proto: "tcp" | "udp"
  readonly hostIp?: string
  readonly hostPort: number
  readonly destination: string
  readonly comment: string
}

/**
 * Outbound NAT of a network: traffic from `source` (the subnet) leaving through any interface but `bridge`.
 *
 * @since 0.1.0
 */
export interface MasqueradeRule {
  readonly source: string
  readonly bridge: string
  readonly comment: string
}

/**
 * The rules of an instance found in the table.
 *
 * @since 0.1.0
 */
export interface Found {
  /** The rules of the instance's chain, `undefined` when there is no such chain. */
  readonly dnat: ReadonlyArray<DnatRule> | undefined
  /** The MASQUERADE rules carrying the instance's comment. */
  readonly masquerade: ReadonlyArray<MasqueradeRule>
}

/**
 * The operations. Adding a rule that is there already, and removing one (or a chain) that is not, are fine.
 *
 * @since 0.1.0
 */
export interface Service {
  /** Fails, with a message saying what is missing, when NAT cannot be done on this host (no iptables, no rights). */
  readonly check: Effect.Effect<void, NatError>
  /**
   * The rules of an instance, read in one listing of the table: the DNAT rules in `chain` and the MASQUERADE rules of
   * `POSTROUTING` whose comment starts with `commentPrefix`, each of the shape `addDnat`/`addMasquerade` write (a
   * rule with more to it is not listed).
   */
  readonly list: (chain: string, commentPrefix: string) => Effect.Effect<Found, NatError>
  /**
   * Creates `chain` and the jumps to it from `PREROUTING` and `OUTPUT` (for traffic to the host's own addresses),
   * each unless there already.
   */
  readonly ensureChain: (chain: string) => Effect.Effect<void, NatError>
  /** Removes the jumps to `chain`, its rules and the chain itself. */
  readonly removeChain: (chain: string) => Effect.Effect<void, NatError>
  /** Appends `rule` to `chain`. */
  readonly addDnat: (chain: string, rule: DnatRule) => Effect.Effect<void, NatError>
  /** Deletes `rule` from `chain`, every copy of it. */
  readonly removeDnat: (chain: string, rule: DnatRule) => Effect.Effect<void, NatError>
  /** Appends `rule` to `POSTROUTING`. */
  readonly addMasquerade: (rule: MasqueradeRule) => Effect.Effect<void, NatError>
  /** Deletes `rule` from `POSTROUTING`, every copy of it. */
  readonly removeMasquerade: (rule: MasqueradeRule) => Effect.Effect<void, NatError>
}

/**
 * The service key.
 *
 * @since 0.1.0
 */
export class Nat extends Context.Service<Nat, Service>()("@docker-plugin-kit/drivers/Nat") {}

/**
 * A key telling two DNAT rules apart (same key, same rule).
 *
 * @since 0.1.0
 */
export const dnatKey = (rule: DnatRule): string =>
  [rule.proto, rule.hostIp ?? "", rule.hostPort, rule.destination, rule.comment].join(" ")

/**
 * A key telling two MASQUERADE rules apart.
 *
 * @since 0.1.0
 */
export const masqueradeKey = (rule: MasqueradeRule): string => [rule.source, rule.bridge, rule.comment].join(" ")
