/**
 * The state machine of `network-bridge` networks and endpoints, as pure functions over an immutable table: what
 * each call changes and answers, with no link touched. The driver performs the link work each transition implies
 * and persists the records; the rules (unique bridges, no deletion while endpoints remain, the daemon's address
 * and MAC kept, gateways only for non-internal networks) are written and tested here once.
 *
 * @since 0.1.0
 */
import { NetworkDriver } from "@docker-plugin-kit/protocol"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Crypto from "node:crypto"
import {
  type BridgeError,
  EndpointExists,
  EndpointNotFound,
  InvalidOption,
  NetworkConflict,
  NetworkInUse,
  NetworkNotFound
} from "./BridgeErrors.ts"
import * as BridgeOptions from "./BridgeOptions.ts"

/**
 * One endpoint: a veth pair, `hostInterface` on the bridge, `containerInterface` moved into the container by the
 * daemon on `Join`.
 *
 * @since 0.1.0
 */
export const EndpointRecord = Schema.Struct({
  id: Schema.String,
  hostInterface: Schema.String,
  containerInterface: Schema.String,
  /** CIDR, or `""` when the daemon assigned none. */
  address: Schema.String,
  addressIPv6: Schema.String,
  /** Colon form; the daemon's, or generated when it sent none. */
  macAddress: Schema.String,
  macGenerated: Schema.Boolean,
  /** The container's namespace while joined. */
  sandboxKey: Schema.optionalKey(Schema.String)
})

/**
 * @since 0.1.0
 */
export type EndpointRecord = typeof EndpointRecord.Type

/**
 * One network: a bridge carrying the gateway addresses IPAM allocated (none when internal).
 *
 * @since 0.1.0
 */
export const NetworkRecord = Schema.Struct({
  id: Schema.String,
  bridge: Schema.String,
  settings: BridgeOptions.Settings,
  /** CIDRs put on the bridge (gateway addresses with the pool's prefix length). */
  addresses: Schema.Array(Schema.String),
  /** Plain IPs answered in `Join`, absent when none. */
  gateway: Schema.optionalKey(Schema.String),
  gatewayIPv6: Schema.optionalKey(Schema.String),
  endpoints: Schema.Array(EndpointRecord)
})

/**
 * @since 0.1.0
 */
export type NetworkRecord = typeof NetworkRecord.Type

/**
 * Every network, by ID.
 *
 * @since 0.1.0
 */
export type Table = ReadonlyMap<string, NetworkRecord>

/**
 * The empty table.
 *
 * @since 0.1.0
 */
export const empty: Table = new Map()

/**
 * A short name part derived from a daemon ID: its first characters when it is the usual hex, a hash otherwise (so
 * any ID gives a valid interface name).
 *
 * @since 0.1.0
 */
export const shortId = (id: string, length: number): string =>
  /^[0-9a-f]+$/.test(id) && id.length >= length
    ? id.slice(0, length)
    : Crypto.createHash("sha256").update(id).digest("hex").slice(0, length)

/**
 * The bridge of a network given no `bridge` option: `dpk-` and 11 characters of its ID (15, the Linux limit).
 *
 * @since 0.1.0
 */
export const defaultBridge = (networkId: string): string => `dpk-${shortId(networkId, 11)}`

/**
 * The veth pair of an endpoint: `dpkh`/`dpkc` and 11 characters of its ID.
 *
 * @since 0.1.0
 */
export const vethNames = (endpointId: string): { readonly host: string; readonly container: string } => ({
  host: `dpkh${shortId(endpointId, 11)}`,
  container: `dpkc${shortId(endpointId, 11)}`
})

/**
 * A locally administered unicast MAC derived from the endpoint ID, so a restart or a retry gives the same one.
 *
 * @since 0.1.0
 */
export const generatedMac = (endpointId: string): string => {
  const bytes = Crypto.createHash("sha256").update(`mac:${endpointId}`).digest().subarray(0, 5)
  return ["02", ...[...bytes].map((b) => b.toString(16).padStart(2, "0"))].join(":")
}

const plainIp = (cidr: string): string => cidr.slice(0, cidr.indexOf("/"))

const withNetwork = (table: Table, record: NetworkRecord): Table => new Map(table).set(record.id, record)

const sameNetwork = (a: NetworkRecord, b: NetworkRecord): boolean =>
  JSON.stringify({ ...a, endpoints: [] }) === JSON.stringify({ ...b, endpoints: [] })

/**
 * Looks a network up.
 *
 * @since 0.1.0
 */
export const network = (table: Table, id: string): Result.Result<NetworkRecord, NetworkNotFound> => {
  const record = table.get(id)
  return record === undefined ? Result.fail(new NetworkNotFound({ network: id })) : Result.succeed(record)
}

/**
 * Looks an endpoint up on its network.
 *
 * @since 0.1.0
 */
export const endpoint = (
  table: Table,
  networkId: string,
  endpointId: string
): Result.Result<{ readonly network: NetworkRecord; readonly endpoint: EndpointRecord }, BridgeError> =>
  Result.flatMap(network(table, networkId), (n) => {
    const e = n.endpoints.find((x) => x.id === endpointId)
    return e === undefined
      ? Result.fail(new EndpointNotFound({ network: networkId, endpoint: endpointId }))
      : Result.succeed({ network: n, endpoint: e })
  })

/**
 * Longest network or endpoint ID accepted, in UTF-8 bytes: the ID is written into the alias of its links, which Linux
 * caps at 255 bytes with the driver's own tag before it (the daemon's IDs are 64 hex digits).
 *
 * @since 0.1.0
 */
export const maxIdBytes = 200

/**
 * Checks a `NetworkID` or `EndpointID` the driver is asked to create: not empty, at most `maxIdBytes`, no control
 * characters (a NUL cannot be passed to `ip` at all).
 *
 * @since 0.1.0
 */
export const checkId = (field: "NetworkID" | "EndpointID", id: string): Result.Result<string, InvalidOption> => {
  const bytes = Buffer.byteLength(id, "utf8")
  const reason =
    id === ""
      ? "is empty"
      : bytes > maxIdBytes
        ? `is ${bytes} bytes long, the limit is ${maxIdBytes}`
        : [...id].some((c) => c < " " || c === "\u007f")
          ? "contains a control character"
          : undefined
  const shown = JSON.stringify(id.length > 80 ? `${id.slice(0, 80)}…` : id)
  return reason === undefined
    ? Result.succeed(id)
    : Result.fail(new InvalidOption({ reason: `${field} ${shown} ${reason}` }))
}

/**
 * A configured route to one of the network's IPv4 subnets: the kernel routes a subnet as soon as the container's
 * interface has its address (metric 0, as every route the daemon adds), so the daemon's route fails ("file exists")
 * when a container joins. IPv6 is spared: the kernel's own prefix route has another metric.
 */
const ownSubnetRoute = (
  routes: ReadonlyArray<BridgeOptions.Route>,
  ipv4: ReadonlyArray<NetworkDriver.IpamData>
): string | undefined => {
  const subnets = new Set(ipv4.flatMap((d) => (d.Pool === undefined ? [] : [BridgeOptions.networkOf(d.Pool)])))
  return routes.map((r) => BridgeOptions.networkOf(r.destination)).find((destination) => subnets.has(destination))
}

/**
 * The record a `CreateNetwork` request describes (pure, nothing checked against the table).
 *
 * @since 0.1.0
 */
export const describeNetwork = (
  request: NetworkDriver.CreateNetworkRequest
): Result.Result<NetworkRecord, InvalidOption> =>
  Result.flatMap(BridgeOptions.decode(request.Options), (settings) => {
    const id = checkId("NetworkID", request.NetworkID)
    if (Result.isFailure(id)) return Result.fail(id.failure)
    const own = ownSubnetRoute(settings.routes, request.IPv4Data ?? [])
    if (own !== undefined) {
      const reason = `option routes: ${own} is the network's own subnet, which every container has a route to already (a second one fails when the container joins)`
      return Result.fail(new InvalidOption({ reason }))
    }
    const v4 = (request.IPv4Data ?? []).flatMap((d) => (d.Gateway === undefined ? [] : [d.Gateway]))
    const v6 = (request.IPv6Data ?? []).flatMap((d) => (d.Gateway === undefined ? [] : [d.Gateway]))
    // The daemon makes the gateway `Join` answers the container's default route (metric 0, as every route it adds),
    // so a configured default route of that family fails ("file exists"), and only when the container joins.
    const gatewayOf = (destination: string | undefined) =>
      settings.internal ? undefined : destination === "0.0.0.0/0" ? v4[0] : destination === "::/0" ? v6[0] : undefined
    const defaultRoute = settings.routes
      .map((r) => BridgeOptions.networkOf(r.destination))
      .find((destination) => gatewayOf(destination) !== undefined)
    if (defaultRoute !== undefined) {
      const reason = `option routes: ${defaultRoute} is the default route, which every container has through the network's gateway ${plainIp(gatewayOf(defaultRoute)!)} already (a second one fails when the container joins); give it on an --internal network`
      return Result.fail(new InvalidOption({ reason }))
    }
    // An internal network has no gateway: nothing on the bridge, nothing in Join, no route out of the host.
    const addresses = settings.internal ? [] : [...v4, ...v6]
    return Result.succeed({
      id: request.NetworkID,
      bridge: settings.bridge ?? defaultBridge(request.NetworkID),
      settings,
      addresses,
      ...(settings.internal || v4[0] === undefined ? {} : { gateway: plainIp(v4[0]) }),
      ...(settings.internal || v6[0] === undefined ? {} : { gatewayIPv6: plainIp(v6[0]) }),
      endpoints: []
    })
  })

/**
 * The outcome of `createNetwork`.
 *
 * @since 0.1.0
 */
export interface NetworkCreated {
  readonly table: Table
  readonly record: NetworkRecord
  /** `false` when the same network existed already. */
  readonly created: boolean
}

/**
 * `CreateNetwork`: a new network, or nothing when the same network exists already (a retry).
 *
 * @since 0.1.0
 */
export const createNetwork = (
  table: Table,
  request: NetworkDriver.CreateNetworkRequest
): Result.Result<NetworkCreated, BridgeError> =>
  Result.flatMap(describeNetwork(request), (record): Result.Result<NetworkCreated, BridgeError> => {
    const existing = table.get(record.id)
    if (existing !== undefined) {
      return sameNetwork(existing, record)
        ? Result.succeed({ table, record: existing, created: false })
        : Result.fail(new NetworkConflict({ reason: `network ${record.id} already exists with other settings` }))
    }
    const owner = [...table.values()].find((n) => n.bridge === record.bridge)
    if (owner !== undefined) {
      return Result.fail(new NetworkConflict({ reason: `bridge ${record.bridge} is used by network ${owner.id}` }))
    }
    return Result.succeed({ table: withNetwork(table, record), record, created: true })
  })

/**
 * Drops the endpoints of a network that no container uses, whose `DeleteEndpoint` never came: those whose veth is
 * gone from the host (their container's namespace went away: a daemon killed with its containers never sends it,
 * taking the pair with it), and those whose container end is on the host (never joined, or given back by the
 * daemon after the container left, while the plugin was down). The daemon sends `DeleteNetwork` only once it has
 * no endpoint on the network, and removes the network whatever the answer: keeping them would keep it forever.
 *
 * @since 0.1.0
 */
export const pruneGone = (
  table: Table,
  networkId: string,
  onHost: (name: string) => boolean
): { readonly table: Table; readonly pruned: ReadonlyArray<EndpointRecord> } => {
  const n = table.get(networkId)
  if (n === undefined) return { table, pruned: [] }
  const unused = (e: EndpointRecord) => !onHost(e.hostInterface) || onHost(e.containerInterface)
  const pruned = n.endpoints.filter(unused)
  if (pruned.length === 0) return { table, pruned }
  return { table: withNetwork(table, { ...n, endpoints: n.endpoints.filter((e) => !unused(e)) }), pruned }
}

/**
 * `DeleteNetwork`: refused while endpoints remain.
 *
 * @since 0.1.0
 */
export const deleteNetwork = (
  table: Table,
  id: string
): Result.Result<{ readonly table: Table; readonly record: NetworkRecord }, BridgeError> =>
  Result.flatMap(network(table, id), (record) => {
    if (record.endpoints.length > 0) {
      return Result.fail(new NetworkInUse({ network: id, endpoints: record.endpoints.map((e) => e.id) }))
    }
    const next = new Map(table)
    next.delete(id)
    return Result.succeed({ table: next, record })
  })

/**
 * The MAC an endpoint's veth can carry, in colon form. The daemon's `Interface.MacAddress` (`docker run
 * --mac-address`, in any form Go's `net.ParseMAC` reads) must be 6 bytes, unicast and not all zeros: the kernel
 * refuses any other when the veth is made, in a message that names neither the field nor the value.
 *
 * @since 0.1.0
 */
export const checkMac = (mac: string): Result.Result<string, InvalidOption> => {
  const hex = mac.replace(/[:.-]/g, "").toLowerCase()
  const fail = (why: string) =>
    Result.fail(
      new InvalidOption({
        reason: `Interface.MacAddress ${mac} ${why}: a container's interface needs a 6-byte unicast Ethernet MAC (docker run --mac-address)`
      })
    )
  if (!/^[0-9a-f]{12}$/.test(hex)) return fail("is not 6 bytes long")
  // The least significant bit of the first byte marks a group (multicast or broadcast) address.
  if ((Number.parseInt(hex.slice(0, 2), 16) & 1) === 1) return fail("is a multicast address")
  if (/^0+$/.test(hex)) return fail("is all zeros")
  return Result.succeed(hex.match(/../g)!.join(":"))
}

/**
 * The outcome of `createEndpoint`.
 *
 * @since 0.1.0
 */
export interface EndpointCreated {
  readonly table: Table
  readonly network: NetworkRecord
  readonly endpoint: EndpointRecord
  readonly answer: NetworkDriver.CreateEndpointResponse
}

/**
 * `CreateEndpoint`: keeps the daemon's addresses and MAC; generates a MAC only when none was sent, and answers
 * only that (setting a field the daemon filled makes it roll the endpoint back).
 *
 * @since 0.1.0
 */
export const createEndpoint = (
  table: Table,
  request: NetworkDriver.CreateEndpointRequest
): Result.Result<EndpointCreated, BridgeError> =>
  Result.flatMap(network(table, request.NetworkID), (n): Result.Result<EndpointCreated, BridgeError> => {
    const id = request.EndpointID
    const checked = checkId("EndpointID", id)
    if (Result.isFailure(checked)) return Result.fail(checked.failure)
    // Refused, not ignored: the container would start with its ports published nowhere.
    const ports = publishedPorts(request.Options)
    if (ports.length > 0) {
      const reason = `network-bridge publishes no ports (asked for ${ports.join(", ")}): reach the container at its address on the bridge, or publish the ports through a network of the built-in bridge driver`
      return Result.fail(new InvalidOption({ reason }))
    }
    const names = vethNames(id)
    for (const other of table.values()) {
      if (other.endpoints.some((e) => e.id === id || e.hostInterface === names.host)) {
        return Result.fail(new EndpointExists({ endpoint: id }))
      }
    }
    const given = request.Interface.MacAddress
    const mac = given === "" ? Result.succeed(generatedMac(id)) : checkMac(given)
    if (Result.isFailure(mac)) return Result.fail(mac.failure)
    const endpointRecord: EndpointRecord = {
      id,
      hostInterface: names.host,
      containerInterface: names.container,
      address: request.Interface.Address,
      addressIPv6: request.Interface.AddressIPv6,
      macAddress: mac.success,
      macGenerated: given === ""
    }
    const updated: NetworkRecord = { ...n, endpoints: [...n.endpoints, endpointRecord] }
    return Result.succeed({
      table: withNetwork(table, updated),
      network: updated,
      endpoint: endpointRecord,
      answer: endpointRecord.macGenerated ? { Interface: { MacAddress: endpointRecord.macAddress } } : {}
    })
  })

const replaceEndpoint = (table: Table, n: NetworkRecord, e: EndpointRecord): Table =>
  withNetwork(table, { ...n, endpoints: n.endpoints.map((x) => (x.id === e.id ? e : x)) })

const protocolNames: Readonly<Record<number, string>> = { 6: "tcp", 17: "udp", 132: "sctp" }

/** A port binding as `docker run -p` spells it: `8080->80/tcp`, `127.0.0.1:8000-8001->80/udp`, `any port->80/tcp`. */
const bindingText = (binding: unknown): string => {
  const field = (name: string): unknown =>
    typeof binding === "object" && binding !== null ? (binding as Record<string, unknown>)[name] : undefined
  const proto = protocolNames[Number(field("Proto"))] ?? "tcp"
  const hostIp = typeof field("HostIP") === "string" && field("HostIP") !== "" ? `${field("HostIP")}:` : ""
  const first = Number(field("HostPort") ?? 0)
  const last = Number(field("HostPortEnd") ?? 0)
  const host = first === 0 ? "any port" : last > first ? `${first}-${last}` : `${first}`
  return `${hostIp}${host}->${String(field("Port"))}/${proto}`
}

/**
 * The ports an endpoint is asked to publish on the host (`docker run -p`): the daemon puts the container's port
 * bindings in the `CreateEndpoint` options of the first network it joins that is not internal.
 *
 * @since 0.1.0
 */
export const publishedPorts = (options: NetworkDriver.CreateEndpointRequest["Options"]): ReadonlyArray<string> => {
  const bindings = options?.[NetworkDriver.OptionKeys.PortMap]
  return Array.isArray(bindings) ? bindings.map(bindingText) : []
}

/**
 * `Join`: the container end to move, the network's gateways (so the container's default route goes through the
 * bridge rather than `docker_gwbridge`) and the configured static routes.
 *
 * @since 0.1.0
 */
export const join = (
  table: Table,
  request: NetworkDriver.JoinRequest
): Result.Result<{ readonly table: Table; readonly answer: NetworkDriver.JoinResponse }, BridgeError> =>
  Result.map(endpoint(table, request.NetworkID, request.EndpointID), ({ network: n, endpoint: e }) => {
    const routes = n.settings.routes.map((r): typeof NetworkDriver.StaticRoute.Type =>
      r.nextHop === undefined
        ? { Destination: r.destination, RouteType: 1 }
        : { Destination: r.destination, RouteType: 0, NextHop: r.nextHop }
    )
    return {
      table: replaceEndpoint(table, n, { ...e, sandboxKey: request.SandboxKey }),
      answer: {
        InterfaceName: { SrcName: e.containerInterface, DstPrefix: n.settings.prefix },
        ...(n.gateway === undefined ? {} : { Gateway: n.gateway }),
        ...(n.gatewayIPv6 === undefined ? {} : { GatewayIPv6: n.gatewayIPv6 }),
        ...(routes.length === 0 ? {} : { StaticRoutes: routes })
      }
    }
  })

/**
 * `Leave`: the endpoint stays (the daemon deletes it next, or joins it again).
 *
 * @since 0.1.0
 */
export const leave = (table: Table, request: NetworkDriver.EndpointRequest): Result.Result<Table, BridgeError> =>
  Result.map(endpoint(table, request.NetworkID, request.EndpointID), ({ network: n, endpoint: e }) => {
    const { sandboxKey: _, ...left } = e
    return replaceEndpoint(table, n, left)
  })

/**
 * `DeleteEndpoint`.
 *
 * @since 0.1.0
 */
export const deleteEndpoint = (
  table: Table,
  request: NetworkDriver.EndpointRequest
): Result.Result<
  { readonly table: Table; readonly network: NetworkRecord; readonly endpoint: EndpointRecord },
  BridgeError
> =>
  Result.map(endpoint(table, request.NetworkID, request.EndpointID), ({ network: n, endpoint: e }) => {
    const updated = { ...n, endpoints: n.endpoints.filter((x) => x.id !== e.id) }
    return { table: withNetwork(table, updated), network: updated, endpoint: e }
  })

/**
 * `EndpointOperInfo`: what the endpoint is made of, for humans (the daemon ignores it).
 *
 * @since 0.1.0
 */
export const operInfo = (n: NetworkRecord, e: EndpointRecord): Record<string, unknown> => ({
  bridge: n.bridge,
  hostInterface: e.hostInterface,
  containerInterface: e.containerInterface,
  macAddress: e.macAddress,
  ...(e.address === "" ? {} : { address: e.address }),
  ...(e.addressIPv6 === "" ? {} : { addressIPv6: e.addressIPv6 }),
  ...(n.settings.mtu === undefined ? {} : { mtu: n.settings.mtu }),
  joined: e.sandboxKey !== undefined
})

/**
 * `GwAllocCheck` (Engine 28 and later): an internal network needs no gateway address of either family. Options
 * that `CreateNetwork` would refuse are refused here already, so the daemon reserves nothing for them.
 *
 * @since 0.1.0
 */
export const gwAllocCheck = (
  options: Readonly<Record<string, unknown>> | null | undefined
): Result.Result<NetworkDriver.GwAllocCheckResponse, InvalidOption> =>
  Result.map(BridgeOptions.decode(options), ({ internal }) => ({ SkipIPv4: internal, SkipIPv6: internal }))
