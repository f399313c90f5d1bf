/**
 * The options of a `network-bridge` network: the driver options of `docker network create -o KEY=VALUE` (the
 * daemon's `com.docker.network.generic` map) and the daemon's own keys (`--internal`). An unknown key or a
 * malformed value is refused at `CreateNetwork` (and at `GwAllocCheck`) with a message naming it.
 *
 * | key (alias) | value | effect |
 * | --- | --- | --- |
 * | `bridge` (`com.docker.network.bridge.name`) | interface name, at most 15 characters | the bridge's name (default `dpk-` + the first 11 characters of the network ID) |
 * | `mtu` (`com.docker.network.driver.mtu`) | 68 to 65535 (at least 1280 with IPv6) | MTU of the bridge and of every veth of the network |
 * | `internal` | `true`/`false` (Go's `ParseBool`) | no gateway, no default route out (same as `docker network create --internal`) |
 * | `prefix` (`com.docker.network.container_iface_prefix`) | letters and digits, at most 12 | interface name prefix in the container (default `eth`) |
 * | `routes` | comma-separated `CIDR` (on-link) or `CIDR@NEXTHOP`, each destination once (not the network's own IPv4 subnet, nor a default route of a family it has a gateway of: checked at `CreateNetwork`) | static routes given to every container that joins |
 * | `masquerade` | `true`/`false` (default `false`) | outbound NAT: an iptables MASQUERADE rule for the IPv4 subnet, for traffic leaving through another interface (not on internal networks) |
 *
 * @since 0.1.0
 */
import { NetworkDriver } from "@docker-plugin-kit/protocol"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as IpInterface from "effect/net/IpInterface"
import * as IpNetwork from "effect/net/IpNetwork"
import * as NetAddress from "effect/net/NetAddress"
import { InvalidOption } from "./BridgeErrors.ts"
import * as GoBool from "../shared/GoBool.ts"

/**
 * A static route given to containers: on-link when `nextHop` is absent.
 *
 * @since 0.1.0
 */
export const Route = Schema.Struct({
  destination: Schema.String,
  nextHop: Schema.optionalKey(Schema.String)
})

/**
 * @since 0.1.0
 */
export type Route = typeof Route.Type

/**
 * The decoded settings of a network (also the form they are persisted in).
 *
 * @since 0.1.0
 */
export const Settings = Schema.Struct({
  /** Bridge name asked for; absent means the driver's default. */
  bridge: Schema.optionalKey(Schema.String),
  mtu: Schema.optionalKey(Schema.Number),
  internal: Schema.Boolean,
  /** `DstPrefix` of the container interface. */
  prefix: Schema.String,
  routes: Schema.Array(Route),
  /** Outbound NAT of the IPv4 subnet; absent means off (state files written before the option read the same). */
  masquerade: Schema.optionalKey(Schema.Boolean)
})

/**
 * @since 0.1.0
 */
export type Settings = typeof Settings.Type

/**
 * Default container interface prefix (`eth0`, `eth1`, ...).
 *
 * @since 0.1.0
 */
export const defaultPrefix = "eth"

type Key = "bridge" | "mtu" | "internal" | "prefix" | "routes" | "masquerade"

const aliases: Readonly<Record<string, Key>> = {
  bridge: "bridge",
  "com.docker.network.bridge.name": "bridge",
  mtu: "mtu",
  "com.docker.network.driver.mtu": "mtu",
  internal: "internal",
  prefix: "prefix",
  "com.docker.network.container_iface_prefix": "prefix",
  routes: "routes",
  masquerade: "masquerade"
}

/**
 * The keys `network-bridge` understands, as listed in error messages.
 *
 * @since 0.1.0
 */
export const knownKeys: ReadonlyArray<string> = Object.keys(aliases)

/** Linux interface names: at most 15 bytes, no `/`, `:` or whitespace; kept to a portable set. */
const interfaceName = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/

/**
 * Whether a string is usable as a Linux interface name.
 *
 * @since 0.1.0
 */
export const isInterfaceName = (name: string): boolean => interfaceName.test(name) && name !== "." && name !== ".."

const parseRoute = (text: string): Result.Result<Route, string> => {
  const [destination = "", nextHop, ...rest] = text.trim().split("@")
  if (rest.length > 0) return Result.fail(`"${text}" has more than one @`)
  const parsed = IpInterface.fromString(destination, { prefix: "required" })
  if (Result.isFailure(parsed)) return Result.fail(`"${destination}" is not a CIDR such as 10.9.0.0/16`)
  // The kernel refuses a route whose destination has host bits set, and only when a container joins.
  const network = IpNetwork.format(IpNetwork.fromInterface(parsed.success))
  if (network !== IpInterface.format(parsed.success)) {
    return Result.fail(`"${destination}" has host bits set: the network is ${network}`)
  }
  if (nextHop === undefined) return Result.succeed({ destination })
  const hop = NetAddress.ipFromString(nextHop)
  if (Result.isFailure(hop)) return Result.fail(`next hop "${nextHop}" is not an IP address`)
  if (NetAddress.familyOf(hop.success) !== NetAddress.familyOf(parsed.success.address)) {
    return Result.fail(`next hop ${nextHop} is not of the family of ${destination}`)
  }
  return Result.succeed({ destination, nextHop })
}

/**
 * A CIDR as its network in canonical form (`10.0.0.5/24` is `10.0.0.0/24`, `FD00:1:0::/64` is `fd00:1::/64`), or
 * `undefined` when it is not one.
 *
 * @since 0.1.0
 */
export const networkOf = (cidr: string): string | undefined => {
  const parsed = IpInterface.fromString(cidr, { prefix: "required" })
  return Result.isSuccess(parsed) ? IpNetwork.format(IpNetwork.fromInterface(parsed.success)) : undefined
}

/** The smallest MTU IPv6 works on: the kernel refuses every IPv6 address of a link with a smaller one. */
const minIpv6Mtu = 1280

const parseValue = (key: Key, value: string): Result.Result<Partial<Settings>, string> => {
  switch (key) {
    case "bridge":
      return isInterfaceName(value)
        ? Result.succeed({ bridge: value })
        : Result.fail("expected an interface name of 1 to 15 letters, digits, '_', '.' or '-'")
    case "mtu": {
      const mtu = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN
      return mtu >= 68 && mtu <= 65535 ? Result.succeed({ mtu }) : Result.fail("expected an MTU from 68 to 65535")
    }
    case "internal": {
      const internal = GoBool.parse(value)
      return internal === undefined ? Result.fail("expected true or false") : Result.succeed({ internal })
    }
    case "prefix":
      return /^[A-Za-z][A-Za-z0-9]{0,11}$/.test(value)
        ? Result.succeed({ prefix: value })
        : Result.fail("expected 1 to 12 letters or digits, starting with a letter")
    case "masquerade": {
      const masquerade = GoBool.parse(value)
      // Off is the default and is not recorded, so a network created with `masquerade=false` reads as one without.
      return masquerade === undefined
        ? Result.fail("expected true or false")
        : Result.succeed(masquerade ? { masquerade } : {})
    }
    case "routes": {
      const routes: Array<Route> = []
      const destinations = new Set<string>()
      for (const part of value.split(",").filter((p) => p.trim() !== "")) {
        const route = parseRoute(part)
        if (Result.isFailure(route)) return Result.fail(route.failure)
        // Every route is added with the same metric, so the kernel refuses a second one to the same destination
        // ("file exists"), and only when a container joins.
        const destination = networkOf(route.success.destination)!
        if (destinations.has(destination)) return Result.fail(`a route to ${destination} is given twice`)
        destinations.add(destination)
        routes.push(route.success)
      }
      return Result.succeed({ routes })
    }
  }
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Decodes the `Options` of `CreateNetwork` or `GwAllocCheck`. Only the generic (driver) options are checked for
 * unknown keys: the daemon's own keys vary with the engine version.
 *
 * @since 0.1.0
 */
export const decode = (
  options: Readonly<Record<string, unknown>> | null | undefined
): Result.Result<Settings, InvalidOption> => {
  const fail = (reason: string) => Result.fail(new InvalidOption({ reason }))
  const generic = options?.[NetworkDriver.OptionKeys.Generic] ?? {}
  if (!isRecord(generic)) return fail(`${NetworkDriver.OptionKeys.Generic}: expected an object of driver options`)
  const unknown = Object.keys(generic).filter((k) => !Object.hasOwn(aliases, k))
  if (unknown.length > 0) {
    return fail(
      `unknown option${unknown.length > 1 ? "s" : ""} ${unknown.sort().join(", ")} (network-bridge understands ${knownKeys.join(", ")})`
    )
  }
  let settings: Settings = {
    internal: options?.[NetworkDriver.OptionKeys.Internal] === true,
    prefix: defaultPrefix,
    routes: []
  }
  const seen = new Map<Key, string>()
  for (const [name, raw] of Object.entries(generic).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const key = aliases[name]!
    const earlier = seen.get(key)
    if (earlier !== undefined) return fail(`options ${earlier} and ${name} set the same thing; give one`)
    seen.set(key, name)
    if (typeof raw !== "string") return fail(`option ${name}: expected a string, got ${JSON.stringify(raw)}`)
    const parsed = parseValue(key, raw)
    if (Result.isFailure(parsed)) return fail(`option ${name}=${raw}: ${parsed.failure}`)
    // `--internal` wins over `-o internal=false`: the daemon already treats the network as internal.
    settings = { ...settings, ...parsed.success, internal: settings.internal || (parsed.success.internal ?? false) }
  }
  // Refused now rather than as the kernel's "No buffer space available" when the bridge or a container gets its
  // IPv6 address.
  const mtuName = seen.get("mtu")
  if (options?.[NetworkDriver.OptionKeys.EnableIPv6] === true && mtuName !== undefined && settings.mtu! < minIpv6Mtu) {
    return fail(
      `option ${mtuName}=${String(generic[mtuName])}: IPv6 needs an MTU of at least ${minIpv6Mtu}, and the network has IPv6 enabled`
    )
  }
  return Result.succeed(settings)
}
