/**
 * The iptables operations `network-bridge` needs to publish ports and masquerade networks, as a service: a chain of
 * this plugin instance's own in the `nat` table (jumped to for traffic to the host's addresses) holding one DNAT rule
 * per published port, MASQUERADE rules in `POSTROUTING`, and a chain of its own in the `filter` table (jumped to from
 * `FORWARD`, right after `DOCKER-USER`) accepting the forwarded traffic of those ports and networks, which a host
 * whose `FORWARD` policy is `DROP` (every host running the engine's own bridge driver) would drop otherwise. Every
 * rule carries a comment naming the instance and the endpoint or network it was made for, so start-up tells this
 * instance's rules from everyone else's. The driver's rules are written against this interface only, so the same
 * driver runs on the host's iptables (`NatNode`) and in memory (`NatMemory`, no root needed).
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
 * One rule of the instance's `filter` chain, each an `ACCEPT` of forwarded traffic:
 *
 * - `outbound`: leaving the bridge for another interface (`-i BRIDGE ! -o BRIDGE`), for a masqueraded network;
 * - `return`: coming back to the bridge on a connection it made (`-o BRIDGE -m conntrack --ctstate
 *   RELATED,ESTABLISHED`), for a masqueraded network;
 * - `within`: from the bridge to the bridge (`-i BRIDGE -o BRIDGE`), which a host with `br_netfilter` sends through
 *   `FORWARD` too, for a masqueraded network;
 * - `reply`: the answers of a published port's container (`-i BRIDGE ! -o BRIDGE -m conntrack --ctstate
 *   RELATED,ESTABLISHED`), for a network that publishes without masquerading (`outbound` covers them otherwise);
 * - `port`: to a published port of a container (`-d DESTINATION ! -i BRIDGE -o BRIDGE -p PROTO --dport PORT`), the
 *   container's side of the DNAT rule.
 *
 * @since 0.1.0
 */
export type ForwardRule =
  | {
      readonly kind: "outbound" | "return" | "within" | "reply"
      readonly bridge: string
      readonly comment: string
    }
  | {
      readonly kind: "port"
      readonly bridge: string
      /** The container's IPv4 address. */
      readonly destination: string
      readonly proto: "tcp" | "udp"
      /** The container's port. */
      readonly port: number
      readonly comment: string
    }

/**
 * The rules of an instance found in the tables.
 *
 * @since 0.1.0
 */
export interface Found {
  /** The rules of the instance's chain, `undefined` when there is no such chain. */
  readonly dnat: ReadonlyArray<DnatRule> | undefined
  /** The MASQUERADE rules carrying the instance's comment. */
  readonly masquerade: ReadonlyArray<MasqueradeRule>
  /** The rules of the instance's `filter` chain, `undefined` when there is no such chain. */
  readonly forward: ReadonlyArray<ForwardRule> | undefined
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
   * The rules of an instance, read in one listing of each table: the DNAT rules in `chain`, the MASQUERADE rules of
   * `POSTROUTING` whose comment starts with `commentPrefix` and the rules of the `filter` chain `forwardChain`, each
   * of the shape `addDnat`/`addMasquerade`/`addForward` write (a rule with more to it is not listed).
   */
  readonly list: (chain: string, commentPrefix: string, forwardChain: string) => Effect.Effect<Found, NatError>
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
  /**
   * Creates `chain` in the `filter` table and the jump to it from `FORWARD` unless there already: right after the
   * jump to `DOCKER-USER` when there is one (the host's own rules there keep filtering first), at the top otherwise.
   */
  readonly ensureForwardChain: (chain: string) => Effect.Effect<void, NatError>
  /** Removes the jump to the `filter` chain `chain`, its rules and the chain itself. */
  readonly removeForwardChain: (chain: string) => Effect.Effect<void, NatError>
  /** Appends `rule` to the `filter` chain `chain`. */
  readonly addForward: (chain: string, rule: ForwardRule) => Effect.Effect<void, NatError>
  /** Deletes `rule` from the `filter` chain `chain`, every copy of it. */
  readonly removeForward: (chain: string, rule: ForwardRule) => Effect.Effect<void, NatError>
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

/**
 * A key telling two forward rules apart.
 *
 * @since 0.1.0
 */
export const forwardKey = (rule: ForwardRule): string =>
  rule.kind === "port"
    ? [rule.kind, rule.bridge, rule.destination, rule.proto, rule.port, rule.comment].join(" ")
    : [rule.kind, rule.bridge, rule.comment].join(" ")

/**
 * What it takes to go from the rules `from` to the rules `to`, rules told apart by `key` (`dnatKey`,
 * `masqueradeKey`, `forwardKey`): those of `to` missing from `from`, and those of `from` that `to` has not.
 *
 * @since 0.1.0
 */
export const changes = <A>(
  from: ReadonlyArray<A>,
  to: ReadonlyArray<A>,
  key: (rule: A) => string
): { readonly add: ReadonlyArray<A>; readonly remove: ReadonlyArray<A> } => {
  const fromKeys = new Set(from.map(key))
  const toKeys = new Set(to.map(key))
  return { add: to.filter((r) => !fromKeys.has(key(r))), remove: from.filter((r) => !toKeys.has(key(r))) }
}

/**
 * The chain users filter forwarded traffic in before the engine's rules (the engine jumps to it first): the jump to
 * the plugin's chain goes right after it, so that a user's `DROP` there still applies to the plugin's networks.
 *
 * @since 0.1.0
 */
export const userChain = "DOCKER-USER"

/**
 * Where the jump to `chain` goes in `FORWARD`, given its rules as `iptables -S FORWARD` writes them without
 * `-A FORWARD ` (`-j DOCKER-USER`): the 1-based position for `-I FORWARD N`, right after the first jump to
 * `DOCKER-USER` or at the top, or `undefined` when the jump is there already (wherever it is: it is not moved).
 *
 * @since 0.1.0
 */
export const forwardJumpPosition = (rules: ReadonlyArray<string>, chain: string): number | undefined => {
  if (rules.some((r) => r.trim() === `-j ${chain}`)) return undefined
  const user = rules.findIndex((r) => r.trim() === `-j ${userChain}`)
  return user === -1 ? 1 : user + 2
}
