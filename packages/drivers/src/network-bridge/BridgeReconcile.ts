/**
 * What start-up does to make the recorded networks and the host's links agree (pure). The driver tags every link
 * it creates with an alias naming this plugin instance and the network or endpoint, so links left over from a
 * crash are recognised, and nobody else's link is ever touched.
 *
 * - A recorded bridge that is missing is created again; one that is there is adopted (addresses, up) when this
 *   instance made it for that network. A link of that name that is not (another program's, taken while the plugin
 *   was down) is left alone, and so are the network's endpoints: no address or veth goes onto someone else's link.
 * - A recorded endpoint whose veth is there is adopted and left alone: a running container keeps its link.
 * - A recorded endpoint not joined yet whose veth is missing gets a new pair; a joined one whose veth is gone
 *   (its container's namespace went away) is reported and left for the daemon's `DeleteEndpoint`.
 * - A link tagged by this instance that no record explains (created just before a crash, or deleted from the
 *   state just before one) is removed.
 * - NAT rules the same way (`natPlan`): the DNAT rules of published endpoints, the MASQUERADE rules of networks
 *   with `masquerade=true` and the forward rules of both are put back; rules in this instance's chains, or
 *   MASQUERADE rules with this instance's comment, that no record explains are removed. Other chains and rules are
 *   never touched.
 *
 * @since 0.1.0
 */
import * as BridgeTable from "./BridgeTable.ts"
import type { EndpointRecord, NetworkRecord } from "./BridgeTable.ts"
import type { Link } from "./Links.ts"
import {
  changes,
  type DnatRule,
  dnatKey,
  type ForwardRule,
  forwardKey,
  type Found,
  type MasqueradeRule,
  masqueradeKey
} from "./Nat.ts"

const aliasPrefix = "docker-plugin-kit network-bridge"

/**
 * The alias of a link this instance creates.
 *
 * @since 0.1.0
 */
export const aliasOf = (instance: string, kind: "network" | "endpoint", id: string): string =>
  `${aliasPrefix} ${instance} ${kind} ${id}`

/**
 * Reads an alias back: whose link it is, if this driver made it.
 *
 * @since 0.1.0
 */
export const parseAlias = (
  alias: string | undefined
): { readonly instance: string; readonly kind: "network" | "endpoint"; readonly id: string } | undefined => {
  if (alias === undefined || !alias.startsWith(`${aliasPrefix} `)) return undefined
  const [instance, kind, id, ...rest] = alias.slice(aliasPrefix.length + 1).split(" ")
  if (instance === undefined || id === undefined || rest.length > 0) return undefined
  return kind === "network" || kind === "endpoint" ? { instance, kind, id } : undefined
}

/**
 * Whether a link on the host was made by this instance for that network or endpoint.
 *
 * @since 0.1.0
 */
export const isOurs = (link: Link, instance: string, kind: "network" | "endpoint", id: string): boolean => {
  const owner = parseAlias(link.alias)
  return owner !== undefined && owner.instance === instance && owner.kind === kind && owner.id === id
}

/**
 * Whether a link is the bridge this instance made for that network.
 *
 * @since 0.1.0
 */
export const isOwnBridge = (link: Link, instance: string, networkId: string): boolean =>
  link.kind === "bridge" && isOurs(link, instance, "network", networkId)

/**
 * An endpoint and its network.
 *
 * @since 0.1.0
 */
export interface Placed {
  readonly network: NetworkRecord
  readonly endpoint: EndpointRecord
}

/**
 * The start-up plan.
 *
 * @since 0.1.0
 */
export interface Plan {
  readonly createBridges: ReadonlyArray<NetworkRecord>
  readonly adoptBridges: ReadonlyArray<NetworkRecord>
  /**
   * A recorded bridge whose name is held by a link this instance did not make for that network (or not a bridge):
   * left alone with the network's endpoints, reported.
   */
  readonly blockedBridges: ReadonlyArray<NetworkRecord>
  readonly adoptVeths: ReadonlyArray<Placed>
  readonly recreateVeths: ReadonlyArray<Placed>
  /** Joined endpoints whose veth is gone. */
  readonly lostVeths: ReadonlyArray<Placed>
  /** Links of this instance that no record explains, by name. */
  readonly removeLinks: ReadonlyArray<string>
}

/**
 * Compares the records with the host's links.
 *
 * @since 0.1.0
 */
export const plan = (records: ReadonlyArray<NetworkRecord>, links: ReadonlyArray<Link>, instance: string): Plan => {
  const byName = new Map(links.map((l) => [l.name, l] as const))
  const bridges = new Set(records.map((r) => r.bridge))
  const vethEnds = new Set(records.flatMap((r) => r.endpoints.flatMap((e) => [e.hostInterface, e.containerInterface])))
  const blocked = (r: NetworkRecord) => {
    const link = byName.get(r.bridge)
    return link !== undefined && !isOwnBridge(link, instance, r.id)
  }
  const placed = records
    .filter((r) => !blocked(r))
    .flatMap((network) => network.endpoints.map((endpoint) => ({ network, endpoint })))
  const present = (p: Placed) => byName.get(p.endpoint.hostInterface)?.kind === "veth"
  return {
    createBridges: records.filter((r) => !byName.has(r.bridge)),
    adoptBridges: records.filter((r) => byName.has(r.bridge) && !blocked(r)),
    blockedBridges: records.filter(blocked),
    adoptVeths: placed.filter(present),
    recreateVeths: placed.filter((p) => !present(p) && p.endpoint.sandboxKey === undefined),
    lostVeths: placed.filter((p) => !present(p) && p.endpoint.sandboxKey !== undefined),
    removeLinks: links
      .filter((l) => {
        const owner = parseAlias(l.alias)
        if (owner === undefined || owner.instance !== instance) return false
        return owner.kind === "network" ? !bridges.has(l.name) : !vethEnds.has(l.name)
      })
      .map((l) => l.name)
  }
}

/**
 * The start-up plan of the NAT rules.
 *
 * @since 0.1.0
 */
export interface NatPlan {
  /** The chain and its jumps are made (again) before rules are added: some endpoint publishes ports. */
  readonly ensureChain: boolean
  /** No network is left: the chain and its jumps go (left over from a crash after the last `DeleteNetwork`). */
  readonly removeChain: boolean
  readonly removeDnat: ReadonlyArray<DnatRule>
  readonly addDnat: ReadonlyArray<DnatRule>
  readonly removeMasquerade: ReadonlyArray<MasqueradeRule>
  readonly addMasquerade: ReadonlyArray<MasqueradeRule>
  /**
   * The `filter` chain and its jump from `FORWARD` are made (again, the jump right after `DOCKER-USER`) before forward
   * rules are added: some network masquerades or publishes.
   */
  readonly ensureForwardChain: boolean
  /** No network asks for a forward rule any more: the `filter` chain and its jump go. */
  readonly removeForwardChain: boolean
  readonly removeForward: ReadonlyArray<ForwardRule>
  readonly addForward: ReadonlyArray<ForwardRule>
}

/**
 * Compares the records with this instance's NAT rules. `records` are the networks start-up keeps: not those whose
 * bridge name another program holds (no traffic is sent to someone else's link).
 *
 * @since 0.1.0
 */
export const natPlan = (records: ReadonlyArray<NetworkRecord>, found: Found, instance: string): NatPlan => {
  const wantDnat = BridgeTable.dnatRules(instance, records)
  const wantMasquerade = records.flatMap((n) => {
    const rule = BridgeTable.masqueradeRule(instance, n)
    return rule === undefined ? [] : [rule]
  })
  const removeChain = records.length === 0 && found.dnat !== undefined
  const wantForward = BridgeTable.allForwardRules(instance, records)
  const removeForwardChain = wantForward.length === 0 && found.forward !== undefined
  const dnat = changes(found.dnat ?? [], wantDnat, dnatKey)
  const masquerade = changes(found.masquerade, wantMasquerade, masqueradeKey)
  const forward = changes(found.forward ?? [], wantForward, forwardKey)
  return {
    ensureChain: wantDnat.length > 0,
    removeChain,
    // Rules of a chain that goes go with it.
    removeDnat: removeChain ? [] : dnat.remove,
    addDnat: dnat.add,
    removeMasquerade: masquerade.remove,
    addMasquerade: masquerade.add,
    ensureForwardChain: wantForward.length > 0,
    removeForwardChain,
    removeForward: removeForwardChain ? [] : forward.remove,
    addForward: forward.add
  }
}
