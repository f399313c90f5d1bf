/**
 * The IpamDriver plugin API (`/IpamDriver.*`, libnetwork's remote IPAM). Its responses carry errors in `Error`,
 * not `Err`; addresses go out as CIDR strings and come in as plain IPs.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as IpInterface from "effect/net/IpInterface"
import * as NetAddress from "effect/net/NetAddress"
import * as Endpoint from "./Endpoint.ts"
import * as PluginApi from "./PluginApi.ts"
import { Empty, StringMap } from "./Wire.ts"

const octet = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
const ipv4 = `${octet}(\\.${octet}){3}`
const ipv6 = "fd[0-9a-f]{2}(:[1-9a-f][0-9a-f]{0,3}){0,3}::([1-9a-f][0-9a-f]{0,3})?"
const prefix4 = "(3[0-2]|[12]?[0-9])"
const prefix6 = "(12[0-8]|1[01][0-9]|[1-9]?[0-9])"

const addressString = (options: {
  readonly valid: (s: string) => boolean
  readonly expected: string
  readonly generate: string
  readonly jsonPattern: string
  readonly allowEmpty: boolean
}) =>
  Schema.String.check(
    Schema.makeFilter((s: string) => (options.allowEmpty && s === "") || options.valid(s), {
      expected: options.allowEmpty ? `${options.expected}, or ""` : options.expected,
      // Generation hint for property tests: a constructive pattern; the predicate above stays authoritative.
      arbitraryConstraint: {
        patterns: [{ source: options.allowEmpty ? `^(${options.generate})?$` : `^${options.generate}$`, flags: "" }]
      },
      // JSON Schema: a loose pattern (the exact rule is an address parser, not a regular expression).
      toJsonSchema: () => [
        { pattern: options.allowEmpty ? `^(${options.jsonPattern})?$` : `^${options.jsonPattern}$` },
        true
      ]
    })
  )

const isCidr = (s: string) => Result.isSuccess(IpInterface.fromString(s, { prefix: "required" }))
const isIp = (s: string) => Result.isSuccess(NetAddress.ipFromString(s))
const cidrGenerate = `(${ipv4}/${prefix4}|${ipv6}/${prefix6})`
const cidrJson = "[0-9A-Fa-f:.]+/[0-9]{1,3}"
const ipGenerate = `(${ipv4}|${ipv6})`
const ipJson = "[0-9A-Fa-f:.]+"

/**
 * An address with its prefix length, as Go's `net.IPNet.String()` writes it and `net.ParseCIDR` reads it: IPv4 or
 * IPv6, host bits allowed (`10.77.0.254/24` is a gateway in a `/24`).
 *
 * @since 0.1.0
 */
export const Cidr = addressString({
  valid: isCidr,
  expected: "a CIDR address such as 10.0.0.1/24",
  generate: cidrGenerate,
  jsonPattern: cidrJson,
  allowEmpty: false
})

/**
 * A CIDR address, or `""` for "none"/"pick one for me".
 *
 * @since 0.1.0
 */
export const CidrOrEmpty = addressString({
  valid: isCidr,
  expected: "a CIDR address such as 10.0.0.1/24",
  generate: cidrGenerate,
  jsonPattern: cidrJson,
  allowEmpty: true
})

/**
 * A plain IPv4 or IPv6 address, without a prefix length.
 *
 * @since 0.1.0
 */
export const IpAddress = addressString({
  valid: isIp,
  expected: "an IP address such as 10.0.0.1",
  generate: ipGenerate,
  jsonPattern: ipJson,
  allowEmpty: false
})

/**
 * A plain IP address, or `""` for "none"/"any".
 *
 * @since 0.1.0
 */
export const IpAddressOrEmpty = addressString({
  valid: isIp,
  expected: "an IP address such as 10.0.0.1",
  generate: ipGenerate,
  jsonPattern: ipJson,
  allowEmpty: true
})

/**
 * Option and data keys the daemon uses in IPAM calls.
 *
 * @since 0.1.0
 */
export const Labels = {
  /** `RequestPool` response `Data` key: the network gateway (CIDR); the daemon then asks no gateway address. */
  Gateway: "com.docker.network.gateway",
  /** `RequestAddress` option key marking the gateway request (its value is `Labels.Gateway`). */
  RequestAddressType: "RequestAddressType",
  /** `RequestAddress` option key carrying the endpoint MAC (colon form) when the driver requires MAC addresses. */
  MacAddress: "com.docker.network.endpoint.macaddress"
} as const

/**
 * `GetCapabilities` response. Optional for the daemon: any error means both `false`.
 *
 * @since 0.1.0
 */
export const CapabilitiesResponse = Schema.Struct({
  /** The daemon generates a MAC for each endpoint and passes it in `RequestAddress` options. */
  RequiresMACAddress: Schema.optionalKey(Schema.Boolean),
  /** The daemon replays pool and address requests at start-up so an in-memory driver can rebuild its state. */
  RequiresRequestReplay: Schema.optionalKey(Schema.Boolean)
})

/**
 * @since 0.1.0
 */
export type CapabilitiesResponse = typeof CapabilitiesResponse.Type

/**
 * `GetDefaultAddressSpaces` response: two opaque names the daemon later passes back as `AddressSpace`.
 *
 * @since 0.1.0
 */
export const AddressSpacesResponse = Schema.Struct({
  LocalDefaultAddressSpace: Schema.String,
  GlobalDefaultAddressSpace: Schema.String
})

/**
 * @since 0.1.0
 */
export type AddressSpacesResponse = typeof AddressSpacesResponse.Type

/**
 * `RequestPool` request. Every field is always sent; `Pool`/`SubPool` are `""` when the user gave none, `Options`
 * is `{}` from the CLI and `null` from API clients that omit IPAM options.
 *
 * @since 0.1.0
 */
export const RequestPoolRequest = Schema.Struct({
  AddressSpace: Schema.String,
  Pool: CidrOrEmpty,
  SubPool: CidrOrEmpty,
  Options: StringMap,
  V6: Schema.Boolean
})

/**
 * @since 0.1.0
 */
export type RequestPoolRequest = typeof RequestPoolRequest.Type

/**
 * `RequestPool` response. `Pool` must be a CIDR (an empty or bare-IP value fails the network creation).
 *
 * @since 0.1.0
 */
export const RequestPoolResponse = Schema.Struct({
  PoolID: Schema.String,
  Pool: Cidr,
  Data: StringMap
})

/**
 * @since 0.1.0
 */
export type RequestPoolResponse = typeof RequestPoolResponse.Type

/**
 * `ReleasePool` request.
 *
 * @since 0.1.0
 */
export const ReleasePoolRequest = Schema.Struct({ PoolID: Schema.String })

/**
 * `RequestAddress` request: `Address` is a plain IP or `""` (any free address); `Options` is `null` for endpoints
 * and aux addresses, the gateway marker for the gateway.
 *
 * @since 0.1.0
 */
export const RequestAddressRequest = Schema.Struct({
  PoolID: Schema.String,
  Address: IpAddressOrEmpty,
  Options: StringMap
})

/**
 * @since 0.1.0
 */
export type RequestAddressRequest = typeof RequestAddressRequest.Type

/**
 * `RequestAddress` response: `Address` must be CIDR, conventionally with the pool's prefix length.
 *
 * @since 0.1.0
 */
export const RequestAddressResponse = Schema.Struct({
  Address: Cidr,
  Data: StringMap
})

/**
 * @since 0.1.0
 */
export type RequestAddressResponse = typeof RequestAddressResponse.Type

/**
 * `ReleaseAddress` request: `Address` is a plain IP.
 *
 * @since 0.1.0
 */
export const ReleaseAddressRequest = Schema.Struct({ PoolID: Schema.String, Address: IpAddress })

/**
 * @since 0.1.0
 */
export type ReleaseAddressRequest = typeof ReleaseAddressRequest.Type

/**
 * The IpamDriver API declaration.
 *
 * @since 0.1.0
 */
export const Api = PluginApi.make({
  prefix: "IpamDriver",
  subsystem: "IpamDriver",
  interfaceType: "docker.ipamdriver/1.0",
  errorField: "Error",
  endpoints: {
    getCapabilities: Endpoint.json("GetCapabilities", Empty, CapabilitiesResponse, {
      description: "Report whether the driver needs MAC addresses or request replay; optional (both default to false).",
      emptyBody: true,
      optional: true,
      whenAbsent: { _tag: "Respond", body: { RequiresMACAddress: false, RequiresRequestReplay: false } }
    }),
    getDefaultAddressSpaces: Endpoint.json("GetDefaultAddressSpaces", Empty, AddressSpacesResponse, {
      description: "Name the default local and global address spaces; an error makes the driver unusable.",
      emptyBody: true
    }),
    requestPool: Endpoint.json("RequestPool", RequestPoolRequest, RequestPoolResponse, {
      description: "Allocate an address pool (the requested subnet, or one of the driver's choice) and return its ID."
    }),
    releasePool: Endpoint.json("ReleasePool", ReleasePoolRequest, Empty, {
      description: "Release a pool after its addresses were released."
    }),
    requestAddress: Endpoint.json("RequestAddress", RequestAddressRequest, RequestAddressResponse, {
      description: "Allocate an address (the requested one, or any free one) from a pool; answer in CIDR form."
    }),
    releaseAddress: Endpoint.json("ReleaseAddress", ReleaseAddressRequest, Empty, {
      description: "Return an address to its pool."
    })
  }
})

/**
 * The driver interface an IPAM plugin implements.
 *
 * @since 0.1.0
 */
export type Driver = PluginApi.Driver<typeof Api>

/**
 * The service through which an IPAM driver is provided to the server.
 *
 * @since 0.1.0
 */
export class IpamDriver extends Context.Service<IpamDriver, Driver>()(Api.serviceKey) {}

/**
 * Builds a IpamDriver driver from exactly its methods: an unknown or misspelt method does not compile.
 *
 * @since 0.1.0
 */
export const make = PluginApi.driverConstructor(Api)
