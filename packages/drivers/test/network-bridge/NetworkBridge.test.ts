/**
 * The network-bridge driver on a memory host through the real router: the call sequences of the daemon, the links
 * each call leaves behind, rollbacks, persistence and the reconciliation of a restart or a crash.
 */
import {
  BridgeReconcile,
  LinksMemory,
  Nat,
  NatMemory,
  NetworkBridge,
  VolumeFs,
  VolumeFsMemory,
  VolumeFsNode
} from "@docker-plugin-kit/drivers"
import { InProcess } from "@docker-plugin-kit/testkit"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { liveProcess } from "../support/processes.ts"

const nid = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
const eid = "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
const eid2 = "0e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfe"
const stateDir = "/var/lib/dpk/network-bridge"
const instance = NetworkBridge.instanceOf(stateDir)

/** One host (links, NAT table and disk) across `start()` calls, so a second start is a restart. */
const host = (fault?: LinksMemory.Options["fault"], natOptions: NatMemory.Options = {}) => {
  const links = LinksMemory.make(fault === undefined ? {} : { fault })
  const nat = NatMemory.make(natOptions)
  const disk = VolumeFsMemory.make()
  const driver = () =>
    NetworkBridge.layer({ stateDir }).pipe(
      Layer.provide(
        Layer.mergeAll(LinksMemory.layer(links), NatMemory.layer(nat), Layer.succeed(VolumeFs.VolumeFs, disk.service))
      )
    )
  return { links, nat, disk, driver, start: () => InProcess.make(driver()) }
}

type Plugin = InProcess.InProcessPlugin
const call = (p: Plugin, method: string, body?: unknown) =>
  Effect.map(p.call(`/NetworkDriver.${method}`, body), (r) => ({ status: r.status, body: r.body as any }))

const createNetwork = (generic: Record<string, string> = {}, extra: Record<string, unknown> = {}) => ({
  NetworkID: nid,
  Options: { "com.docker.network.enable_ipv6": false, "com.docker.network.generic": generic, ...extra },
  IPv4Data: [{ AddressSpace: "LocalDefault", Gateway: "10.231.7.1/24", Pool: "10.231.7.0/24" }],
  IPv6Data: []
})
const createEndpoint = (endpointId: string, mac = "") => ({
  NetworkID: nid,
  EndpointID: endpointId,
  Interface: { Address: "10.231.7.2/24", AddressIPv6: "", MacAddress: mac },
  Options: {}
})
const ids = (endpointId: string) => ({ NetworkID: nid, EndpointID: endpointId })
const join = (endpointId: string) => ({
  ...ids(endpointId),
  SandboxKey: "/var/run/docker/netns/0123456789ab",
  Options: { "com.docker.network.endpoint.exposedports": [], "com.docker.network.portmap": [] }
})
const bridge = `dpk-${nid.slice(0, 11)}`
const hostEnd = (id: string) => `dpkh${id.slice(0, 11)}`
const containerEnd = (id: string) => `dpkc${id.slice(0, 11)}`
const names = (links: LinksMemory.MemoryLinks) => links.links().map((l) => l.name)
/** The NAT operations run that change something (start-up lists the table to find leftovers). */
const changes = (nat: NatMemory.MemoryNat) => nat.log.filter((op) => !op.startsWith("list"))

describe("network-bridge on a memory host", () => {
  it.effect("network create, run, stop, network rm: the bridge, the veth pair and the answers", () =>
    Effect.gen(function* () {
      const h = host()
      const p = yield* h.start()
      expect((yield* call(p, "GetCapabilities")).body).toEqual({
        Scope: "local",
        ConnectivityScope: "local",
        GwAllocChecker: true
      })
      expect((yield* call(p, "CreateNetwork", createNetwork({ mtu: "1400" }))).body).toEqual({})
      const br = h.links.links().find((l) => l.name === bridge)
      expect(br).toMatchObject({ kind: "bridge", mtu: 1400, up: true, addresses: ["10.231.7.1/24"] })
      expect(BridgeReconcile.parseAlias(br?.alias)).toEqual({ instance, kind: "network", id: nid })

      // The daemon's MAC is kept and not answered; a generated one is answered.
      expect((yield* call(p, "CreateEndpoint", createEndpoint(eid, "02:42:0a:e7:07:02"))).body).toEqual({})
      const generated = yield* call(p, "CreateEndpoint", {
        ...createEndpoint(eid2),
        Interface: { Address: "10.231.7.3/24", AddressIPv6: "", MacAddress: "" }
      })
      expect(generated.body.Interface.MacAddress).toMatch(/^02(:[0-9a-f]{2}){5}$/)
      expect(h.links.links().find((l) => l.name === containerEnd(eid))).toMatchObject({
        kind: "veth",
        mtu: 1400,
        macAddress: "02:42:0a:e7:07:02"
      })
      expect(h.links.links().find((l) => l.name === containerEnd(eid2))?.macAddress).toBe(
        generated.body.Interface.MacAddress
      )
      expect(h.links.links().find((l) => l.name === hostEnd(eid))).toMatchObject({
        master: bridge,
        up: true,
        mtu: 1400
      })

      const joined = yield* call(p, "Join", join(eid))
      expect(joined.body).toEqual({
        InterfaceName: { SrcName: containerEnd(eid), DstPrefix: "eth" },
        Gateway: "10.231.7.1"
      })
      h.links.moveToSandbox(containerEnd(eid))
      const info = yield* call(p, "EndpointOperInfo", ids(eid))
      expect(info.body.Value).toMatchObject({ bridge, hostInterface: hostEnd(eid), joined: true, mtu: 1400 })

      // No ports to publish: nothing programmed, no NAT rule.
      expect((yield* call(p, "ProgramExternalConnectivity", { ...ids(eid), Options: {} })).status).toBe(200)
      expect(changes(h.nat)).toEqual([])
      expect(
        (yield* call(p, "DiscoverNew", {
          DiscoveryType: 1,
          DiscoveryData: { Address: "10.0.0.1", BindAddress: "", Self: true }
        })).body
      ).toEqual({})

      // The network cannot go while endpoints remain in containers.
      yield* call(p, "Join", join(eid2))
      h.links.moveToSandbox(containerEnd(eid2))
      const refused = yield* call(p, "DeleteNetwork", { NetworkID: nid })
      expect(refused.status).toBe(500)
      expect(refused.body.Err).toContain("still has 2 endpoint(s)")

      expect((yield* call(p, "Leave", ids(eid))).body).toEqual({})
      h.links.moveToHost(containerEnd(eid))
      expect((yield* call(p, "Leave", ids(eid2))).body).toEqual({})
      h.links.moveToHost(containerEnd(eid2))
      expect((yield* call(p, "DeleteEndpoint", ids(eid))).body).toEqual({})
      expect((yield* call(p, "DeleteEndpoint", ids(eid2))).body).toEqual({})
      expect(names(h.links)).toEqual([bridge])
      expect((yield* call(p, "DeleteNetwork", { NetworkID: nid })).body).toEqual({})
      expect(names(h.links)).toEqual([])
    })
  )

  it.effect("options: bridge name, internal (no gateway, nothing on the bridge), prefix and static routes", () =>
    Effect.gen(function* () {
      const h = host()
      const p = yield* h.start()
      const created = yield* call(
        p,
        "CreateNetwork",
        createNetwork(
          { bridge: "br-custom", prefix: "net", routes: "192.168.50.0/24@10.231.7.254,10.200.0.0/16" },
          { "com.docker.network.internal": true }
        )
      )
      expect(created.body).toEqual({})
      expect(h.links.links().find((l) => l.name === "br-custom")).toMatchObject({ kind: "bridge", addresses: [] })
      yield* call(p, "CreateEndpoint", createEndpoint(eid))
      expect((yield* call(p, "Join", join(eid))).body).toEqual({
        InterfaceName: { SrcName: containerEnd(eid), DstPrefix: "net" },
        StaticRoutes: [
          { Destination: "192.168.50.0/24", RouteType: 0, NextHop: "10.231.7.254" },
          { Destination: "10.200.0.0/16", RouteType: 1 }
        ]
      })
      expect(
        (yield* call(p, "GwAllocCheck", { Options: { "com.docker.network.generic": { internal: "true" } } })).body
      ).toEqual({ SkipIPv4: true, SkipIPv6: true })
      expect((yield* call(p, "GwAllocCheck", { Options: { "com.docker.network.generic": {} } })).body).toEqual({
        SkipIPv4: false,
        SkipIPv6: false
      })
    })
  )

  it.effect("bad options and foreign interfaces are refused with a message naming them, leaving nothing behind", () =>
    Effect.gen(function* () {
      const h = host()
      // The host has someone else's bridge.
      yield* h.links.service.addBridge("docker0", { alias: "" })
      const p = yield* h.start()
      const unknown = yield* call(p, "CreateNetwork", createNetwork({ colour: "blue", mtu: "1400", size: "x" }))
      expect(unknown.status).toBe(500)
      expect(unknown.body.Err).toContain("unknown options colour, size")
      const badMtu = yield* call(p, "CreateNetwork", createNetwork({ mtu: "9" }))
      expect(badMtu.body.Err).toContain("mtu=9")
      const gw = yield* call(p, "GwAllocCheck", { Options: { "com.docker.network.generic": { nope: "1" } } })
      expect(gw.body.Err).toContain("unknown option nope")
      const hijack = yield* call(p, "CreateNetwork", createNetwork({ bridge: "docker0" }))
      expect(hijack.body.Err).toBe("interface docker0 exists already on the host")
      expect(names(h.links)).toEqual(["docker0"])
      expect((yield* call(p, "CreateEndpoint", createEndpoint(eid))).body.Err).toBe(`no such network: ${nid}`)
      expect((yield* call(p, "Join", join(eid))).body.Err).toBe(`no such network: ${nid}`)
      yield* call(p, "CreateNetwork", createNetwork())
      expect((yield* call(p, "Leave", ids(eid))).body.Err).toBe(`no such endpoint ${eid} on network ${nid}`)
      yield* call(p, "CreateEndpoint", createEndpoint(eid))
      expect((yield* call(p, "CreateEndpoint", createEndpoint(eid))).body.Err).toBe(`endpoint ${eid} already exists`)
      // A retried CreateNetwork with the same settings is fine; with others it is refused.
      expect((yield* call(p, "CreateNetwork", createNetwork())).body).toEqual({})
      expect((yield* call(p, "CreateNetwork", createNetwork({ mtu: "1300" }))).body.Err).toContain("other settings")
    })
  )

  it.effect("a route to the network's own IPv4 subnet is refused at create (the kernel has that route already)", () =>
    Effect.gen(function* () {
      const h = host()
      const p = yield* h.start()
      for (const routes of ["10.231.7.0/24", "192.168.1.0/24@10.231.7.254,10.231.7.0/24@10.231.7.254"]) {
        const own = yield* call(p, "CreateNetwork", createNetwork({ routes }))
        expect(own.status).toBe(500)
        expect(own.body.Err).toBe(
          "option routes: 10.231.7.0/24 is the network's own subnet, which every container has a route to already (a second one fails when the container joins)"
        )
      }
      expect(names(h.links)).toEqual([])
      // A part of the subnet, or a wider block, is another destination.
      expect(
        (yield* call(p, "CreateNetwork", createNetwork({ routes: "10.231.7.128/25,10.231.0.0/16" }))).body
      ).toEqual({})
    })
  )

  it.effect(
    "a default route is refused at create when the network has a gateway of that family (Join answers it)",
    () =>
      Effect.gen(function* () {
        const h = host()
        const p = yield* h.start()
        const refusal = (route: string, gateway: string) =>
          `option routes: ${route} is the default route, which every container has through the network's gateway ${gateway} already (a second one fails when the container joins); give it on an --internal network`
        const v4 = yield* call(
          p,
          "CreateNetwork",
          createNetwork({ routes: "192.168.1.0/24@10.231.7.254,0.0.0.0/0@10.231.7.254" })
        )
        expect(v4.status).toBe(500)
        expect(v4.body.Err).toBe(refusal("0.0.0.0/0", "10.231.7.1"))
        const v6 = yield* call(p, "CreateNetwork", {
          ...createNetwork({ routes: "::/0@fd00:7::fe" }, { "com.docker.network.enable_ipv6": true }),
          IPv6Data: [{ AddressSpace: "LocalDefault", Gateway: "fd00:7::1/64", Pool: "fd00:7::/64" }]
        })
        expect(v6.body.Err).toBe(refusal("::/0", "fd00:7::1"))
        expect(names(h.links)).toEqual([])
        // Without a gateway of that family (internal, or no IPv6), a default route is the container's way out.
        const internal = createNetwork({ routes: "0.0.0.0/0@10.231.7.254" }, { "com.docker.network.internal": true })
        expect((yield* call(p, "CreateNetwork", internal)).body).toEqual({})
        yield* call(p, "DeleteNetwork", { NetworkID: nid })
        expect((yield* call(p, "CreateNetwork", createNetwork({ routes: "::/0@fd00:7::fe" }))).body).toEqual({})
      })
  )

  it.effect(
    "docker run -p: published at ProgramExternalConnectivity, answered in EndpointOperInfo, revoked, deleted",
    () =>
      Effect.gen(function* () {
        const h = host()
        const p = yield* h.start()
        yield* call(p, "CreateNetwork", createNetwork())
        const chain = `DPK-${instance}`
        const ports = {
          "com.docker.network.portmap": [
            { Proto: 6, IP: "", Port: 80, HostIP: "", HostPort: 8080, HostPortEnd: 8080 },
            { Proto: 17, IP: "", Port: 53, HostIP: "192.168.1.5", HostPort: 5300, HostPortEnd: 5300 }
          ],
          "com.docker.network.endpoint.exposedports": [
            { Proto: 6, Port: 80 },
            { Proto: 17, Port: 53 }
          ]
        }
        expect((yield* call(p, "CreateEndpoint", { ...createEndpoint(eid), Options: ports })).status).toBe(200)
        // Nothing is published before the endpoint becomes the container's gateway.
        expect(h.nat.chains().size).toBe(0)
        yield* call(p, "Join", { ...join(eid), Options: ports })
        expect((yield* call(p, "ProgramExternalConnectivity", { ...ids(eid), Options: ports })).body).toEqual({})
        const comment = `dpk ${instance} ${eid}`
        expect(h.nat.chains().get(chain)).toEqual([
          { proto: "tcp", hostPort: 8080, destination: "10.231.7.2:80", comment },
          { proto: "udp", hostIp: "192.168.1.5", hostPort: 5300, destination: "10.231.7.2:53", comment }
        ])
        expect(h.nat.jumps()).toEqual([chain])
        const info = (yield* call(p, "EndpointOperInfo", ids(eid))).body.Value
        expect(info["com.docker.network.portmap"]).toEqual([
          { Proto: 6, IP: "10.231.7.2", Port: 80, HostIP: "0.0.0.0", HostPort: 8080, HostPortEnd: 8080 },
          { Proto: 17, IP: "10.231.7.2", Port: 53, HostIP: "192.168.1.5", HostPort: 5300, HostPortEnd: 5300 }
        ])
        expect(info["com.docker.network.endpoint.exposedports"]).toEqual(
          ports["com.docker.network.endpoint.exposedports"]
        )
        // Programming again is a no-op; the state file records what is published.
        yield* call(p, "ProgramExternalConnectivity", { ...ids(eid), Options: ports })
        expect(h.nat.chains().get(chain)).toHaveLength(2)

        // Another endpoint publishing a host port published already is refused at ProgramExternalConnectivity,
        // naming both (CreateEndpoint accepts it: a container's second network gets the same bindings).
        const second = {
          ...createEndpoint(eid2),
          Interface: { Address: "10.231.7.3/24", AddressIPv6: "", MacAddress: "" },
          Options: {
            "com.docker.network.portmap": [{ Proto: 6, IP: "", Port: 81, HostIP: "10.0.0.9", HostPort: 8080 }]
          }
        }
        expect((yield* call(p, "CreateEndpoint", second)).status).toBe(200)
        const clash = yield* call(p, "ProgramExternalConnectivity", { ...ids(eid2), Options: second.Options })
        expect(clash.status).toBe(500)
        expect(clash.body.Err).toBe(
          `network-bridge cannot publish 10.0.0.9:8080->81/tcp for endpoint ${eid2}: the host port is published already as 8080->80/tcp for endpoint ${eid}; give another host port`
        )
        expect(h.nat.chains().get(chain)).toHaveLength(2)
        // Another protocol on the same port is another port.
        const udp = { "com.docker.network.portmap": [{ Proto: 17, IP: "", Port: 80, HostIP: "", HostPort: 8080 }] }
        expect((yield* call(p, "ProgramExternalConnectivity", { ...ids(eid2), Options: udp })).body).toEqual({})
        expect(h.nat.chains().get(chain)).toHaveLength(3)
        yield* call(p, "DeleteEndpoint", ids(eid2))
        expect(h.nat.chains().get(chain)).toHaveLength(2)

        // Revoked: the rules go, the answer empties, the chain stays while the network does.
        expect((yield* call(p, "RevokeExternalConnectivity", ids(eid))).body).toEqual({})
        expect(h.nat.chains().get(chain)).toEqual([])
        expect((yield* call(p, "EndpointOperInfo", ids(eid))).body.Value["com.docker.network.portmap"]).toEqual([])
        // Programmed again, then deleted without a revoke (a rollback): DeleteEndpoint removes the rules.
        yield* call(p, "ProgramExternalConnectivity", { ...ids(eid), Options: ports })
        expect(h.nat.chains().get(chain)).toHaveLength(2)
        yield* call(p, "Leave", ids(eid))
        expect((yield* call(p, "DeleteEndpoint", ids(eid))).body).toEqual({})
        expect(h.nat.chains().get(chain)).toEqual([])
        // The last network gone, nothing of the plugin stays in the NAT table.
        yield* call(p, "DeleteNetwork", { NetworkID: nid })
        expect([h.nat.chains().size, h.nat.jumps(), names(h.links)]).toEqual([0, [], []])
      })
  )

  it.effect("bindings it cannot publish are refused at CreateEndpoint naming them, with no veth and no rule made", () =>
    Effect.gen(function* () {
      const h = host()
      const p = yield* h.start()
      yield* call(p, "CreateNetwork", createNetwork())
      const refused = (binding: Record<string, unknown>) =>
        Effect.map(
          call(p, "CreateEndpoint", {
            ...createEndpoint(eid),
            Options: { "com.docker.network.portmap": [{ Proto: 6, IP: "", Port: 80, HostIP: "", ...binding }] }
          }),
          (r) => (r.status === 500 ? r.body.Err : `accepted: ${JSON.stringify(r.body)}`)
        )
      const give = "give -p HOST:CONTAINER (one host port of your choice, e.g. -p 8080:80)"
      expect(yield* refused({ HostPort: 0, HostPortEnd: 0 })).toBe(
        `network-bridge cannot publish any port->80/tcp: no host port given, and network-bridge does not pick one (-p CONTAINER and -P); ${give}`
      )
      expect(yield* refused({ HostPort: 8000, HostPortEnd: 8001 })).toBe(
        `network-bridge cannot publish 8000-8001->80/tcp: a range of host ports is not supported; ${give}`
      )
      expect(yield* refused({ HostIP: "::", HostPort: 8080 })).toBe(
        "network-bridge cannot publish :::8080->80/tcp: IPv6 host addresses are not supported, ports are published on IPv4 only; give an IPv4 address or none"
      )
      expect(yield* refused({ HostIP: "127.0.0.1", HostPort: 8080 })).toContain("loopback addresses are not supported")
      expect(yield* refused({ Proto: 132, HostPort: 8080 })).toBe(
        "network-bridge cannot publish 8080->80/sctp: only tcp and udp ports are published"
      )
      expect(
        yield* Effect.map(
          call(p, "CreateEndpoint", {
            ...createEndpoint(eid),
            Options: {
              "com.docker.network.portmap": [
                { Proto: 6, IP: "", Port: 80, HostIP: "", HostPort: 8080 },
                { Proto: 6, IP: "", Port: 81, HostIP: "10.0.0.1", HostPort: 8080 }
              ]
            }
          }),
          (r) => r.body.Err
        )
      ).toBe(
        "network-bridge cannot publish 10.0.0.1:8080->81/tcp: host port 8080/tcp is given twice (also as 8080->80/tcp)"
      )
      expect(names(h.links)).toEqual([bridge])
      expect(changes(h.nat)).toEqual([])

      // On an internal network nothing is published (the daemon sends none with --internal; -o internal=true it
      // does not know of).
      const n2 = "b1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
      yield* call(p, "CreateNetwork", { ...createNetwork({ internal: "true" }), NetworkID: n2 })
      const internal = yield* call(p, "CreateEndpoint", {
        ...createEndpoint(eid),
        NetworkID: n2,
        Options: { "com.docker.network.portmap": [{ Proto: 6, IP: "", Port: 80, HostIP: "", HostPort: 8080 }] }
      })
      expect(internal.body.Err).toBe(
        `network-bridge cannot publish 8080->80/tcp: network ${n2} is internal, so nothing reaches it from outside; publish the ports through another network`
      )
      // Exposed ports alone, and an empty port map, publish nothing and need no iptables.
      const exposed = yield* call(p, "CreateEndpoint", {
        ...createEndpoint(eid),
        Options: {
          "com.docker.network.portmap": [],
          "com.docker.network.endpoint.exposedports": [{ Proto: 6, Port: 80 }]
        }
      })
      expect(exposed.body).toEqual({ Interface: { MacAddress: expect.any(String) } })
      expect(names(h.links)).toContain(hostEnd(eid))
    })
  )

  it.effect("without iptables: -p is refused at CreateEndpoint saying so; networks without ports work", () =>
    Effect.gen(function* () {
      const h = host(undefined, { missing: true })
      const p = yield* h.start()
      yield* call(p, "CreateNetwork", createNetwork())
      const refused = yield* call(p, "CreateEndpoint", {
        ...createEndpoint(eid),
        Options: { "com.docker.network.portmap": [{ Proto: 6, IP: "", Port: 80, HostIP: "", HostPort: 8080 }] }
      })
      expect(refused.body.Err).toBe(
        "check nat table: /usr/sbin/iptables not found: publishing ports and masquerading need iptables on the host"
      )
      expect(names(h.links)).toEqual([bridge])
      expect((yield* call(p, "CreateEndpoint", createEndpoint(eid))).status).toBe(200)
      yield* call(p, "Join", join(eid))
      expect((yield* call(p, "ProgramExternalConnectivity", { ...ids(eid), Options: join(eid).Options })).body).toEqual(
        {}
      )
      expect((yield* call(p, "RevokeExternalConnectivity", ids(eid))).body).toEqual({})
      yield* call(p, "Leave", ids(eid))
      yield* call(p, "DeleteEndpoint", ids(eid))
      expect((yield* call(p, "DeleteNetwork", { NetworkID: nid })).body).toEqual({})
      const masquerade = yield* call(p, "CreateNetwork", createNetwork({ masquerade: "true" }))
      expect(masquerade.body.Err).toContain("/usr/sbin/iptables not found")
      expect(names(h.links)).toEqual([])
    })
  )

  it.effect("masquerade=true: a MASQUERADE rule for the subnet from CreateNetwork to DeleteNetwork", () =>
    Effect.gen(function* () {
      const h = host()
      const p = yield* h.start()
      expect((yield* call(p, "CreateNetwork", createNetwork({ masquerade: "true" }))).body).toEqual({})
      expect(h.nat.masquerade()).toEqual([
        { source: "10.231.7.0/24", bridge, comment: `dpk ${instance} network ${nid}` }
      ])
      expect(h.nat.chains().size).toBe(0) // no port published: no chain
      yield* call(p, "DeleteNetwork", { NetworkID: nid })
      expect(h.nat.masquerade()).toEqual([])
      const internal = yield* call(
        p,
        "CreateNetwork",
        createNetwork({ masquerade: "true" }, { "com.docker.network.internal": true })
      )
      expect(internal.body.Err).toBe(
        "option masquerade=true: an internal network has no way out to masquerade; give one of the two"
      )
    })
  )

  it.effect("a restart puts the rules of published endpoints back and removes rules no record explains", () =>
    Effect.gen(function* () {
      const h = host()
      const chain = `DPK-${instance}`
      const ports = {
        "com.docker.network.portmap": [{ Proto: 6, IP: "", Port: 80, HostIP: "", HostPort: 8080, HostPortEnd: 8080 }]
      }
      yield* Effect.scoped(
        Effect.gen(function* () {
          const p = yield* h.start()
          yield* call(p, "CreateNetwork", createNetwork({ masquerade: "true" }))
          yield* call(p, "CreateEndpoint", { ...createEndpoint(eid), Options: ports })
          yield* call(p, "Join", { ...join(eid), Options: ports })
          yield* call(p, "ProgramExternalConnectivity", { ...ids(eid), Options: ports })
        })
      )
      const published = h.nat.chains().get(chain)!
      // While the plugin is down: its rule removed by someone, a stray rule of a crashed run (an endpoint deleted
      // from the state just before), a stray MASQUERADE rule of its own, and other programs' rules.
      const stray = {
        proto: "tcp" as const,
        hostPort: 9090,
        destination: "10.231.7.9:80",
        comment: `dpk ${instance} gone`
      }
      const foreign = { ...stray, comment: "dpk 99999999 someone" }
      h.nat.service.removeDnat(chain, published[0]!).pipe(Effect.runSync)
      h.nat.addBehind(chain, stray)
      h.nat.addBehind("DPK-99999999", foreign)
      const strayMasquerade = { source: "10.9.9.0/24", bridge: "dpk-gone", comment: `dpk ${instance} network gone` }
      h.nat.masqueradeBehind(strayMasquerade)
      h.nat.masqueradeBehind({ source: "10.8.8.0/24", bridge: "br0", comment: "someone else" })
      const p = yield* h.start()
      expect(h.nat.chains().get(chain)).toEqual(published)
      expect(h.nat.chains().get("DPK-99999999")).toEqual([foreign])
      expect(h.nat.masquerade().map((r) => r.comment)).toEqual([`dpk ${instance} network ${nid}`, "someone else"])
      expect((yield* call(p, "EndpointOperInfo", ids(eid))).body.Value["com.docker.network.portmap"]).toHaveLength(1)
      // Revoked, deleted, the network gone: only the other programs' rules stay.
      yield* call(p, "RevokeExternalConnectivity", ids(eid))
      yield* call(p, "Leave", ids(eid))
      yield* call(p, "DeleteEndpoint", ids(eid))
      yield* call(p, "DeleteNetwork", { NetworkID: nid })
      expect([...h.nat.chains().keys()]).toEqual(["DPK-99999999"])
      expect(h.nat.jumps()).toEqual([])
      expect(h.nat.masquerade().map((r) => r.comment)).toEqual(["someone else"])
    })
  )

  it.effect("a failed rule rolls ProgramExternalConnectivity back: no rule, nothing recorded as published", () =>
    Effect.gen(function* () {
      const h = host(undefined, {
        fault: (operation, name) =>
          operation === "addDnat" && name.endsWith("udp/5300") ? "iptables: boom" : undefined
      })
      const p = yield* h.start()
      const ports = {
        "com.docker.network.portmap": [
          { Proto: 6, IP: "", Port: 80, HostIP: "", HostPort: 8080 },
          { Proto: 17, IP: "", Port: 53, HostIP: "", HostPort: 5300 }
        ]
      }
      yield* call(p, "CreateNetwork", createNetwork())
      yield* call(p, "CreateEndpoint", { ...createEndpoint(eid), Options: ports })
      const failed = yield* call(p, "ProgramExternalConnectivity", { ...ids(eid), Options: ports })
      expect(failed.status).toBe(500)
      expect(failed.body.Err).toBe("addDnat DPK-" + instance + " udp/5300: iptables: boom")
      expect(h.nat.chains().get(`DPK-${instance}`)).toEqual([])
      expect((yield* call(p, "EndpointOperInfo", ids(eid))).body.Value["com.docker.network.portmap"]).toEqual([])
    })
  )

  it.effect("two ProgramExternalConnectivity at once for one host port: one publishes, the other is refused", () =>
    Effect.gen(function* () {
      const h = host()
      const p = yield* h.start()
      const ports = { "com.docker.network.portmap": [{ Proto: 6, IP: "", Port: 80, HostIP: "", HostPort: 8080 }] }
      yield* call(p, "CreateNetwork", createNetwork())
      yield* call(p, "CreateEndpoint", { ...createEndpoint(eid), Options: ports })
      yield* call(p, "CreateEndpoint", {
        ...createEndpoint(eid2),
        Interface: { Address: "10.231.7.3/24", AddressIPv6: "", MacAddress: "" },
        Options: ports
      })
      const answers = yield* Effect.all(
        [eid, eid2].map((id) => call(p, "ProgramExternalConnectivity", { ...ids(id), Options: ports })),
        { concurrency: "unbounded" }
      )
      expect(answers.map((a) => a.status).sort()).toEqual([200, 500])
      expect(h.nat.chains().get(`DPK-${instance}`)).toHaveLength(1)
    })
  )

  it.effect("a rollback whose own rule removal fails still takes the record back: a restart publishes nothing", () =>
    Effect.gen(function* () {
      // iptables fails for a while: the second rule cannot be added, and the first cannot be removed again.
      let broken = true
      const h = host(undefined, {
        fault: (operation, name) =>
          broken && ((operation === "addDnat" && name.endsWith("udp/5300")) || operation === "removeDnat")
            ? "iptables: boom"
            : undefined
      })
      const chain = `DPK-${instance}`
      const ports = {
        "com.docker.network.portmap": [
          { Proto: 6, IP: "", Port: 80, HostIP: "", HostPort: 8080 },
          { Proto: 17, IP: "", Port: 53, HostIP: "", HostPort: 5300 }
        ]
      }
      yield* Effect.scoped(
        Effect.gen(function* () {
          const p = yield* h.start()
          yield* call(p, "CreateNetwork", createNetwork())
          yield* call(p, "CreateEndpoint", { ...createEndpoint(eid), Options: ports })
          const failed = yield* call(p, "ProgramExternalConnectivity", { ...ids(eid), Options: ports })
          expect(failed.status).toBe(500)
          expect(h.nat.chains().get(chain)).toHaveLength(1) // the rule that could not be removed
        })
      )
      // The daemon took the failure as "not published": the state file must say so too, or a restart publishes the
      // port for a container the daemon rolled back.
      broken = false
      const p = yield* h.start()
      expect(h.nat.chains().get(chain)).toEqual([])
      expect((yield* call(p, "EndpointOperInfo", ids(eid))).body.Value["com.docker.network.portmap"]).toEqual([])
    })
  )

  it.effect("a failed MASQUERADE rule rolls CreateNetwork back even when its bridge cannot be removed at once", () =>
    Effect.gen(function* () {
      let broken = true
      const h = host((operation) => (broken && operation === "remove" ? "ip: boom" : undefined), {
        fault: (operation) => (broken && operation === "addMasquerade" ? "iptables: boom" : undefined)
      })
      yield* Effect.scoped(
        Effect.gen(function* () {
          const p = yield* h.start()
          const failed = yield* call(p, "CreateNetwork", createNetwork({ masquerade: "true" }))
          expect(failed.body.Err).toBe("addMasquerade 10.231.7.0/24: iptables: boom")
          expect(names(h.links)).toEqual([bridge]) // could not be removed
        })
      )
      // The daemon took the failure as "no network": a restart must not bring it back (with its MASQUERADE rule),
      // and removes the bridge no record explains.
      broken = false
      yield* h.start()
      expect(names(h.links)).toEqual([])
      expect(h.nat.masquerade()).toEqual([])
    })
  )

  it.effect(
    "a MAC a veth cannot carry (multicast, all zeros, not 6 bytes) is refused naming it, with no veth made",
    () =>
      Effect.gen(function* () {
        const h = host()
        const p = yield* h.start()
        yield* call(p, "CreateNetwork", createNetwork())
        for (const [mac, why] of [
          ["11:22:33:44:55:66", "is a multicast address"],
          ["ff:ff:ff:ff:ff:ff", "is a multicast address"],
          ["00:00:00:00:00:00", "is all zeros"],
          ["02:42:0a:e7:07:02:00:01", "is not 6 bytes long"]
        ]) {
          const refused = yield* call(p, "CreateEndpoint", createEndpoint(eid, mac))
          expect(refused.status).toBe(500)
          expect(refused.body.Err).toBe(
            `Interface.MacAddress ${mac} ${why}: a container's interface needs a 6-byte unicast Ethernet MAC (docker run --mac-address)`
          )
          expect(names(h.links)).toEqual([bridge])
        }
        // Another form Go's net.ParseMAC reads is written as ip reads it; nothing is answered (the daemon's MAC stays).
        expect((yield* call(p, "CreateEndpoint", createEndpoint(eid, "02-42-0A-E7-07-02"))).body).toEqual({})
        expect(h.links.links().find((l) => l.name === containerEnd(eid))?.macAddress).toBe("02:42:0a:e7:07:02")
      })
  )

  it.effect("network and endpoint IDs with a control character or over 200 bytes are refused naming the field", () =>
    Effect.gen(function* () {
      const h = host()
      const p = yield* h.start()
      const nul = yield* call(p, "CreateNetwork", { ...createNetwork(), NetworkID: "a\u0000b" })
      expect(nul.status).toBe(500)
      expect(nul.body.Err).toBe('NetworkID "a\\u0000b" contains a control character')
      const long = yield* call(p, "CreateNetwork", { ...createNetwork(), NetworkID: "x".repeat(201) })
      expect(long.body.Err).toContain("NetworkID")
      expect(long.body.Err).toContain("is 201 bytes long, the limit is 200")
      expect(names(h.links)).toEqual([])
      expect(h.disk.entries().filter(([path]) => path.includes("/networks/"))).toEqual([])
      // Any other ID is fine: it is hashed into link and file names.
      expect((yield* call(p, "CreateNetwork", { ...createNetwork(), NetworkID: "../x" })).body).toEqual({})
      expect((yield* call(p, "DeleteNetwork", { NetworkID: "../x" })).body).toEqual({})
      yield* call(p, "CreateNetwork", createNetwork())
      const endpoint = yield* call(p, "CreateEndpoint", createEndpoint("e\nf"))
      expect(endpoint.body.Err).toBe('EndpointID "e\\nf" contains a control character')
      expect(names(h.links)).toEqual([bridge])
    })
  )

  it.effect("a failed link operation rolls the endpoint back: no state, no link", () =>
    Effect.gen(function* () {
      const h = host((operation, name) => (operation === "addVeth" && name === hostEnd(eid2) ? "no space" : undefined))
      const p = yield* h.start()
      yield* call(p, "CreateNetwork", createNetwork())
      const failed = yield* call(p, "CreateEndpoint", createEndpoint(eid2))
      expect(failed.body.Err).toBe(`addVeth ${hostEnd(eid2)}: no space`)
      expect(names(h.links)).toEqual([bridge])
      expect((yield* call(p, "DeleteNetwork", { NetworkID: nid })).body).toEqual({})
    })
  )

  it.effect("a restart keeps a running container's link, and a new endpoint joins afterwards", () =>
    Effect.gen(function* () {
      const h = host()
      const first = yield* Effect.scoped(
        Effect.gen(function* () {
          const p = yield* h.start()
          yield* call(p, "CreateNetwork", createNetwork({ mtu: "1400" }))
          yield* call(p, "CreateEndpoint", createEndpoint(eid))
          yield* call(p, "Join", join(eid))
          h.links.moveToSandbox(containerEnd(eid))
          return h.links.links()
        })
      )
      const logBefore = h.links.log.length
      const p = yield* h.start()
      // Nothing was created or removed: the running container's veth is adopted as it is.
      expect(h.links.links()).toEqual(first)
      expect(h.links.log.slice(logBefore).filter((op) => !/^(list|addAddress|setUp|attach) /.test(op))).toEqual([])
      expect((yield* call(p, "EndpointOperInfo", ids(eid))).body.Value.joined).toBe(true)
      yield* call(p, "CreateEndpoint", createEndpoint(eid2))
      expect((yield* call(p, "Join", join(eid2))).body.Gateway).toBe("10.231.7.1")
      h.links.moveToSandbox(containerEnd(eid2))
      expect((yield* call(p, "DeleteNetwork", { NetworkID: nid })).body.Err).toContain("2 endpoint(s)")
    })
  )

  it.effect(
    "stored instance: drivers with the same state path on separate disks keep each other's links; a restart keeps the tag",
    () =>
      Effect.gen(function* () {
        const links = LinksMemory.make()
        const disk = () => VolumeFsMemory.make()
        // The same state path in separate file systems on one host's links: managed plugins, each in its rootfs.
        const start = (d: VolumeFsMemory.MemoryFs, storedInstance: boolean) =>
          InProcess.make(
            NetworkBridge.layer({ stateDir, storedInstance }).pipe(
              Layer.provide(
                Layer.mergeAll(
                  LinksMemory.layer(links),
                  NatMemory.layer(NatMemory.make()),
                  Layer.succeed(VolumeFs.VolumeFs, d.service)
                )
              )
            )
          )
        // With tags derived from the path, the second driver's start-up takes the first one's bridge for its own
        // leftover and removes it: why managed plugins store theirs.
        yield* Effect.scoped(Effect.flatMap(start(disk(), false), (p) => call(p, "CreateNetwork", createNetwork())))
        expect(names(links)).toContain(bridge)
        yield* Effect.scoped(start(disk(), false))
        expect(names(links)).not.toContain(bridge)

        const a = disk()
        yield* Effect.scoped(Effect.flatMap(start(a, true), (p) => call(p, "CreateNetwork", createNetwork())))
        const tag = (yield* a.service.readFile(NetworkBridge.instanceFile(stateDir))).trim()
        expect(tag).toMatch(/^[0-9a-f]{8}$/)
        expect(tag).not.toBe(instance)
        expect(BridgeReconcile.parseAlias(links.links().find((l) => l.name === bridge)?.alias)?.instance).toBe(tag)

        // Another driver with a stored tag of its own leaves the bridge alone...
        yield* Effect.scoped(start(disk(), true))
        expect(names(links)).toContain(bridge)
        // ...and the first one, restarted on its disk, is still the bridge's owner: it adopts it.
        const logBefore = links.log.length
        yield* Effect.scoped(
          Effect.flatMap(start(a, true), (p) =>
            Effect.map(call(p, "DeleteNetwork", { NetworkID: nid }), (r) => expect(r.body).toEqual({}))
          )
        )
        expect(links.log.slice(logBefore)).toContain(`remove ${bridge}`)
        expect(names(links)).not.toContain(bridge)
      })
  )

  it.effect("a stored instance file that is not a tag stops start-up with a message naming it", () =>
    Effect.gen(function* () {
      const h = host()
      yield* h.disk.service.makeDirectory(stateDir)
      yield* h.disk.service.writeFileAtomic(NetworkBridge.instanceFile(stateDir), "not a tag\n", stateDir)
      const failed = yield* Effect.flip(
        InProcess.make(
          NetworkBridge.layer({ stateDir, storedInstance: true }).pipe(
            Layer.provide(
              Layer.mergeAll(
                LinksMemory.layer(h.links),
                NatMemory.layer(h.nat),
                Layer.succeed(VolumeFs.VolumeFs, h.disk.service)
              )
            )
          )
        )
      )
      expect(failed.message).toContain(`state file ${NetworkBridge.instanceFile(stateDir)} is unreadable`)
      expect(failed.message).toContain('found "not a tag"')
    })
  )

  it.effect(
    "DeleteNetwork drops endpoints in no container (veth gone, or container end on the host), refuses live ones",
    () =>
      Effect.gen(function* () {
        const h = host()
        const p = yield* h.start()
        const eid3 = "3".repeat(64)
        yield* call(p, "CreateNetwork", createNetwork())
        for (const id of [eid, eid2, eid3]) {
          yield* call(p, "CreateEndpoint", createEndpoint(id))
          yield* call(p, "Join", join(id))
          h.links.moveToSandbox(containerEnd(id))
        }
        // The daemon was killed with the container: its namespace, and the pair with it, are gone; no DeleteEndpoint.
        h.links.removeBehind(hostEnd(eid))
        // The container left while the plugin was down: the daemon gave the container end back, no Leave or Delete.
        h.links.moveToHost(containerEnd(eid3))
        const refused = yield* call(p, "DeleteNetwork", { NetworkID: nid })
        expect(refused.body.Err).toBe(`network ${nid} still has 1 endpoint(s): ${eid2}`)
        expect((yield* call(p, "EndpointOperInfo", ids(eid))).body.Err).toContain("no such endpoint")
        expect((yield* call(p, "EndpointOperInfo", ids(eid3))).body.Err).toContain("no such endpoint")
        expect(names(h.links)).toEqual([bridge, hostEnd(eid2)])
        yield* call(p, "Leave", ids(eid2))
        h.links.moveToHost(containerEnd(eid2))
        yield* call(p, "DeleteEndpoint", ids(eid2))
        expect((yield* call(p, "DeleteNetwork", { NetworkID: nid })).body).toEqual({})
        expect(names(h.links)).toEqual([])
      })
  )

  it.effect(
    "start-up after a crash: missing links are recreated, leftovers of this instance removed, others kept",
    () =>
      Effect.gen(function* () {
        const h = host()
        yield* Effect.scoped(
          Effect.gen(function* () {
            const p = yield* h.start()
            yield* call(p, "CreateNetwork", createNetwork())
            yield* call(p, "CreateEndpoint", createEndpoint(eid))
          })
        )
        // The bridge vanished (e.g. a reboot); a veth of this instance no record explains (crash before its state
        // was written); another instance's and another program's links.
        h.links.removeBehind(bridge)
        const orphan = "dpkh99999999999"
        yield* h.links.service.addBridge("br-other", { alias: BridgeReconcile.aliasOf("ffffffff", "network", "x") })
        yield* h.links.service.addBridge("br-tmp", { alias: "" })
        yield* h.links.service.addVeth({
          host: orphan,
          container: "dpkc99999999999",
          bridge: "br-tmp",
          containerMac: "02:00:00:00:00:09",
          alias: BridgeReconcile.aliasOf(instance, "endpoint", "9".repeat(64))
        })
        const p = yield* h.start()
        expect(names(h.links)).toEqual(["br-other", "br-tmp", bridge, containerEnd(eid), hostEnd(eid)].sort())
        expect(h.links.links().find((l) => l.name === hostEnd(eid))?.master).toBe(bridge)
        expect(h.links.links().find((l) => l.name === bridge)?.addresses).toEqual(["10.231.7.1/24"])
        expect((yield* call(p, "Join", join(eid))).body.InterfaceName.SrcName).toBe(containerEnd(eid))
      })
  )

  it.effect(
    "the plugin down while a container stops: the lost Leave/DeleteEndpoint do not keep the network forever",
    () =>
      Effect.gen(function* () {
        const h = host()
        yield* Effect.scoped(
          Effect.gen(function* () {
            const p = yield* h.start()
            yield* call(p, "CreateNetwork", createNetwork())
            yield* call(p, "CreateEndpoint", createEndpoint(eid))
            yield* call(p, "Join", join(eid))
            h.links.moveToSandbox(containerEnd(eid))
            // Another one the daemon rolls back while the plugin is down: never joined, its DeleteEndpoint lost.
            yield* call(p, "CreateEndpoint", createEndpoint(eid2))
          })
        )
        // The container stops while the plugin is down: the daemon's Leave and DeleteEndpoint fail (it only logs
        // them) and it moves the container end back to the host.
        h.links.moveToHost(containerEnd(eid))
        const p = yield* h.start()
        // docker network rm: the daemon has no endpoint left on the network, and removes it whatever the answer.
        expect((yield* call(p, "DeleteNetwork", { NetworkID: nid })).body).toEqual({})
        expect(names(h.links)).toEqual([])
        expect(h.disk.entries().filter(([path]) => path.includes("/networks/"))).toEqual([])
      })
  )

  it.effect("a bridge name taken by another program's link while the plugin was down: that link is never touched", () =>
    Effect.gen(function* () {
      const h = host()
      yield* Effect.scoped(
        Effect.gen(function* () {
          const p = yield* h.start()
          yield* call(p, "CreateNetwork", createNetwork({ bridge: "br0" }))
          yield* call(p, "CreateEndpoint", createEndpoint(eid))
        })
      )
      // A reboot took the bridge and the veth; the host's own configuration now brings up a br0 of its own.
      h.links.removeBehind(hostEnd(eid))
      h.links.removeBehind("br0")
      yield* h.links.service.addBridge("br0", { alias: "" })
      const before = h.links.links()
      const p = yield* h.start()
      // Not adopted: no address added to it, no veth made for it.
      expect(h.links.links()).toEqual(before)
      expect((yield* call(p, "CreateEndpoint", createEndpoint(eid2))).body.Err).toBe(
        `bridge br0 of network ${nid} is not this plugin's (another program's link has that name); remove the network`
      )
      expect(h.links.links()).toEqual(before)
      yield* call(p, "DeleteEndpoint", ids(eid))
      // The network goes, the host's br0 stays.
      expect((yield* call(p, "DeleteNetwork", { NetworkID: nid })).body).toEqual({})
      expect(names(h.links)).toEqual(["br0"])
    })
  )

  it.effect("a state file that cannot be read stops start-up with a message naming it", () =>
    Effect.gen(function* () {
      const h = host()
      yield* h.disk.service.makeDirectory(`${stateDir}/networks`)
      yield* h.disk.service.writeFileAtomic(`${stateDir}/networks/${nid}`, "{not json", `${stateDir}/tmp`)
      const error = yield* Effect.flip(Effect.scoped(Layer.build(h.driver())))
      expect(String(error)).toContain(`state file ${stateDir}/networks/${nid} is unreadable`)
    })
  )
})

describe("network-bridge's state folder owner (memory host, real state folder)", () => {
  const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-network-bridge-"))
  afterAll(() => Fs.rmSync(base, { recursive: true, force: true }))
  let n = 0
  /** A driver on a memory host and a real state folder (the claim is the disk's). */
  const onDisk = () => {
    const dir = Path.join(base, `state-${++n}`)
    const links = LinksMemory.make()
    const driver = () =>
      NetworkBridge.layer({ stateDir: dir }).pipe(
        Layer.provide(Layer.mergeAll(LinksMemory.layer(links), NatMemory.layer(NatMemory.make()), VolumeFsNode.layer))
      )
    return { dir, links, driver }
  }

  it.effect("refuses to start on a state folder a live other process owns, naming the folder and the pid", () =>
    Effect.gen(function* () {
      // Two `dpk serve network-bridge` on one --state-dir overwrote each other's state files and removed each
      // other's links at start-up.
      const h = onDisk()
      const pid = yield* liveProcess
      Fs.mkdirSync(h.dir, { recursive: true })
      Fs.writeFileSync(Path.join(h.dir, "owner.pid"), `${pid}\n`)
      const error = yield* Effect.flip(Effect.scoped(Layer.build(h.driver())))
      expect(error).toMatchObject({ _tag: "StateFolderInUse", folder: h.dir, owner: pid, inThisProcess: false })
      expect(error.message).toBe(
        `state folder ${h.dir} is in use by process ${pid}; stop that plugin first, or give this one its own ` +
          "state folder (--state-dir)"
      )
      expect(Fs.readdirSync(h.dir)).toEqual(["owner.pid"])
      expect(h.links.log).toEqual([])
    })
  )

  it.effect("a second driver on the folder in this process is refused; a stopped one gives the folder up", () =>
    Effect.gen(function* () {
      const h = onDisk()
      yield* Effect.scoped(
        Effect.gen(function* () {
          const p = yield* InProcess.make(h.driver())
          expect((yield* call(p, "CreateNetwork", createNetwork())).body).toEqual({})
          const error = yield* Effect.flip(Effect.scoped(Layer.build(h.driver())))
          expect(error).toMatchObject({ _tag: "StateFolderInUse", folder: h.dir, inThisProcess: true })
        })
      )
      expect(Fs.existsSync(Path.join(h.dir, "owner.pid"))).toBe(false)
      yield* InProcess.make(h.driver())
      expect(names(h.links)).toEqual([bridge])
    })
  )
})

describe("network-bridge forward rules on a memory host", () => {
  const fwd = `DPK-${instance}-FWD`
  const network1 = `dpk ${instance} network ${nid}`
  const ports = { "com.docker.network.portmap": [{ Proto: 6, IP: "", Port: 80, HostIP: "", HostPort: 8080 }] }
  const port = {
    kind: "port",
    bridge,
    destination: "10.231.7.2",
    proto: "tcp",
    port: 80,
    comment: `dpk ${instance} ${eid}`
  } as const
  const masqueraded = [
    { kind: "outbound", bridge, comment: network1 },
    { kind: "return", bridge, comment: network1 },
    { kind: "within", bridge, comment: network1 }
  ] as const
  const publish = (p: Plugin) =>
    Effect.gen(function* () {
      yield* call(p, "CreateEndpoint", { ...createEndpoint(eid), Options: ports })
      yield* call(p, "Join", { ...join(eid), Options: ports })
      return yield* call(p, "ProgramExternalConnectivity", { ...ids(eid), Options: ports })
    })

  it.effect("masquerade=true: its rules from CreateNetwork to DeleteNetwork, jumped to right after DOCKER-USER", () =>
    Effect.gen(function* () {
      const h = host()
      // The engine's jumps, there before the plugin: users' DOCKER-USER rules keep filtering first.
      h.nat.forwardRuleBehind("-j DOCKER-USER")
      h.nat.forwardRuleBehind("-j DOCKER-FORWARD")
      const p = yield* h.start()
      expect((yield* call(p, "CreateNetwork", createNetwork({ masquerade: "true" }))).body).toEqual({})
      expect(h.nat.forwardChains().get(fwd)).toEqual(masqueraded)
      expect(h.nat.forward()).toEqual(["-j DOCKER-USER", `-j ${fwd}`, "-j DOCKER-FORWARD"])
      // A published port adds the traffic to it; the answers go out through `outbound`.
      expect((yield* publish(p)).status).toBe(200)
      expect(h.nat.forwardChains().get(fwd)).toEqual([...masqueraded, port])
      expect(h.nat.forward()).toEqual(["-j DOCKER-USER", `-j ${fwd}`, "-j DOCKER-FORWARD"]) // one jump
      yield* call(p, "RevokeExternalConnectivity", ids(eid))
      expect(h.nat.forwardChains().get(fwd)).toEqual(masqueraded)
      yield* call(p, "Leave", ids(eid))
      yield* call(p, "DeleteEndpoint", ids(eid))
      yield* call(p, "DeleteNetwork", { NetworkID: nid })
      expect(h.nat.forwardChains().size).toBe(0)
      expect(h.nat.forward()).toEqual(["-j DOCKER-USER", "-j DOCKER-FORWARD"])
    })
  )

  it.effect("a network without masquerade: a chain only while a port is published, with the port and its answers", () =>
    Effect.gen(function* () {
      const h = host()
      const p = yield* h.start()
      yield* call(p, "CreateNetwork", createNetwork())
      expect(h.nat.forwardChains().size).toBe(0)
      expect((yield* publish(p)).status).toBe(200)
      expect(h.nat.forwardChains().get(fwd)).toEqual([{ kind: "reply", bridge, comment: network1 }, port])
      expect(h.nat.forward()).toEqual([`-j ${fwd}`]) // no DOCKER-USER: at the top
      // DeleteEndpoint without a revoke (the daemon rolling back) takes them away too, and the chain with them.
      yield* call(p, "Leave", ids(eid))
      yield* call(p, "DeleteEndpoint", ids(eid))
      expect(h.nat.forwardChains().size).toBe(0)
      expect(h.nat.forward()).toEqual([])
      expect(h.nat.chains().get(`DPK-${instance}`)).toEqual([])
    })
  )

  it.effect("a failed forward rule rolls ProgramExternalConnectivity back: no DNAT rule, nothing published", () =>
    Effect.gen(function* () {
      const h = host(undefined, {
        fault: (operation, name) =>
          operation === "addForward" && name.includes(" port ") ? "iptables: boom" : undefined
      })
      const p = yield* h.start()
      yield* call(p, "CreateNetwork", createNetwork())
      const failed = yield* publish(p)
      expect(failed.status).toBe(500)
      expect(failed.body.Err).toBe(`addForward ${fwd} port 10.231.7.2:80/tcp: iptables: boom`)
      expect(h.nat.chains().get(`DPK-${instance}`)).toEqual([])
      expect(h.nat.forwardChains().size).toBe(0)
      expect(h.nat.forward()).toEqual([])
      expect((yield* call(p, "EndpointOperInfo", ids(eid))).body.Value["com.docker.network.portmap"]).toEqual([])
    })
  )

  it.effect("a failed forward rule rolls CreateNetwork back: no bridge, no MASQUERADE rule, no chain", () =>
    Effect.gen(function* () {
      const h = host(undefined, { fault: (operation) => (operation === "addForward" ? "iptables: boom" : undefined) })
      const p = yield* h.start()
      const failed = yield* call(p, "CreateNetwork", createNetwork({ masquerade: "true" }))
      expect(failed.body.Err).toBe(`addForward ${fwd} outbound ${bridge}: iptables: boom`)
      expect([names(h.links), h.nat.masquerade(), h.nat.forwardChains().size, h.nat.forward()]).toEqual([[], [], 0, []])
    })
  )

  it.effect("a forward chain made by a call that then failed goes with the rollback, its jump too", () =>
    Effect.gen(function* () {
      // iptables made the chain and its jump, then the call failed (e.g. `-I FORWARD` answered an error after
      // inserting, or the 30 s limit killed it); a rollback that thinks nothing was made leaves them on the host.
      const nat = NatMemory.make()
      const failing: Nat.Service = {
        ...nat.service,
        ensureForwardChain: (chain) =>
          Effect.andThen(
            nat.service.ensureForwardChain(chain),
            Effect.fail(new Nat.NatError({ operation: "add jump", name: chain, reason: "iptables: boom" }))
          )
      }
      const links = LinksMemory.make()
      const driver = NetworkBridge.layer({ stateDir }).pipe(
        Layer.provide(Layer.mergeAll(LinksMemory.layer(links), Layer.succeed(Nat.Nat, failing), VolumeFsMemory.layer()))
      )
      const p = yield* InProcess.make(driver)
      const failed = yield* call(p, "CreateNetwork", createNetwork({ masquerade: "true" }))
      expect(failed.body.Err).toBe(`add jump ${fwd}: iptables: boom`)
      expect([names(links), nat.masquerade(), [...nat.forwardChains().keys()], nat.forward()]).toEqual([[], [], [], []])
    })
  )

  it.effect("a restart puts missing forward rules and the jump back, removes its own strays, and nobody else's", () =>
    Effect.gen(function* () {
      const h = host()
      yield* Effect.scoped(
        Effect.gen(function* () {
          const p = yield* h.start()
          yield* call(p, "CreateNetwork", createNetwork({ masquerade: "true" }))
          yield* publish(p)
        })
      )
      expect(h.nat.forwardChains().get(fwd)).toEqual([...masqueraded, port])
      // While the plugin is down: the jump and two rules removed by someone, a stray of a crashed run (a network
      // deleted from the state just before), another instance's chain and jump, and the engine's DOCKER-USER jump
      // inserted at the top.
      h.nat.service.removeForwardChain(fwd).pipe(Effect.runSync)
      const stray = { kind: "outbound" as const, bridge: "dpk-gone", comment: `dpk ${instance} network gone` }
      for (const rule of [masqueraded[0], port, stray]) h.nat.forwardBehind(fwd, rule)
      const foreign = { kind: "outbound" as const, bridge: "br-x", comment: "dpk 99999999 network x" }
      h.nat.forwardBehind("DPK-99999999-FWD", foreign)
      h.nat.forwardRuleBehind("-j DPK-99999999-FWD")
      h.nat.forwardRuleBehind("-j DOCKER-USER", 1)
      expect(h.nat.forward()).toEqual(["-j DOCKER-USER", "-j DPK-99999999-FWD"])
      const p = yield* h.start()
      expect(h.nat.forwardChains().get(fwd)).toEqual([masqueraded[0], port, masqueraded[1], masqueraded[2]])
      expect(h.nat.forward()).toEqual(["-j DOCKER-USER", `-j ${fwd}`, "-j DPK-99999999-FWD"])
      expect(h.nat.forwardChains().get("DPK-99999999-FWD")).toEqual([foreign])
      // A second restart with everything in place changes nothing.
      const before = h.nat.log.length
      yield* h.start()
      expect(h.nat.log.slice(before).filter((op) => !/^(list|ensureChain|ensureForwardChain) /.test(op))).toEqual([])
      // The network gone: only the other instance's chain and its jump stay.
      yield* call(p, "RevokeExternalConnectivity", ids(eid))
      yield* call(p, "Leave", ids(eid))
      yield* call(p, "DeleteEndpoint", ids(eid))
      yield* call(p, "DeleteNetwork", { NetworkID: nid })
      expect([...h.nat.forwardChains().keys()]).toEqual(["DPK-99999999-FWD"])
      expect(h.nat.forward()).toEqual(["-j DOCKER-USER", "-j DPK-99999999-FWD"])
    })
  )
})
