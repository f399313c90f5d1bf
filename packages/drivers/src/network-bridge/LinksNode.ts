/**
 * `Links` on the host, through iproute2's `ip` command (`ip -j` for JSON listings). Needs CAP_NET_ADMIN.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RunProgram from "../shared/RunProgram.ts"
import { type Link, Links, LinksError, type Service } from "./Links.ts"

/**
 * Runs `ip` with arguments; fails with its error output.
 *
 * @since 0.1.0
 */
export const ip = (operation: string, name: string, args: ReadonlyArray<string>): Effect.Effect<string, LinksError> =>
  RunProgram.run("ip", args, (reason) => new LinksError({ operation, name, reason }))

interface IpAddrJson {
  readonly ifname?: string
  readonly mtu?: number
  readonly flags?: ReadonlyArray<string>
  readonly address?: string
  readonly master?: string
  readonly ifalias?: string
  readonly linkinfo?: { readonly info_kind?: string }
  readonly addr_info?: ReadonlyArray<{ readonly local?: string; readonly prefixlen?: number; readonly scope?: string }>
}

/**
 * Reads `ip -j -d addr show` output.
 *
 * @since 0.1.0
 */
export const parseList = (json: string): ReadonlyArray<Link> =>
  (JSON.parse(json) as ReadonlyArray<IpAddrJson>).flatMap((l): ReadonlyArray<Link> => {
    if (l.ifname === undefined) return []
    const kind = l.linkinfo?.info_kind
    return [
      {
        name: l.ifname,
        kind: kind === "bridge" ? "bridge" : kind === "veth" ? "veth" : "other",
        mtu: l.mtu ?? 0,
        up: (l.flags ?? []).includes("UP"),
        macAddress: l.address ?? "",
        ...(l.master === undefined ? {} : { master: l.master }),
        ...(l.ifalias === undefined || l.ifalias === "" ? {} : { alias: l.ifalias }),
        addresses: (l.addr_info ?? [])
          .filter((a) => a.scope === "global" && a.local !== undefined)
          .map((a) => `${a.local}/${a.prefixlen}`)
      }
    ]
  })

const exists = (e: LinksError) => /File exists|already assigned/.test(e.reason)
const missing = (e: LinksError) => /Cannot find device|does not exist/.test(e.reason)

/**
 * The service on the host.
 *
 * @since 0.1.0
 */
export const make: Service = Links.of({
  list: Effect.flatMap(ip("list", "links", ["-j", "-d", "addr", "show"]), (out) =>
    Effect.try({
      try: () => parseList(out),
      catch: (e) => new LinksError({ operation: "list", name: "links", reason: `unreadable ip output: ${e}` })
    })
  ),
  addBridge: (name, { mtu, alias }) =>
    Effect.gen(function* () {
      const mtuArgs = mtu === undefined ? [] : ["mtu", String(mtu)]
      yield* ip("create bridge", name, ["link", "add", "name", name, ...mtuArgs, "type", "bridge"])
      yield* ip("tag", name, ["link", "set", "dev", name, "alias", alias])
      yield* ip("bring up", name, ["link", "set", "dev", name, "up"])
    }),
  addVeth: ({ host, container, bridge, containerMac, mtu, alias }) =>
    Effect.gen(function* () {
      const mtuArgs = mtu === undefined ? [] : ["mtu", String(mtu)]
      yield* ip("create veth", host, [
        "link",
        "add",
        "name",
        host,
        ...mtuArgs,
        "type",
        "veth",
        "peer",
        "name",
        container,
        ...mtuArgs,
        "address",
        containerMac
      ])
      yield* ip("tag", host, ["link", "set", "dev", host, "alias", alias])
      yield* ip("tag", container, ["link", "set", "dev", container, "alias", alias])
      yield* ip("attach", host, ["link", "set", "dev", host, "master", bridge, "up"])
    }),
  addAddress: (name, cidr) =>
    // IPv6 without duplicate address detection: the address is the gateway at once, not after a second or two.
    ip("add address", name, ["addr", "add", cidr, "dev", name, ...(cidr.includes(":") ? ["nodad"] : [])]).pipe(
      Effect.catchIf(exists, () => Effect.succeed("")),
      Effect.asVoid
    ),
  attach: (name, bridge) => Effect.asVoid(ip("attach", name, ["link", "set", "dev", name, "master", bridge, "up"])),
  setUp: (name) => Effect.asVoid(ip("bring up", name, ["link", "set", "dev", name, "up"])),
  remove: (name) =>
    ip("delete", name, ["link", "del", "dev", name]).pipe(
      Effect.catchIf(missing, () => Effect.succeed("")),
      Effect.asVoid
    )
})

/**
 * The host Layer.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Links> = Layer.succeed(Links, make)
