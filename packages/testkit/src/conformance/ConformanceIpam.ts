/**
 * The IpamDriver conformance suite: what the daemon relies on (protocol/ipam.md), checked over the wire. Every pool
 * a check requests is released when the check ends, so the suite can run against a plugin in use (it only takes
 * pools the plugin picks itself, or pools it just handed out and got back).
 *
 * @since 0.1.0
 */
import type { PluginClient } from "@docker-plugin-kit/client"
import { IpamDriver, Manifest } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Net from "node:net"
import * as Conformance from "./Conformance.ts"

const E = IpamDriver.Api.endpoints
const gatewayOption = { [IpamDriver.Labels.RequestAddressType]: IpamDriver.Labels.Gateway }

/** Whether `address` (plain or CIDR) lies in the CIDR block `pool` (Node's BlockList does the prefix math). */
const inPool = (pool: string, address: string): boolean => {
  const [network = "", length = ""] = pool.split("/")
  const ip = address.split("/")[0] ?? ""
  const family = Net.isIPv6(network) ? "ipv6" : "ipv4"
  if (Net.isIP(ip) === 0 || (family === "ipv6") !== Net.isIPv6(ip)) return false
  const list = new Net.BlockList()
  list.addSubnet(network, Number(length), family)
  return list.check(ip, family)
}

const overlap = (a: string, b: string) => inPool(a, b.split("/")[0]!) || inPool(b, a.split("/")[0]!)

/**
 * Expects a failure the daemon reads as one: 200 with a non-empty `Error` (shown as `remote: …`), or any other
 * status with a non-empty `Err` (shown as `IpamDriver.Method: …`).
 *
 * @since 0.1.0
 */
export const expectIpamFailure = (
  exchange: PluginClient.Exchange,
  what: string
): Effect.Effect<void, Conformance.CheckFailed> => {
  const { status, body, text } = exchange.response
  const record = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {}
  const field = status === 200 ? "Error" : "Err"
  if (typeof record[field] === "string" && record[field] !== "") return Effect.void
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text
  return Conformance.fail(
    exchange,
    status === 200
      ? `${what} should fail with a non-empty Error, but answered: ${shown || "(empty body)"}`
      : `${what} failed with status ${status} without a non-empty "Err" (the daemon reads only Err on non-200): ${shown || "(empty body)"}`
  )
}

const pool = (
  context: Conformance.Context,
  request: Partial<IpamDriver.RequestPoolRequest> = {}
): Effect.Effect<{ readonly PoolID: string; readonly Pool: string }, Conformance.CheckFailed, never> =>
  Effect.flatMap(
    Conformance.send(context, E.requestPool.path, {
      AddressSpace: "",
      Pool: "",
      SubPool: "",
      Options: {},
      V6: false,
      ...request
    }),
    (ex) => Conformance.expectSuccess(ex, E.requestPool, "Error")
  )

/** The default local address space, as the daemon learns it at registration. */
const localSpace = (context: Conformance.Context) =>
  Effect.flatMap(Conformance.send(context, E.getDefaultAddressSpaces.path), (ex) =>
    Effect.map(Conformance.expectSuccess(ex, E.getDefaultAddressSpaces, "Error"), (r) => r.LocalDefaultAddressSpace)
  )

/** Requests a pool for the check and releases it (best effort) when the check ends. */
const held = (context: Conformance.Context, request: Partial<IpamDriver.RequestPoolRequest> = {}) =>
  Effect.acquireRelease(
    Effect.flatMap(localSpace(context), (AddressSpace) => pool(context, { AddressSpace, ...request })),
    ({ PoolID }) => Effect.ignore(context.client.exchange(E.releasePool.path, { PoolID }))
  )

const address = (context: Conformance.Context, request: IpamDriver.RequestAddressRequest) =>
  Effect.flatMap(Conformance.send(context, E.requestAddress.path, request), (ex) =>
    Effect.map(Conformance.expectSuccess(ex, E.requestAddress, "Error"), (r) => ({ ex, Address: r.Address }))
  )

const release = (
  context: Conformance.Context,
  endpoint: typeof E.releasePool | typeof E.releaseAddress,
  body: unknown
) =>
  Effect.flatMap(Conformance.send(context, endpoint.path, body), (ex) =>
    Conformance.expectSuccess(ex, endpoint, "Error")
  )

/**
 * Every IpamDriver check.
 *
 * @since 0.1.0
 */
export const checks: ReadonlyArray<Conformance.Check> = [
  Conformance.check(
    "Plugin.Activate lists IpamDriver",
    { why: "The daemon activates a v1 plugin with an empty POST and uses it only for what Implements lists." },
    (context) =>
      Effect.gen(function* () {
        const ex = yield* Conformance.send(context, Manifest.Activate.path)
        const manifest = yield* Conformance.expectSuccess(ex, Manifest.Activate)
        if (!(manifest.Implements ?? []).includes("IpamDriver")) {
          yield* Conformance.fail(ex, `Implements ${JSON.stringify(manifest.Implements)} does not list "IpamDriver"`)
        }
      })
  ),
  Conformance.check(
    "GetCapabilities (empty body) answers the same every time, or 404",
    { why: "Sent once at registration with an empty body; any error means both capabilities false." },
    (context) =>
      Effect.gen(function* () {
        const first = yield* Conformance.send(context, E.getCapabilities.path)
        if (first.response.status === 404) return
        const a = yield* Conformance.expectSuccess(first, E.getCapabilities, "Error")
        const second = yield* Conformance.send(context, E.getCapabilities.path)
        const b = yield* Conformance.expectSuccess(second, E.getCapabilities, "Error")
        if (JSON.stringify(a) !== JSON.stringify(b)) {
          yield* Conformance.fail(second, `capabilities changed from ${JSON.stringify(a)} to ${JSON.stringify(b)}`)
        }
      })
  ),
  Conformance.check(
    "GetDefaultAddressSpaces (empty body) names a local and a global space",
    { why: "Mandatory: an error here makes the driver unusable; the names come back as AddressSpace." },
    (context) =>
      Effect.gen(function* () {
        const ex = yield* Conformance.send(context, E.getDefaultAddressSpaces.path)
        const spaces = yield* Conformance.expectSuccess(ex, E.getDefaultAddressSpaces, "Error")
        if (spaces.LocalDefaultAddressSpace === "" || spaces.GlobalDefaultAddressSpace === "") {
          yield* Conformance.fail(ex, "an address space name is empty")
        }
      })
  ),
  Conformance.check(
    "RequestPool with no Pool answers a CIDR pool and an ID; ReleasePool releases it",
    { why: 'docker network create without --subnet sends Pool ""; the answer must parse as CIDR.' },
    (context) =>
      Effect.gen(function* () {
        const AddressSpace = yield* localSpace(context)
        const got = yield* pool(context, { AddressSpace })
        yield* release(context, E.releasePool, { PoolID: got.PoolID })
      })
  ),
  Conformance.check(
    "RequestPool accepts Options null",
    { why: "API clients that omit IPAM options send Options null." },
    (context) => Effect.asVoid(held(context, { Options: null }))
  ),
  Conformance.check(
    "A second RequestPool while the first is held gets a pool that does not overlap it",
    {
      why: "The daemon's overlap loop keeps a pool that clashes with a host route and asks again: the same pool again loops forever."
    },
    (context) =>
      Effect.gen(function* () {
        const first = yield* held(context)
        const second = yield* held(context)
        if (overlap(first.Pool, second.Pool)) {
          yield* Effect.fail(
            new Conformance.CheckFailed({ reason: `second pool ${second.Pool} overlaps first pool ${first.Pool}` })
          )
        }
      })
  ),
  Conformance.check(
    "RequestAddress: gateway, any address (Options null), a preferred free one; all CIDR, distinct, in the pool",
    {
      why: "The daemon asks the gateway with the gateway marker, endpoints with Options null or a MAC, --ip/--aux-address by value; each answer must be CIDR."
    },
    (context) =>
      Effect.gen(function* () {
        const { PoolID, Pool } = yield* held(context)
        const gateway = yield* address(context, { PoolID, Address: "", Options: gatewayOption })
        const any = yield* address(context, { PoolID, Address: "", Options: null })
        const mac = yield* address(context, {
          PoolID,
          Address: "",
          Options: { [IpamDriver.Labels.MacAddress]: "02:42:ac:11:00:02" }
        })
        const answers = [gateway, any, mac]
        for (const a of answers) {
          if (!inPool(Pool, a.Address)) yield* Conformance.fail(a.ex, `${a.Address} is not in pool ${Pool}`)
        }
        if (new Set(answers.map((a) => a.Address.split("/")[0])).size !== answers.length) {
          yield* Conformance.fail(mac.ex, `addresses repeat: ${answers.map((a) => a.Address).join(", ")}`)
        }
        // A free address by value: release one we hold, and ask for it back.
        const wanted = any.Address.split("/")[0]!
        yield* release(context, E.releaseAddress, { PoolID, Address: wanted })
        const preferred = yield* address(context, { PoolID, Address: wanted, Options: null })
        if (preferred.Address.split("/")[0] !== wanted) {
          yield* Conformance.fail(preferred.ex, `asked for ${wanted}, got ${preferred.Address}`)
        }
      })
  ),
  Conformance.check(
    "RequestAddress of the gateway by value (--gateway) answers that address, and holds it",
    {
      why: "docker network create --gateway G asks for G with the gateway marker, and the daemon makes the answer the network's gateway: another address ignores the user's gateway, and G is then handed to a container."
    },
    (context) =>
      Effect.gen(function* () {
        const { PoolID, Pool } = yield* held(context)
        const [network = "", length = "0"] = Pool.split("/")
        if (Net.isIPv6(network) || Number(length) > 30) return
        // The pool's last host, as `--gateway 10.77.0.254` names for a /24: a driver that picks the first misses it.
        const last = network.split(".").reduce((n, o) => n * 256 + Number(o), 0) + 2 ** (32 - Number(length)) - 2
        const wanted = [24, 16, 8, 0].map((s) => Math.floor(last / 2 ** s) % 256).join(".")
        const gateway = yield* address(context, { PoolID, Address: wanted, Options: gatewayOption })
        if (gateway.Address.split("/")[0] !== wanted) {
          return yield* Conformance.fail(gateway.ex, `asked for the gateway ${wanted}, got ${gateway.Address}`)
        }
        const again = yield* Conformance.send(context, E.requestAddress.path, {
          PoolID,
          Address: wanted,
          Options: null
        })
        yield* expectIpamFailure(again, `RequestAddress of the gateway ${wanted} just given (docker run --ip)`)
      })
  ),
  Conformance.check(
    "RequestAddress of an address already held fails cleanly",
    { why: "docker run --ip with a taken address must fail, not be given a duplicate." },
    (context) =>
      Effect.gen(function* () {
        const { PoolID } = yield* held(context)
        const taken = yield* address(context, { PoolID, Address: "", Options: null })
        const ex = yield* Conformance.send(context, E.requestAddress.path, {
          PoolID,
          Address: taken.Address.split("/")[0],
          Options: null
        })
        yield* expectIpamFailure(ex, "RequestAddress of a held address")
        // The gateway is held too: docker run --ip GATEWAY and --aux-address ask for it by value, Options null.
        const gateway = yield* address(context, { PoolID, Address: "", Options: gatewayOption })
        const again = yield* Conformance.send(context, E.requestAddress.path, {
          PoolID,
          Address: gateway.Address.split("/")[0],
          Options: null
        })
        yield* expectIpamFailure(again, `RequestAddress of the gateway ${gateway.Address} (docker run --ip)`)
      })
  ),
  Conformance.check(
    "A gateway named in RequestPool's Data is a CIDR in the pool, and no RequestAddress hands it out",
    {
      why: "When RequestPool's Data carries com.docker.network.gateway the daemon uses it as the gateway and asks no gateway RequestAddress: the driver must hold it itself, or the first container gets the gateway's address."
    },
    (context) =>
      Effect.gen(function* () {
        const AddressSpace = yield* localSpace(context)
        const ex = yield* Conformance.send(context, E.requestPool.path, {
          AddressSpace,
          Pool: "",
          SubPool: "",
          Options: {},
          V6: false
        })
        const answer = yield* Conformance.expectSuccess(ex, E.requestPool, "Error")
        yield* Effect.addFinalizer(() =>
          Effect.ignore(context.client.exchange(E.releasePool.path, { PoolID: answer.PoolID }))
        )
        const gateway = answer.Data?.[IpamDriver.Labels.Gateway]
        if (gateway === undefined) return
        if (!gateway.includes("/") || !inPool(answer.Pool, gateway)) {
          return yield* Conformance.fail(
            ex,
            `the Data gateway "${gateway}" is not a CIDR address in pool ${answer.Pool}`
          )
        }
        const ip = gateway.split("/")[0]!
        for (let i = 0; i < 3; i++) {
          const any = yield* address(context, { PoolID: answer.PoolID, Address: "", Options: null })
          if (any.Address.split("/")[0] === ip) {
            return yield* Conformance.fail(
              any.ex,
              `RequestAddress handed out ${any.Address}, the gateway named in Data`
            )
          }
        }
        const byValue = yield* Conformance.send(context, E.requestAddress.path, {
          PoolID: answer.PoolID,
          Address: ip,
          Options: null
        })
        yield* expectIpamFailure(byValue, `RequestAddress of the Data gateway ${ip} (docker run --ip)`)
      })
  ),
  Conformance.check(
    "Calls on an unknown PoolID fail cleanly",
    { why: "A stale or foreign PoolID must be an error the daemon can show, not a crash." },
    (context) =>
      Effect.gen(function* () {
        const PoolID = context.unique("no-such-pool")
        const ex = yield* Conformance.send(context, E.requestAddress.path, { PoolID, Address: "", Options: null })
        yield* expectIpamFailure(ex, "RequestAddress on an unknown PoolID")
      })
  ),
  Conformance.check(
    "An explicit Pool with a SubPool: addresses come from the SubPool",
    { why: "docker network create --subnet S --ip-range R sends Pool S and SubPool R." },
    (context) =>
      Effect.gen(function* () {
        // A pool the plugin accepts for sure: one it just handed out, given back.
        const AddressSpace = yield* localSpace(context)
        const picked = yield* pool(context, { AddressSpace })
        yield* release(context, E.releasePool, { PoolID: picked.PoolID })
        const [network = "", length = "0"] = picked.Pool.split("/")
        if (Net.isIPv6(network) || Number(length) > 29) return
        // The upper half of the pool as the sub-range.
        const octets = network.split(".").map(Number)
        const half = 2 ** (32 - Number(length) - 1)
        const upper = octets.reduce((n, o) => n * 256 + o, 0) + half
        const subPool = `${[24, 16, 8, 0].map((s) => Math.floor(upper / 2 ** s) % 256).join(".")}/${Number(length) + 1}`
        const { PoolID, Pool } = yield* held(context, { Pool: picked.Pool, SubPool: subPool })
        if (Pool !== picked.Pool) {
          yield* Effect.fail(new Conformance.CheckFailed({ reason: `asked for pool ${picked.Pool}, got ${Pool}` }))
        }
        const any = yield* address(context, { PoolID, Address: "", Options: null })
        if (!inPool(subPool, any.Address)) yield* Conformance.fail(any.ex, `${any.Address} is not in ${subPool}`)
      })
  ),
  Conformance.check(
    "RequestPool with V6 true answers an IPv6 pool",
    { why: "docker network create --ipv6 adds V6 requests.", severity: "warning" },
    (context) =>
      Effect.gen(function* () {
        const { Pool, PoolID } = yield* held(context, { V6: true })
        if (!Net.isIPv6(Pool.split("/")[0] ?? "")) {
          yield* Effect.fail(new Conformance.CheckFailed({ reason: `V6 pool ${Pool} is not IPv6` }))
        }
        const any = yield* address(context, { PoolID, Address: "", Options: null })
        if (!inPool(Pool, any.Address)) yield* Conformance.fail(any.ex, `${any.Address} is not in pool ${Pool}`)
      })
  )
]

/**
 * The suite.
 *
 * @since 0.1.0
 */
export const suite: Conformance.Suite = { api: IpamDriver.Api, checks }
