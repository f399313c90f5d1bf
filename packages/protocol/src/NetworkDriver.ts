/**
 * The NetworkDriver plugin API (`/NetworkDriver.*`, libnetwork's remote driver).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import * as Endpoint from "./Endpoint.ts"
import { Cidr, CidrOrEmpty, IpAddressOrEmpty } from "./IpamDriver.ts"
import * as PluginApi from "./PluginApi.ts"
import { AnyMap, Empty, StringMap } from "./Wire.ts"

const hexPair = "[0-9A-Fa-f]{2}"
const hexQuad = "[0-9A-Fa-f]{4}"
// Go's net.ParseMAC: 6, 8 or 20 bytes, as pairs joined by one kind of separator (`:` or `-`), or as dotted quads.
const separated = (sep: string, bytes: number) => `${hexPair}(?:${sep}${hexPair}){${bytes - 1}}`
const dotted = (bytes: number) => `${hexQuad}(?:\\.${hexQuad}){${bytes / 2 - 1}}`
const parseMacForms = [6, 8, 20].flatMap((n) => [separated(":", n), separated("-", n), dotted(n)])

/**
 * A MAC address in any form the daemon's parser (Go's `net.ParseMAC`) accepts: `02:42:ac:11:00:02`,
 * `02-42-ac-11-00-02`, `0242.ac11.0002`, and the 8- and 20-byte forms of each; or `""` when none is assigned. The
 * daemon itself always sends the colon form.
 *
 * @since 0.1.0
 */
export const MacAddressOrEmpty = Schema.String.check(
  Schema.isPattern(new RegExp(`^(?:${parseMacForms.join("|")})?$`), {
    message: 'Expected a MAC address such as 02:42:ac:11:00:02, or ""'
  })
)

/**
 * Keys the daemon puts in the `Options` maps of network calls.
 *
 * @since 0.1.0
 */
export const OptionKeys = {
  /** `CreateNetwork`: boolean, always present. */
  EnableIPv6: "com.docker.network.enable_ipv6",
  /** `CreateNetwork`/`GwAllocCheck` (Engine 28 and later): boolean; `false` with `--ipv4=false` (then no `IPv4Data`). */
  EnableIPv4: "com.docker.network.enable_ipv4",
  /** `CreateNetwork`: the `-o` driver options (string map), or the `AllocateNetwork` answer for swarm networks. */
  Generic: "com.docker.network.generic",
  /** `CreateNetwork`: `true`, only with `--internal`. */
  Internal: "com.docker.network.internal",
  /** `CreateEndpoint`: user MAC as base64 of the 6 raw bytes. */
  MacAddress: "com.docker.network.endpoint.macaddress",
  /**
   * `CreateEndpoint` (Engine 28 and later, from `--network name=N,driver-opt=...`): the interface name wanted in the
   * container. The remote driver proxy ignores a `DstName` in `Join`, so a plugin cannot honour it.
   */
  EndpointIfname: "com.docker.network.endpoint.ifname",
  /** `CreateEndpoint`: DNS servers (string array). */
  DnsServers: "com.docker.network.endpoint.dnsservers",
  /** `CreateEndpoint`/`Join`/`ProgramExternalConnectivity`: `[{"Proto","Port"}]`. */
  ExposedPorts: "com.docker.network.endpoint.exposedports",
  /** `CreateEndpoint`/`Join`/`ProgramExternalConnectivity`: `[{"Proto","IP","Port","HostIP","HostPort","HostPortEnd"}]`. */
  PortMap: "com.docker.network.portmap"
} as const

/**
 * Where a network's state lives (`Scope`) or how far its connectivity reaches (`ConnectivityScope`). Exact, lower
 * case: anything else makes the daemon refuse to register the driver.
 *
 * @since 0.1.0
 */
export const Scope = Schema.Literals(["local", "global"])

/**
 * `GetCapabilities` response. `ConnectivityScope` empty or absent means the same as `Scope`.
 *
 * @since 0.1.0
 */
export const CapabilitiesResponse = Schema.Struct({
  Scope: Scope,
  ConnectivityScope: Schema.optionalKey(Schema.Literals(["local", "global", ""])),
  /** Engine 28 and later: `true` makes the daemon send `GwAllocCheck` before each `CreateNetwork`. */
  GwAllocChecker: Schema.optionalKey(Schema.Boolean)
})

/**
 * @since 0.1.0
 */
export type CapabilitiesResponse = typeof CapabilitiesResponse.Type

/**
 * One subnet of a network as the IPAM driver allocated it. Encoded by the daemon from a map, so keys are sorted and
 * omitted when unset; `Gateway` and the aux addresses carry the pool's prefix length (`10.77.0.254/24`).
 *
 * @since 0.1.0
 */
export const IpamData = Schema.Struct({
  AddressSpace: Schema.String,
  AuxAddresses: Schema.optionalKey(Schema.Record(Schema.String, Cidr)),
  Gateway: Schema.optionalKey(Cidr),
  Pool: Schema.optionalKey(Cidr)
})

/**
 * @since 0.1.0
 */
export type IpamData = typeof IpamData.Type

/**
 * A list of `IpamData` as the daemon sends it: `[]` when there is none, `null` for a nil slice.
 *
 * @since 0.1.0
 */
export const IpamDataList = Schema.NullOr(Schema.Array(IpamData))

/**
 * `CreateNetwork` request. `Options` holds `OptionKeys.EnableIPv6`, `OptionKeys.Generic` and, with `--internal`,
 * `OptionKeys.Internal`; `IPv6Data` is `[]` when IPv6 is off.
 *
 * @since 0.1.0
 */
export const CreateNetworkRequest = Schema.Struct({
  NetworkID: Schema.String,
  Options: AnyMap,
  IPv4Data: IpamDataList,
  IPv6Data: IpamDataList
})

/**
 * @since 0.1.0
 */
export type CreateNetworkRequest = typeof CreateNetworkRequest.Type

/**
 * `GwAllocCheck` request (Engine 28 and later, drivers reporting `GwAllocChecker`): the `Options` the coming
 * `CreateNetwork` will carry, sent before the daemon reserves gateway addresses.
 *
 * @since 0.1.0
 */
export const GwAllocCheckRequest = Schema.Struct({ Options: AnyMap })

/**
 * @since 0.1.0
 */
export type GwAllocCheckRequest = typeof GwAllocCheckRequest.Type

/**
 * `GwAllocCheck` response: `true` tells the daemon not to reserve a gateway address of that family (absent =
 * `false`).
 *
 * @since 0.1.0
 */
export const GwAllocCheckResponse = Schema.Struct({
  SkipIPv4: Schema.optionalKey(Schema.Boolean),
  SkipIPv6: Schema.optionalKey(Schema.Boolean)
})

/**
 * @since 0.1.0
 */
export type GwAllocCheckResponse = typeof GwAllocCheckResponse.Type

/**
 * A request naming one network (`DeleteNetwork`, `FreeNetwork`).
 *
 * @since 0.1.0
 */
export const NetworkRequest = Schema.Struct({ NetworkID: Schema.String })

/**
 * `AllocateNetwork` request (swarm managers, global-scope drivers): string options, `IPv6Data` always `null`.
 *
 * @since 0.1.0
 */
export const AllocateNetworkRequest = Schema.Struct({
  NetworkID: Schema.String,
  Options: StringMap,
  IPv4Data: IpamDataList,
  IPv6Data: IpamDataList
})

/**
 * @since 0.1.0
 */
export type AllocateNetworkRequest = typeof AllocateNetworkRequest.Type

/**
 * `AllocateNetwork` response: the network's driver state, delivered to every node as the `OptionKeys.Generic` option
 * of `CreateNetwork` (it replaces the user's options there).
 *
 * @since 0.1.0
 */
export const AllocateNetworkResponse = Schema.Struct({ Options: StringMap })

/**
 * The endpoint interface the daemon has assigned so far: each field is `""` until assigned.
 *
 * @since 0.1.0
 */
export const EndpointInterface = Schema.Struct({
  Address: CidrOrEmpty,
  AddressIPv6: CidrOrEmpty,
  MacAddress: MacAddressOrEmpty
})

/**
 * `CreateEndpoint` request. `Options` may hold `OptionKeys.MacAddress`, `DnsServers`, `ExposedPorts`, `PortMap` and
 * per-endpoint driver options (`{}` if none).
 *
 * @since 0.1.0
 */
export const CreateEndpointRequest = Schema.Struct({
  NetworkID: Schema.String,
  EndpointID: Schema.String,
  Interface: EndpointInterface,
  Options: AnyMap
})

/**
 * @since 0.1.0
 */
export type CreateEndpointRequest = typeof CreateEndpointRequest.Type

/**
 * Interface fields a driver assigns in its `CreateEndpoint` answer. Only fields that were empty in the request may be
 * set; setting one the daemon already filled fails the call and the endpoint is rolled back.
 *
 * @since 0.1.0
 */
export const InterfaceUpdate = Schema.Struct({
  Address: Schema.optionalKey(CidrOrEmpty),
  AddressIPv6: Schema.optionalKey(CidrOrEmpty),
  MacAddress: Schema.optionalKey(MacAddressOrEmpty)
})

/**
 * `CreateEndpoint` response: `Interface` absent or `null` changes nothing (the common answer).
 *
 * @since 0.1.0
 */
export const CreateEndpointResponse = Schema.Struct({
  Interface: Schema.optionalKey(Schema.NullOr(InterfaceUpdate))
})

/**
 * @since 0.1.0
 */
export type CreateEndpointResponse = typeof CreateEndpointResponse.Type

/**
 * A request naming one endpoint (`EndpointOperInfo`, `DeleteEndpoint`, `Leave`, `RevokeExternalConnectivity`).
 *
 * @since 0.1.0
 */
export const EndpointRequest = Schema.Struct({ NetworkID: Schema.String, EndpointID: Schema.String })

/**
 * @since 0.1.0
 */
export type EndpointRequest = typeof EndpointRequest.Type

/**
 * `EndpointOperInfo` response: free-form operational data (the daemon effectively ignores it).
 *
 * @since 0.1.0
 */
export const EndpointOperInfoResponse = Schema.Struct({ Value: AnyMap })

/**
 * `Join` request. `SandboxKey` is the path of the container's network namespace; `Options` always holds
 * `OptionKeys.ExposedPorts` and `OptionKeys.PortMap`.
 *
 * @since 0.1.0
 */
export const JoinRequest = Schema.Struct({
  NetworkID: Schema.String,
  EndpointID: Schema.String,
  SandboxKey: Schema.String,
  Options: AnyMap
})

/**
 * @since 0.1.0
 */
export type JoinRequest = typeof JoinRequest.Type

/**
 * A host interface the daemon moves into the sandbox and renames to `DstPrefix` + index (`eth0`); `DstName` is
 * accepted and ignored.
 *
 * @since 0.1.0
 */
export const InterfaceName = Schema.Struct({
  SrcName: Schema.String,
  DstPrefix: Schema.String,
  DstName: Schema.optionalKey(Schema.String)
})

/**
 * Static route kind: 0 = via `NextHop`, 1 = connected (bound to the moved interface, `NextHop` ignored).
 *
 * @since 0.1.0
 */
export const RouteType = Schema.Literals([0, 1])

/**
 * A static route to install in the sandbox. A next-hop route (`RouteType` 0) needs its `NextHop`: the daemon takes
 * the `Join` answer without one, then fails to start the container when it looks up the route to that hop.
 *
 * @since 0.1.0
 */
export const StaticRoute = Schema.Struct({
  Destination: Cidr,
  RouteType: RouteType,
  NextHop: Schema.optionalKey(IpAddressOrEmpty)
}).check(
  Schema.makeFilter(
    (route) =>
      route.RouteType !== 0 ||
      (route.NextHop ?? "") !== "" || {
        path: ["NextHop"],
        issue: "Expected an IP address such as 10.0.0.1: a route of RouteType 0 goes via its NextHop"
      },
    {
      // JSON Schema: the same rule, so plugins in other languages validating against it are told too.
      toJsonSchema: () => ({
        anyOf: [
          { properties: { RouteType: { const: 1 } } },
          { required: ["NextHop"], properties: { NextHop: { minLength: 1 } } }
        ]
      })
    }
  )
)

/**
 * `Join` response. Gateways are plain IPs (no prefix); without a gateway, a `0.0.0.0/0` route or
 * `DisableGatewayService`, the daemon also connects the container to `docker_gwbridge`.
 *
 * @since 0.1.0
 */
export const JoinResponse = Schema.Struct({
  InterfaceName: Schema.optionalKey(Schema.NullOr(InterfaceName)),
  Gateway: Schema.optionalKey(IpAddressOrEmpty),
  GatewayIPv6: Schema.optionalKey(IpAddressOrEmpty),
  StaticRoutes: Schema.optionalKey(Schema.NullOr(Schema.Array(StaticRoute))),
  DisableGatewayService: Schema.optionalKey(Schema.Boolean)
})

/**
 * @since 0.1.0
 */
export type JoinResponse = typeof JoinResponse.Type

/**
 * `ProgramExternalConnectivity` request: the same sandbox `Options` as `Join`.
 *
 * @since 0.1.0
 */
export const ProgramExternalConnectivityRequest = Schema.Struct({
  NetworkID: Schema.String,
  EndpointID: Schema.String,
  Options: AnyMap
})

/**
 * A node of the cluster: its data-path `Address`, its `BindAddress` (`""` for cluster-store discovery) and whether
 * it is this node.
 *
 * @since 0.1.0
 */
export const NodeDiscoveryData = Schema.Struct({
  Address: Schema.String,
  BindAddress: Schema.String,
  Self: Schema.Boolean
})

/**
 * `DiscoverNew`/`DiscoverDelete` request. The daemon forwards node discovery (type 1) only.
 *
 * @since 0.1.0
 */
export const DiscoveryNotification = Schema.Struct({
  DiscoveryType: Schema.Literal(1),
  DiscoveryData: NodeDiscoveryData
})

/**
 * @since 0.1.0
 */
export type DiscoveryNotification = typeof DiscoveryNotification.Type

/**
 * The NetworkDriver API declaration.
 *
 * @since 0.1.0
 */
export const Api = PluginApi.make({
  prefix: "NetworkDriver",
  subsystem: "NetworkDriver",
  interfaceType: "docker.networkdriver/1.0",
  endpoints: {
    getCapabilities: Endpoint.json("GetCapabilities", Empty, CapabilitiesResponse, {
      description: "Report the driver's data and connectivity scope; mandatory (registration fails without it).",
      emptyBody: true
    }),
    createNetwork: Endpoint.json("CreateNetwork", CreateNetworkRequest, Empty, {
      description: "Create a network with the subnets IPAM allocated for it."
    }),
    deleteNetwork: Endpoint.json("DeleteNetwork", NetworkRequest, Empty, {
      description: "Delete a network (the daemon removes it even if this fails)."
    }),
    allocateNetwork: Endpoint.json("AllocateNetwork", AllocateNetworkRequest, AllocateNetworkResponse, {
      description: "Swarm manager, global-scope drivers: allocate a swarm network and return its driver state."
    }),
    freeNetwork: Endpoint.json("FreeNetwork", NetworkRequest, Empty, {
      description: "Swarm manager, global-scope drivers: free a swarm network."
    }),
    createEndpoint: Endpoint.json("CreateEndpoint", CreateEndpointRequest, CreateEndpointResponse, {
      description: "Create an endpoint; may assign interface fields the daemon left empty."
    }),
    endpointOperInfo: Endpoint.json("EndpointOperInfo", EndpointRequest, EndpointOperInfoResponse, {
      description: "Return operational data about an endpoint."
    }),
    deleteEndpoint: Endpoint.json("DeleteEndpoint", EndpointRequest, Empty, {
      description: "Delete an endpoint (after Leave, or as a rollback)."
    }),
    join: Endpoint.json("Join", JoinRequest, JoinResponse, {
      description: "Attach an endpoint to a container sandbox: interface to move, gateways, static routes."
    }),
    leave: Endpoint.json("Leave", EndpointRequest, Empty, {
      description: "Detach an endpoint from its sandbox (errors are only logged)."
    }),
    discoverNew: Endpoint.json("DiscoverNew", DiscoveryNotification, Empty, {
      description: "A node joined the cluster; optional (errors are only logged).",
      optional: true,
      whenAbsent: { _tag: "Respond", body: {} }
    }),
    discoverDelete: Endpoint.json("DiscoverDelete", DiscoveryNotification, Empty, {
      description: "A node left the cluster; optional (errors are only logged).",
      optional: true,
      whenAbsent: { _tag: "Respond", body: {} }
    }),
    programExternalConnectivity: Endpoint.json(
      "ProgramExternalConnectivity",
      ProgramExternalConnectivityRequest,
      Empty,
      {
        description: "Set up port publishing/NAT for the container's gateway endpoint; optional (404 is success).",
        optional: true,
        whenAbsent: { _tag: "Respond", body: {} }
      }
    ),
    revokeExternalConnectivity: Endpoint.json("RevokeExternalConnectivity", EndpointRequest, Empty, {
      description: "Undo ProgramExternalConnectivity; optional (404 is success).",
      optional: true,
      whenAbsent: { _tag: "Respond", body: {} }
    }),
    gwAllocCheck: Endpoint.json("GwAllocCheck", GwAllocCheckRequest, GwAllocCheckResponse, {
      description:
        "Engine 28 and later: say whether the daemon should skip reserving gateway addresses for a network about to be created; optional (only sent when GetCapabilities reports GwAllocChecker).",
      optional: true
    })
  }
})

/**
 * The driver interface a network plugin implements.
 *
 * @since 0.1.0
 */
export type Driver = PluginApi.Driver<typeof Api>

/**
 * The service through which a network driver is provided to the server.
 *
 * @since 0.1.0
 */
export class NetworkDriver extends Context.Service<NetworkDriver, Driver>()(Api.serviceKey) {}

/**
 * Builds a NetworkDriver driver from exactly its methods: an unknown or misspelt method does not compile.
 *
 * @since 0.1.0
 */
export const make = PluginApi.driverConstructor(Api)
