/**
 * The NetworkDriver conformance suite: what the daemon relies on (protocol/network.md), checked over the wire with
 * the request bodies the daemon sends, on fresh 64-hex network and endpoint IDs that are deleted afterwards. The
 * subnets come from 198.18.0.0/15 (reserved for benchmarks), so a plugin that puts gateways on real links during a
 * probe does not shadow a network of the host.
 *
 * @since 0.1.0
 */
import type { PluginClient } from "@docker-plugin-kit/client"
import { Manifest, NetworkDriver } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Conformance from "./Conformance.ts"

const E = NetworkDriver.Api.endpoints

/** A 64-hex ID like the daemon's network and endpoint IDs. */
const hexId = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("")

/** A /24 of 198.18.0.0/15 for one check. */
const subnet = () => {
  const [a = 0, b = 0] = crypto.getRandomValues(new Uint8Array(2))
  return `198.${18 + (a % 2)}.${b}`
}

/**
 * The CreateNetwork body of `docker network create -d D [-o k=v] [--gateway G] net` on Engine 20.10 with the
 * built-in IPAM (whose gateway is the subnet's first host unless `--gateway` names one).
 */
const createNetworkBody = (id: string, net: string, generic: Record<string, string> = {}, gateway = `${net}.1`) => ({
  NetworkID: id,
  Options: { "com.docker.network.enable_ipv6": false, "com.docker.network.generic": generic },
  IPv4Data: [{ AddressSpace: "LocalDefault", Gateway: `${gateway}/24`, Pool: `${net}.0/24` }],
  IPv6Data: []
})

const ok = <E extends (typeof E)[keyof typeof E]>(context: Conformance.Context, endpoint: E, body: unknown) =>
  Effect.flatMap(Conformance.send(context, endpoint.path, body), (ex) =>
    Effect.map(Conformance.expectSuccess(ex, endpoint), (answer) => ({ ex, answer }))
  )

/** A network for the check, deleted (best effort) when the check ends. */
const network = (context: Conformance.Context) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const id = hexId()
      const net = subnet()
      return Effect.as(ok(context, E.createNetwork, createNetworkBody(id, net)), { id, net })
    }),
    ({ id }) => Effect.ignore(context.client.exchange(E.deleteNetwork.path, { NetworkID: id }))
  )

/** An endpoint on `networkId` with the daemon's address and MAC (or none), deleted (best effort) at the end. */
const endpoint = (context: Conformance.Context, networkId: string, address: string, mac = "") =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const id = hexId()
      const body = {
        NetworkID: networkId,
        EndpointID: id,
        Interface: { Address: address, AddressIPv6: "", MacAddress: mac },
        Options: {}
      }
      return Effect.map(ok(context, E.createEndpoint, body), ({ ex, answer }) => ({ id, ex, answer }))
    }),
    ({ id }) =>
      Effect.ignore(
        Effect.andThen(
          context.client.exchange(E.leave.path, { NetworkID: networkId, EndpointID: id }),
          context.client.exchange(E.deleteEndpoint.path, { NetworkID: networkId, EndpointID: id })
        )
      )
  )

const joinBody = (networkId: string, endpointId: string) => ({
  NetworkID: networkId,
  EndpointID: endpointId,
  SandboxKey: `/var/run/docker/netns/${endpointId.slice(0, 12)}`,
  Options: { "com.docker.network.endpoint.exposedports": [], "com.docker.network.portmap": [] }
})

/** Whether an optional call's answer is one the daemon accepts: 200 without `Err`, or 404 (not implemented). */
const optionalAnswer = (ex: PluginClient.Exchange, endpoint: (typeof E)[keyof typeof E]) =>
  ex.response.status === 404 ? Effect.void : Effect.asVoid(Conformance.expectSuccess(ex, endpoint))

/**
 * Every NetworkDriver check.
 *
 * @since 0.1.0
 */
export const checks: ReadonlyArray<Conformance.Check> = [
  Conformance.check(
    "Plugin.Activate lists NetworkDriver",
    { why: "The daemon activates a v1 plugin with an empty POST and uses it only for what Implements lists." },
    (context) =>
      Effect.gen(function* () {
        const ex = yield* Conformance.send(context, Manifest.Activate.path)
        const manifest = yield* Conformance.expectSuccess(ex, Manifest.Activate)
        if (!(manifest.Implements ?? []).includes("NetworkDriver")) {
          yield* Conformance.fail(ex, `Implements ${JSON.stringify(manifest.Implements)} does not list "NetworkDriver"`)
        }
      })
  ),
  Conformance.check(
    "GetCapabilities (empty body) answers an exact scope, the same every time",
    {
      why: "It is mandatory: without a Scope of exactly local or global the daemon refuses to register the driver, and it reads the answer once."
    },
    (context) =>
      Effect.gen(function* () {
        const first = yield* Conformance.send(context, E.getCapabilities.path)
        const a = yield* Conformance.expectSuccess(first, E.getCapabilities)
        const second = yield* Conformance.send(context, E.getCapabilities.path)
        const b = yield* Conformance.expectSuccess(second, E.getCapabilities)
        if (JSON.stringify(a) !== JSON.stringify(b)) {
          yield* Conformance.fail(second, `the capabilities changed from ${JSON.stringify(a)} to ${JSON.stringify(b)}`)
        }
      })
  ),
  Conformance.check(
    "GwAllocCheck answers when GwAllocChecker is reported",
    {
      why: "Engine 28 and later send GwAllocCheck before every CreateNetwork of a driver that reports GwAllocChecker; a failure fails docker network create."
    },
    (context) =>
      Effect.gen(function* () {
        const caps = yield* ok(context, E.getCapabilities, undefined)
        if (caps.answer.GwAllocChecker !== true) return
        yield* ok(context, E.gwAllocCheck, {
          Options: {
            "com.docker.network.enable_ipv4": true,
            "com.docker.network.enable_ipv6": false,
            "com.docker.network.generic": {}
          }
        })
      })
  ),
  Conformance.check(
    "CreateNetwork and DeleteNetwork of the daemon's bodies (20.10 and Engine 28 options)",
    {
      why: "docker network create sends the IPAM data and options; docker network rm sends DeleteNetwork after releasing the addresses."
    },
    (context) =>
      Effect.gen(function* () {
        for (const extra of [{}, { "com.docker.network.enable_ipv4": true }]) {
          const id = hexId()
          const body = createNetworkBody(id, subnet())
          yield* ok(context, E.createNetwork, { ...body, Options: { ...body.Options, ...extra } })
          yield* ok(context, E.deleteNetwork, { NetworkID: id })
        }
      })
  ),
  Conformance.check(
    "CreateEndpoint never sets an interface field the daemon filled",
    {
      why: "The daemon fails the call and rolls the endpoint back if an answer sets an Address, AddressIPv6 or MacAddress it already assigned."
    },
    (context) =>
      Effect.gen(function* () {
        const { id, net } = yield* network(context)
        const { ex, answer } = yield* endpoint(context, id, `${net}.2/24`, "02:42:c6:12:00:02")
        const set = Object.entries(answer.Interface ?? {}).filter(([, v]) => v !== "" && v !== undefined)
        if (set.length > 0) {
          yield* Conformance.fail(ex, `the answer sets ${set.map(([k]) => k).join(", ")}, which the daemon filled`)
        }
      })
  ),
  Conformance.check(
    "CreateEndpoint without a MAC: any MAC answered is one the daemon can use",
    {
      severity: "warning",
      why: "A driver may assign the MAC the daemon left empty; it must be a unicast address (a multicast one cannot be set on an interface)."
    },
    (context) =>
      Effect.gen(function* () {
        const { id, net } = yield* network(context)
        const { ex, answer } = yield* endpoint(context, id, `${net}.3/24`)
        const mac = answer.Interface?.MacAddress ?? ""
        const first = Number.parseInt(mac.replace(/[^0-9a-fA-F]/g, "").slice(0, 2), 16)
        if (mac !== "" && (first & 1) === 1) yield* Conformance.fail(ex, `the MAC ${mac} is a multicast address`)
        if (answer.Interface?.Address) yield* Conformance.fail(ex, "the answer sets Address, which the daemon filled")
      })
  ),
  Conformance.check(
    "Join, EndpointOperInfo, Leave and DeleteEndpoint follow each other like docker run and docker rm",
    {
      why: "docker run sends CreateEndpoint → Join → EndpointOperInfo; stopping the container sends Leave → DeleteEndpoint. A Join interface needs a DstPrefix; its gateway must be a plain IP."
    },
    (context) =>
      Effect.gen(function* () {
        const { id, net } = yield* network(context)
        const ep = yield* endpoint(context, id, `${net}.4/24`)
        const ids = { NetworkID: id, EndpointID: ep.id }
        const joined = yield* ok(context, E.join, joinBody(id, ep.id))
        const iface = joined.answer.InterfaceName
        if (iface !== undefined && iface !== null && iface.SrcName !== "" && iface.DstPrefix === "") {
          yield* Conformance.fail(
            joined.ex,
            "InterfaceName has an empty DstPrefix: the container interface would be named 0"
          )
        }
        const gateway = joined.answer.Gateway || joined.answer.GatewayIPv6
        if (gateway && !iface?.SrcName) {
          yield* Conformance.fail(
            joined.ex,
            `Join answers the gateway ${gateway} but moves no interface into the container (InterfaceName ${JSON.stringify(iface ?? null)}): the daemon cannot route to the gateway, answers Leave and fails the container's start`
          )
        }
        yield* ok(context, E.endpointOperInfo, ids)
        yield* ok(context, E.endpointOperInfo, ids)
        yield* ok(context, E.leave, ids)
        yield* ok(context, E.deleteEndpoint, ids)
        yield* ok(context, E.deleteNetwork, { NetworkID: id })
      })
  ),
  Conformance.check(
    "Join answers the gateway the network was created with (docker network create --gateway)",
    {
      why: "The daemon makes Join's Gateway the container's default route. A gateway in the subnet other than the one in IPv4Data is an address no one holds, or one IPAM hands to a container: the container's traffic goes there. (A gateway outside the subnet, as routed drivers answer, or none is not judged.)"
    },
    (context) =>
      Effect.gen(function* () {
        const id = hexId()
        const net = subnet()
        const gateway = `${net}.254`
        yield* Effect.acquireRelease(ok(context, E.createNetwork, createNetworkBody(id, net, {}, gateway)), () =>
          Effect.ignore(context.client.exchange(E.deleteNetwork.path, { NetworkID: id }))
        )
        const ep = yield* endpoint(context, id, `${net}.7/24`)
        const joined = yield* ok(context, E.join, joinBody(id, ep.id))
        const answered = joined.answer.Gateway
        if (answered?.startsWith(`${net}.`) && answered !== gateway) {
          yield* Conformance.fail(
            joined.ex,
            `Join answered the gateway ${answered} for a network created with the gateway ${gateway}/24`
          )
        }
      })
  ),
  Conformance.check(
    "Program/RevokeExternalConnectivity answer success or 404",
    {
      why: "After a Join that made the endpoint the container's gateway the daemon programs external connectivity; 404 means not implemented, any other failure fails docker run."
    },
    (context) =>
      Effect.gen(function* () {
        const { id, net } = yield* network(context)
        const ep = yield* endpoint(context, id, `${net}.5/24`)
        yield* ok(context, E.join, joinBody(id, ep.id))
        const ids = { NetworkID: id, EndpointID: ep.id }
        const program = yield* Conformance.send(context, E.programExternalConnectivity.path, {
          ...ids,
          Options: joinBody(id, ep.id).Options
        })
        yield* optionalAnswer(program, E.programExternalConnectivity)
        const revoke = yield* Conformance.send(context, E.revokeExternalConnectivity.path, ids)
        yield* optionalAnswer(revoke, E.revokeExternalConnectivity)
      })
  ),
  Conformance.check(
    "CreateEndpoint and Join on an unknown network or endpoint answer Err",
    { why: "Failures must carry a non-empty Err so the daemon can show why (as remote: ... or Method: ...)." },
    (context) =>
      Effect.gen(function* () {
        const missing = hexId()
        const create = yield* Conformance.send(context, E.createEndpoint.path, {
          NetworkID: missing,
          EndpointID: hexId(),
          Interface: { Address: "198.18.0.9/24", AddressIPv6: "", MacAddress: "" },
          Options: {}
        })
        yield* Conformance.expectCleanFailure(create, E.createEndpoint)
        const { id } = yield* network(context)
        const join = yield* Conformance.send(context, E.join.path, joinBody(id, hexId()))
        yield* Conformance.expectCleanFailure(join, E.join)
      })
  ),
  Conformance.check(
    "DeleteNetwork with an endpoint left is refused, or removes it",
    {
      severity: "warning",
      why: "docker network rm is refused by the daemon while containers are attached; a plugin asked anyway should not lose the endpoint silently."
    },
    (context) =>
      Effect.gen(function* () {
        const { id, net } = yield* network(context)
        const ep = yield* endpoint(context, id, `${net}.6/24`)
        const del = yield* Conformance.send(context, E.deleteNetwork.path, { NetworkID: id })
        if (del.response.status === 200 && !(del.response.body as { Err?: string } | undefined)?.Err) {
          const info = yield* Conformance.send(context, E.endpointOperInfo.path, { NetworkID: id, EndpointID: ep.id })
          if (info.response.status === 200 && !(info.response.body as { Err?: string } | undefined)?.Err) {
            yield* Conformance.fail(
              del,
              "DeleteNetwork succeeded while an endpoint remained, and the endpoint is still there"
            )
          }
        }
      })
  ),
  Conformance.check(
    "DiscoverNew and DiscoverDelete answer success or 404",
    { severity: "warning", why: "Swarm nodes send node discovery to every network driver; errors are only logged." },
    (context) =>
      Effect.gen(function* () {
        const body = { DiscoveryType: 1, DiscoveryData: { Address: "198.18.0.10", BindAddress: "", Self: false } }
        yield* optionalAnswer(yield* Conformance.send(context, E.discoverNew.path, body), E.discoverNew)
        yield* optionalAnswer(yield* Conformance.send(context, E.discoverDelete.path, body), E.discoverDelete)
      })
  ),
  Conformance.check(
    "Unknown endpoints answer 404",
    { severity: "warning", why: "404 is how the daemon learns that an optional endpoint is not implemented." },
    (context) =>
      Effect.flatMap(Conformance.send(context, "/NetworkDriver.NoSuchMethod", {}), (ex) =>
        ex.response.status === 404
          ? Effect.void
          : Conformance.fail(ex, `an unknown endpoint answered status ${ex.response.status} instead of 404`)
      )
  )
]

/**
 * The suite.
 *
 * @since 0.1.0
 */
export const suite: Conformance.Suite = { api: NetworkDriver.Api, checks }
