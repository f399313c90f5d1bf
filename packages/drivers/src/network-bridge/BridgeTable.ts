/**
 * The state machine of `network-bridge` networks and endpoints, as pure functions over an immutable table: what
 * each call changes and answers, with no link or NAT rule touched. The driver performs the link and NAT work each
 * transition implies and persists the records; the rules (unique bridges, no deletion while endpoints remain, the
 * daemon's address and MAC kept, gateways only for non-internal networks, which port bindings are published and
 * which refused) are written and tested here once.
 *
 * @since 0.1.0
 */
import { NetworkDriver } from "@docker-plugin-kit/protocol"
import * as IpInterface from "effect/net/IpInterface"
import * as NetAddress from "effect/net/NetAddress"
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
  NetworkNotFound,
  PortConflict,
  PortRefused
} from "./BridgeErrors.ts"
import * as BridgeOptions from "./BridgeOptions.ts"
import { changes, type DnatRule, type ForwardRule, forwardKey, type MasqueradeRule } from "./Nat.ts"

/**
 * A published port (`docker run -p [HOSTIP:]HOSTPORT:PORT[/PROTO]`): traffic to `hostPort` on `hostIp` (`""`: every
 * address of the host) goes to `port` of the endpoint's IPv4 address.
 *
 * @since 0.1.0
 */
export const PortBinding = Schema.Struct({
  proto: Schema.Literals(["tcp", "udp"]),
  port: Schema.Number,
  hostIp: Schema.String,
  hostPort: Schema.Number
})

/**
 * @since 0.1.0
 */
export type PortBinding = typeof PortBinding.Type

/**
 * An exposed port (`EXPOSE`, `--expose`) as the daemon sends it (`Proto` 6 tcp, 17 udp, 132 sctp); only answered
 * back in `EndpointOperInfo`.
 *
 * @since 0.1.0
 */
export const ExposedPort = Schema.Struct({ Proto: Schema.Number, Port: Schema.Number })

/**
 * @since 0.1.0
 */
export type ExposedPort = typeof ExposedPort.Type

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
  sandboxKey: Schema.optionalKey(Schema.String),
  /** The port bindings `CreateEndpoint` asked for (checked), absent when none (and in older state files). */
  ports: Schema.optionalKey(Schema.Array(PortBinding)),
  exposedPorts: Schema.optionalKey(Schema.Array(ExposedPort)),
  /**
   * The bindings published on the host (`ProgramExternalConnectivity` made the endpoint the container's gateway and
   * `RevokeExternalConnectivity` has not come yet), absent when none: start-up puts their NAT rules back.
   */
  published: Schema.optionalKey(Schema.Array(PortBinding))
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
    // Refused rather than ignored: the user asked for a way out the network cannot have.
    if (settings.masquerade === true && settings.internal) {
      const reason = "option masquerade=true: an internal network has no way out to masquerade; give one of the two"
      return Result.fail(new InvalidOption({ reason }))
    }
    if (settings.masquerade === true && v4[0] === undefined) {
      const reason = "option masquerade=true: the network has no IPv4 subnet, and masquerading is done for IPv4 only"
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
    // Checked here, before anything is made: a binding refused only at ProgramExternalConnectivity would leave the
    // daemon rolling a half-started container back.
    // Host ports taken by other endpoints are not refused here but at ProgramExternalConnectivity: the daemon sends a
    // container's bindings to every network it joins (it reads no port map back from a remote driver), so a second
    // network of a publishing container would clash with the container's own first endpoint.
    const ports = portBindings(n, id, request.Interface.Address, request.Options)
    if (Result.isFailure(ports)) return Result.fail(ports.failure)
    const exposed = exposedPorts(request.Options)
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
      macGenerated: given === "",
      ...(ports.success.length === 0 ? {} : { ports: ports.success }),
      ...(exposed.length === 0 ? {} : { exposedPorts: exposed })
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
const protocolNumbers: Readonly<Record<PortBinding["proto"], number>> = { tcp: 6, udp: 17 }
/** The protocols a binding is published for. */
const publishedProtocols: ReadonlyArray<PortBinding["proto"]> = ["tcp", "udp"]

/** A port binding as `docker run -p` spells it: `8080->80/tcp`, `127.0.0.1:8000-8001->80/udp`, `any port->80/tcp`. */
const bindingText = (binding: unknown): string => {
  const field = (name: string): unknown =>
    typeof binding === "object" && binding !== null ? (binding as Record<string, unknown>)[name] : undefined
  const proto = protocolNames[Number(field("Proto"))] ?? `protocol ${String(field("Proto"))}`
  const hostIp = typeof field("HostIP") === "string" && field("HostIP") !== "" ? `${field("HostIP")}:` : ""
  const first = Number(field("HostPort") ?? 0)
  const last = Number(field("HostPortEnd") ?? 0)
  const host = first === 0 ? "any port" : last > first ? `${first}-${last}` : `${first}`
  return `${hostIp}${host}->${String(field("Port"))}/${proto}`
}

/**
 * A checked binding as `docker run -p` spells it: `8080->80/tcp`, `192.168.1.5:8080->80/udp`.
 *
 * @since 0.1.0
 */
export const formatBinding = (b: PortBinding): string =>
  `${b.hostIp === "" ? "" : `${b.hostIp}:`}${b.hostPort}->${b.port}/${b.proto}`

const isPort = (u: unknown): u is number => typeof u === "number" && Number.isInteger(u) && u >= 1 && u <= 65535

/** How to publish a port: the advice every refusal of a binding ends with. */
const giveHostPort = "give -p HOST:CONTAINER (one host port of your choice, e.g. -p 8080:80)"

/** One binding of the daemon's port map, checked; the reason it cannot be published otherwise. */
const checkBinding = (raw: unknown): Result.Result<PortBinding, string> => {
  if (typeof raw !== "object" || raw === null) return Result.fail("not a port binding")
  const b = raw as Record<string, unknown>
  const proto = publishedProtocols.find((name) => protocolNumbers[name] === b.Proto)
  if (proto === undefined) return Result.fail("only tcp and udp ports are published")
  if (!isPort(b.Port)) return Result.fail("the container port is not a port number")
  // HostPort 0 is `-p 80` or `-P`: the engine's bridge driver picks a free port, which a plugin cannot report back
  // (the daemon reads no port map from a remote driver).
  if (b.HostPort === 0 || b.HostPort === undefined) {
    return Result.fail(
      `no host port given, and network-bridge does not pick one (-p CONTAINER and -P); ${giveHostPort}`
    )
  }
  if (!isPort(b.HostPort)) return Result.fail("the host port is not a port number")
  const end = b.HostPortEnd ?? 0
  if (end !== 0 && end !== b.HostPort) {
    return Result.fail(`a range of host ports is not supported; ${giveHostPort}`)
  }
  const hostIp = b.HostIP === undefined || b.HostIP === null || b.HostIP === "0.0.0.0" ? "" : b.HostIP
  if (typeof hostIp !== "string") return Result.fail("the host address is not a string")
  if (hostIp.includes(":")) {
    return Result.fail(
      "IPv6 host addresses are not supported, ports are published on IPv4 only; give an IPv4 address or none"
    )
  }
  if (hostIp !== "" && Result.isFailure(NetAddress.ipv4FromString(hostIp))) {
    return Result.fail("the host address is not an IPv4 address")
  }
  // DNAT of loopback traffic to a container needs the host-wide route_localnet; the engine uses a proxy process.
  if (hostIp.startsWith("127.")) {
    return Result.fail(
      "loopback addresses are not supported; give another address of the host, or none (every address)"
    )
  }
  return Result.succeed({ proto, port: b.Port, hostIp, hostPort: b.HostPort })
}

/** Whether two bindings take the same host port (the same address, or one of them on every address). */
const overlaps = (a: PortBinding, b: PortBinding): boolean =>
  a.proto === b.proto && a.hostPort === b.hostPort && (a.hostIp === "" || b.hostIp === "" || a.hostIp === b.hostIp)

/**
 * The port bindings of `docker run -p` in the `Options` of `CreateEndpoint` or `ProgramExternalConnectivity`
 * (`com.docker.network.portmap`), checked: each needs one explicit host port, tcp or udp, on every address or one
 * IPv4 address of the host, and the endpoint an IPv4 address to send the traffic to; none is published on an
 * internal network. The same binding given twice counts once; two taking the same host port are refused.
 *
 * @since 0.1.0
 */
export const portBindings = (
  n: NetworkRecord,
  endpointId: string,
  address: string,
  options: Readonly<Record<string, unknown>> | null | undefined
): Result.Result<ReadonlyArray<PortBinding>, PortRefused> => {
  const raw = options?.[NetworkDriver.OptionKeys.PortMap]
  if (!Array.isArray(raw) || raw.length === 0) return Result.succeed([])
  const refuse = (binding: unknown, reason: string) =>
    Result.fail(new PortRefused({ endpoint: endpointId, binding: bindingText(binding), reason }))
  const out: Array<PortBinding> = []
  for (const binding of raw) {
    // The daemon sends none to internal networks; `-o internal=true`, which it does not know of, is refused here.
    if (n.settings.internal) {
      return refuse(
        binding,
        `network ${n.id} is internal, so nothing reaches it from outside; publish the ports through another network`
      )
    }
    const checked = checkBinding(binding)
    if (Result.isFailure(checked)) return refuse(binding, checked.failure)
    if (address === "") return refuse(binding, "the endpoint has no IPv4 address to send the traffic to")
    // The address becomes the DNAT rule's destination (`plainIp` of a CIDR).
    if (Result.isFailure(IpInterface.ipv4FromString(address, { prefix: "required" }))) {
      return refuse(
        binding,
        `the endpoint's Interface.Address ${JSON.stringify(address)} is not an IPv4 address with a prefix length (10.0.0.2/24), so the traffic has nowhere to go`
      )
    }
    const b = checked.success
    if (out.some((o) => formatBinding(o) === formatBinding(b))) continue
    const taken = out.find((o) => overlaps(o, b))
    if (taken !== undefined)
      return refuse(binding, `host port ${b.hostPort}/${b.proto} is given twice (also as ${formatBinding(taken)})`)
    out.push(b)
  }
  return Result.succeed(out)
}

/**
 * The first of `bindings` whose host port this instance publishes already for another endpoint, as a failure
 * naming both.
 *
 * @since 0.1.0
 */
export const portConflict = (
  table: Table,
  endpointId: string,
  bindings: ReadonlyArray<PortBinding>
): PortConflict | undefined => {
  for (const n of table.values()) {
    for (const e of n.endpoints) {
      if (e.id === endpointId) continue
      for (const theirs of e.published ?? []) {
        const ours = bindings.find((b) => overlaps(b, theirs))
        if (ours !== undefined) {
          return new PortConflict({
            endpoint: endpointId,
            binding: formatBinding(ours),
            other: e.id,
            otherBinding: formatBinding(theirs)
          })
        }
      }
    }
  }
  return undefined
}

/**
 * The exposed ports in the `Options` of `CreateEndpoint` (`com.docker.network.endpoint.exposedports`).
 *
 * @since 0.1.0
 */
export const exposedPorts = (
  options: Readonly<Record<string, unknown>> | null | undefined
): ReadonlyArray<ExposedPort> => {
  const raw = options?.[NetworkDriver.OptionKeys.ExposedPorts]
  return Array.isArray(raw)
    ? raw.flatMap(
        (p): ReadonlyArray<ExposedPort> =>
          typeof p === "object" && p !== null && typeof p.Proto === "number" && isPort(p.Port)
            ? [{ Proto: p.Proto, Port: p.Port }]
            : []
      )
    : []
}

/**
 * The outcome of `programExternalConnectivity` and `revokeExternalConnectivity`: the network and endpoint as they
 * are now, and the bindings whose NAT rules are to be added (not published before) and removed (no longer published).
 *
 * @since 0.1.0
 */
export interface Connectivity {
  readonly table: Table
  readonly network: NetworkRecord
  readonly endpoint: EndpointRecord
  readonly add: ReadonlyArray<PortBinding>
  readonly remove: ReadonlyArray<PortBinding>
}

const withPublished = (e: EndpointRecord, published: ReadonlyArray<PortBinding>): EndpointRecord => {
  const { published: _, ...rest } = e
  return published.length === 0 ? rest : { ...rest, published }
}

/**
 * `ProgramExternalConnectivity` (the endpoint became the container's gateway): publishes the bindings of its
 * `Options` (the container's, as in `CreateEndpoint`; those `CreateEndpoint` recorded when the key is absent),
 * refused when another endpoint publishes one of their host ports meanwhile. A second call replaces the first.
 *
 * @since 0.1.0
 */
export const programExternalConnectivity = (
  table: Table,
  request: typeof NetworkDriver.ProgramExternalConnectivityRequest.Type
): Result.Result<Connectivity, BridgeError> =>
  Result.flatMap(
    endpoint(table, request.NetworkID, request.EndpointID),
    ({ network: n, endpoint: e }): Result.Result<Connectivity, BridgeError> => {
      const given = request.Options?.[NetworkDriver.OptionKeys.PortMap] !== undefined
      const ports = given ? portBindings(n, e.id, e.address, request.Options) : Result.succeed(e.ports ?? [])
      if (Result.isFailure(ports)) return Result.fail(ports.failure)
      const conflict = portConflict(table, e.id, ports.success)
      if (conflict !== undefined) return Result.fail(conflict)
      const updated = withPublished(e, ports.success)
      const next = replaceEndpoint(table, n, updated)
      const now = new Set(ports.success.map(formatBinding))
      const before = new Set((e.published ?? []).map(formatBinding))
      return Result.succeed({
        table: next,
        network: next.get(n.id)!,
        endpoint: updated,
        add: ports.success.filter((b) => !before.has(formatBinding(b))),
        remove: (e.published ?? []).filter((b) => !now.has(formatBinding(b)))
      })
    }
  )

/**
 * `RevokeExternalConnectivity` (the endpoint is no longer the container's gateway): nothing published any more.
 *
 * @since 0.1.0
 */
export const revokeExternalConnectivity = (
  table: Table,
  request: NetworkDriver.EndpointRequest
): Result.Result<Connectivity, BridgeError> =>
  Result.map(endpoint(table, request.NetworkID, request.EndpointID), ({ network: n, endpoint: e }) => {
    const updated = withPublished(e, [])
    const next = replaceEndpoint(table, n, updated)
    return { table: next, network: next.get(n.id)!, endpoint: updated, add: [], remove: e.published ?? [] }
  })

/**
 * The identifier of a plugin instance in NAT chain names and rule comments: the tag itself when it is short and
 * plain (the usual 8 hex digits), 8 hex digits of its hash otherwise.
 *
 * @since 0.1.0
 */
export const natTag = (instance: string): string =>
  /^[A-Za-z0-9_-]{1,23}$/.test(instance)
    ? instance
    : Crypto.createHash("sha256").update(instance).digest("hex").slice(0, 8)

/**
 * The `nat` chain of an instance's published ports (at most 27 characters; iptables allows 28).
 *
 * @since 0.1.0
 */
export const natChain = (instance: string): string => `DPK-${natTag(instance)}`

/** An ID as written in a rule comment: as is when plain, a hash otherwise (a comment is quoted by iptables). */
const commentId = (id: string): string =>
  /^[A-Za-z0-9_.-]{1,200}$/.test(id)
    ? id
    : `sha256-${Crypto.createHash("sha256").update(id).digest("hex").slice(0, 32)}`

/**
 * The comment of an endpoint's DNAT rules: `dpk TAG ENDPOINT`.
 *
 * @since 0.1.0
 */
export const dnatComment = (instance: string, endpointId: string): string =>
  `dpk ${natTag(instance)} ${commentId(endpointId)}`

/**
 * The comment prefix of every MASQUERADE rule of an instance.
 *
 * @since 0.1.0
 */
export const masqueradePrefix = (instance: string): string => `dpk ${natTag(instance)} network `

/** The comment of a network's MASQUERADE and forward rules. */
const networkComment = (instance: string, networkId: string): string =>
  `${masqueradePrefix(instance)}${commentId(networkId)}`

/**
 * The DNAT rule of a published binding: to the endpoint's IPv4 address.
 *
 * @since 0.1.0
 */
export const dnatRule = (instance: string, e: EndpointRecord, b: PortBinding): DnatRule => ({
  proto: b.proto,
  ...(b.hostIp === "" ? {} : { hostIp: b.hostIp }),
  hostPort: b.hostPort,
  destination: `${plainIp(e.address)}:${b.port}`,
  comment: dnatComment(instance, e.id)
})

/**
 * The MASQUERADE rule of a network with `masquerade=true`: its IPv4 subnet, leaving through another interface than
 * its bridge; `undefined` for every other network.
 *
 * @since 0.1.0
 */
export const masqueradeRule = (instance: string, n: NetworkRecord): MasqueradeRule | undefined => {
  const v4 = n.addresses.find((a) => !a.includes(":"))
  const source = v4 === undefined ? undefined : BridgeOptions.networkOf(v4)
  return n.settings.masquerade !== true || source === undefined
    ? undefined
    : { source, bridge: n.bridge, comment: networkComment(instance, n.id) }
}

/**
 * The DNAT rules every record asks for: the published bindings of each endpoint.
 *
 * @since 0.1.0
 */
export const dnatRules = (instance: string, records: Iterable<NetworkRecord>): ReadonlyArray<DnatRule> =>
  [...records].flatMap((n) => n.endpoints.flatMap((e) => (e.published ?? []).map((b) => dnatRule(instance, e, b))))

/**
 * The `filter` chain of an instance's forward rules: `DPK-TAG-FWD`, with 8 hex digits of a hash of the tag when the
 * tag is too long for iptables' 28 characters.
 *
 * @since 0.1.0
 */
export const forwardChain = (instance: string): string => {
  const tag = natTag(instance)
  return `DPK-${tag.length <= 20 ? tag : Crypto.createHash("sha256").update(tag).digest("hex").slice(0, 8)}-FWD`
}

/**
 * The forward rules a network asks for (see `ForwardRule`): with `masquerade=true`, its traffic out, back in and
 * within the bridge; for each port its endpoints publish, the traffic to it (once per container address, port and
 * protocol); and without masquerading, the answers of the published ports. A network that neither masquerades nor
 * publishes asks for none, so it works on a host without iptables.
 *
 * @since 0.1.0
 */
export const forwardRules = (instance: string, n: NetworkRecord): ReadonlyArray<ForwardRule> => {
  const network = networkComment(instance, n.id)
  const bridge = n.bridge
  const masquerading = masqueradeRule(instance, n) !== undefined
  const ports = new Map<string, ForwardRule>()
  for (const e of n.endpoints) {
    for (const b of e.published ?? []) {
      const rule: ForwardRule = {
        kind: "port",
        bridge,
        destination: plainIp(e.address),
        proto: b.proto,
        port: b.port,
        comment: dnatComment(instance, e.id)
      }
      ports.set(forwardKey(rule), rule)
    }
  }
  const kinds = masquerading
    ? (["outbound", "return", "within"] as const)
    : ports.size > 0
      ? (["reply"] as const)
      : ([] as const)
  return [...kinds.map((kind): ForwardRule => ({ kind, bridge, comment: network })), ...ports.values()]
}

/**
 * The forward rules of every record.
 *
 * @since 0.1.0
 */
export const allForwardRules = (instance: string, records: Iterable<NetworkRecord>): ReadonlyArray<ForwardRule> =>
  [...records].flatMap((n) => forwardRules(instance, n))

/**
 * What a change of the table does to the forward rules: those `after` asks for that `before` did not, and the other
 * way round.
 *
 * @since 0.1.0
 */
export const forwardChanges = (
  instance: string,
  before: Iterable<NetworkRecord>,
  after: Iterable<NetworkRecord>
): { readonly add: ReadonlyArray<ForwardRule>; readonly remove: ReadonlyArray<ForwardRule> } =>
  changes(allForwardRules(instance, before), allForwardRules(instance, after), forwardKey)

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
 * `EndpointOperInfo`: what the endpoint is made of, and the published bindings and exposed ports under the keys the
 * daemon reads for `docker port` (in the engine's form: `HostIP` `0.0.0.0` for every address). Engine 20.10 to 29 only
 * read them from a built-in driver's Go values, not from a remote driver's JSON, so `docker port` shows nothing.
 *
 * @since 0.1.0
 */
export const operInfo = (n: NetworkRecord, e: EndpointRecord): Record<string, unknown> => ({
  [NetworkDriver.OptionKeys.PortMap]: (e.published ?? []).map((b) => ({
    Proto: protocolNumbers[b.proto],
    IP: plainIp(e.address),
    Port: b.port,
    HostIP: b.hostIp === "" ? "0.0.0.0" : b.hostIp,
    HostPort: b.hostPort,
    HostPortEnd: b.hostPort
  })),
  [NetworkDriver.OptionKeys.ExposedPorts]: e.exposedPorts ?? [],
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
