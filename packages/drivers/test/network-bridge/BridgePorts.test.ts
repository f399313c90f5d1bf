/**
 * The publishing decisions of `network-bridge`, pure: which port bindings are published and which refused (with the
 * message the user sees), host port conflicts between endpoints, what `EndpointOperInfo` answers, and what start-up
 * does to this instance's NAT rules.
 */
import { BridgeReconcile, BridgeTable } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"

const tag = "0123abcd"
const endpoint = (id: string, extra: Partial<BridgeTable.EndpointRecord> = {}): BridgeTable.EndpointRecord => ({
  id,
  hostInterface: `dpkh${id}`,
  containerInterface: `dpkc${id}`,
  address: "10.0.0.2/24",
  addressIPv6: "",
  macAddress: "02:00:00:00:00:02",
  macGenerated: true,
  ...extra
})
const network = (
  endpoints: Array<BridgeTable.EndpointRecord> = [],
  settings: Partial<BridgeTable.NetworkRecord["settings"]> = {}
): BridgeTable.NetworkRecord => ({
  id: "n1",
  bridge: "br-n1",
  settings: { internal: false, prefix: "eth", routes: [], ...settings },
  addresses: ["10.0.0.1/24"],
  gateway: "10.0.0.1",
  endpoints
})
const portmap = (...bindings: Array<Record<string, unknown>>) => ({
  "com.docker.network.portmap": bindings.map((b) => ({ Proto: 6, IP: "", Port: 80, HostIP: "", HostPortEnd: 0, ...b }))
})
const http: BridgeTable.PortBinding = { proto: "tcp", port: 80, hostIp: "", hostPort: 8080 }
const parsed = (options: Record<string, unknown>, n = network(), address = "10.0.0.2/24") => {
  const result = BridgeTable.portBindings(n, "e1", address, options)
  return Result.isSuccess(result) ? result.success : result.failure.message
}

describe("BridgeTable.portBindings", () => {
  it("reads tcp and udp bindings with an explicit host port, on every address or one IPv4 address", () => {
    expect(
      parsed(
        portmap(
          { HostPort: 8080, HostPortEnd: 8080 },
          { Proto: 17, Port: 53, HostIP: "0.0.0.0", HostPort: 5300 },
          { Port: 443, HostIP: "192.168.1.5", HostPort: 8443 },
          { HostPort: 8080, HostPortEnd: 8080 } // the same binding twice counts once
        )
      )
    ).toEqual([
      http,
      { proto: "udp", port: 53, hostIp: "", hostPort: 5300 },
      { proto: "tcp", port: 443, hostIp: "192.168.1.5", hostPort: 8443 }
    ])
    expect(parsed({})).toEqual([])
    expect(parsed({ "com.docker.network.portmap": [] })).toEqual([])
  })

  it("refuses what it cannot publish, naming the binding as docker run -p spells it and saying what to give", () => {
    const give = "give -p HOST:CONTAINER (one host port of your choice, e.g. -p 8080:80)"
    expect(parsed(portmap({ HostPort: 0 }))).toBe(
      `network-bridge cannot publish any port->80/tcp: no host port given, and network-bridge does not pick one (-p CONTAINER and -P); ${give}`
    )
    expect(parsed(portmap({ HostPort: 8000, HostPortEnd: 8010 }))).toBe(
      `network-bridge cannot publish 8000-8010->80/tcp: a range of host ports is not supported; ${give}`
    )
    expect(parsed(portmap({ HostIP: "fd00::1", HostPort: 8080 }))).toContain("IPv6 host addresses are not supported")
    expect(parsed(portmap({ HostIP: "127.0.0.1", HostPort: 8080 }))).toBe(
      "network-bridge cannot publish 127.0.0.1:8080->80/tcp: loopback addresses are not supported; give another address of the host, or none (every address)"
    )
    expect(parsed(portmap({ HostIP: "example.org", HostPort: 8080 }))).toContain("is not an IPv4 address")
    expect(parsed(portmap({ Proto: 132, HostPort: 8080 }))).toContain("only tcp and udp ports are published")
    expect(parsed(portmap({ HostPort: 8080 }, { Port: 81, HostIP: "10.1.1.1", HostPort: 8080 }))).toBe(
      "network-bridge cannot publish 10.1.1.1:8080->81/tcp: host port 8080/tcp is given twice (also as 8080->80/tcp)"
    )
    expect(parsed(portmap({ HostPort: 8080 }), network([], { internal: true }))).toBe(
      "network-bridge cannot publish 8080->80/tcp: network n1 is internal, so nothing reaches it from outside; publish the ports through another network"
    )
    expect(parsed(portmap({ HostPort: 8080 }), network(), "")).toContain("the endpoint has no IPv4 address")
    // The endpoint's address becomes the rule's destination: one the daemon never sends is refused naming it, not
    // cut to "10.0.0.:80" or handed to iptables.
    for (const address of ["10.0.0.2", "10.0.0.2/24 -j ACCEPT", "fd00::2/64", "10.0.0.300/24"]) {
      expect(parsed(portmap({ HostPort: 8080 }), network(), address)).toBe(
        `network-bridge cannot publish 8080->80/tcp: the endpoint's Interface.Address ${JSON.stringify(address)} is not an IPv4 address with a prefix length (10.0.0.2/24), so the traffic has nowhere to go`
      )
    }
  })
})

describe("BridgeTable.portConflict", () => {
  it("names both endpoints when a host port is published already, on the same address or on every address", () => {
    const table = new Map([["n1", network([endpoint("e1", { published: [http] })])]])
    const conflict = BridgeTable.portConflict(table, "e2", [{ ...http, hostIp: "10.0.0.9", port: 81 }])
    expect(conflict?.message).toBe(
      "network-bridge cannot publish 10.0.0.9:8080->81/tcp for endpoint e2: the host port is published already as 8080->80/tcp for endpoint e1; give another host port"
    )
    // Another protocol, another port, or the endpoint itself: no conflict.
    expect(BridgeTable.portConflict(table, "e2", [{ ...http, proto: "udp" }])).toBeUndefined()
    expect(BridgeTable.portConflict(table, "e2", [{ ...http, hostPort: 8081 }])).toBeUndefined()
    expect(BridgeTable.portConflict(table, "e1", [http])).toBeUndefined()
    // Asked for only (not programmed yet): not published, no conflict.
    const asked = new Map([["n1", network([endpoint("e1", { ports: [http] })])]])
    expect(BridgeTable.portConflict(asked, "e2", [http])).toBeUndefined()
  })
})

describe("BridgeTable.programExternalConnectivity and revokeExternalConnectivity", () => {
  it("publish the bindings of the options (those of CreateEndpoint when absent), then nothing", () => {
    const table = new Map([["n1", network([endpoint("e1", { ports: [http] })])]])
    const request = { NetworkID: "n1", EndpointID: "e1", Options: {} }
    const programmed = BridgeTable.programExternalConnectivity(table, request)
    if (Result.isFailure(programmed)) throw new Error(programmed.failure.message)
    expect([programmed.success.add, programmed.success.remove]).toEqual([[http], []])
    expect(programmed.success.endpoint.published).toEqual([http])
    const other = { ...request, Options: portmap({ Port: 81, HostPort: 9090 }) }
    const replaced = BridgeTable.programExternalConnectivity(programmed.success.table, other)
    if (Result.isFailure(replaced)) throw new Error(replaced.failure.message)
    expect([replaced.success.add, replaced.success.remove]).toEqual([
      [{ proto: "tcp", port: 81, hostIp: "", hostPort: 9090 }],
      [http]
    ])
    const revoked = BridgeTable.revokeExternalConnectivity(replaced.success.table, {
      NetworkID: "n1",
      EndpointID: "e1"
    })
    if (Result.isFailure(revoked)) throw new Error(revoked.failure.message)
    expect(revoked.success.remove).toEqual([{ proto: "tcp", port: 81, hostIp: "", hostPort: 9090 }])
    expect(revoked.success.endpoint.published).toBeUndefined()
    expect(revoked.success.network.endpoints[0]?.published).toBeUndefined()
  })
})

describe("BridgeTable.operInfo", () => {
  it("answers the published bindings and exposed ports under the daemon's keys, in the engine's form", () => {
    const e = endpoint("e1", {
      published: [http, { proto: "udp", port: 53, hostIp: "192.168.1.5", hostPort: 5300 }],
      exposedPorts: [{ Proto: 6, Port: 80 }]
    })
    const info = BridgeTable.operInfo(network([e]), e)
    expect(info["com.docker.network.portmap"]).toEqual([
      { Proto: 6, IP: "10.0.0.2", Port: 80, HostIP: "0.0.0.0", HostPort: 8080, HostPortEnd: 8080 },
      { Proto: 17, IP: "10.0.0.2", Port: 53, HostIP: "192.168.1.5", HostPort: 5300, HostPortEnd: 5300 }
    ])
    expect(info["com.docker.network.endpoint.exposedports"]).toEqual([{ Proto: 6, Port: 80 }])
    const plain = BridgeTable.operInfo(network([endpoint("e2")]), endpoint("e2"))
    expect(plain["com.docker.network.portmap"]).toEqual([])
  })
})

describe("NAT rule names", () => {
  it("a chain and comments per instance; an instance tag that is not plain is hashed", () => {
    expect(BridgeTable.natChain(tag)).toBe("DPK-0123abcd")
    expect(BridgeTable.natChain("a tag with spaces")).toMatch(/^DPK-[0-9a-f]{8}$/)
    expect(BridgeTable.natChain("x".repeat(40)).length).toBeLessThanOrEqual(28)
    expect(BridgeTable.dnatRule(tag, endpoint("e1"), http)).toEqual({
      proto: "tcp",
      hostPort: 8080,
      destination: "10.0.0.2:80",
      comment: "dpk 0123abcd e1"
    })
    expect(BridgeTable.dnatComment(tag, 'e "1"')).toMatch(/^dpk 0123abcd sha256-[0-9a-f]{32}$/)
    expect(BridgeTable.masqueradeRule(tag, network([], { masquerade: true }))).toEqual({
      source: "10.0.0.0/24",
      bridge: "br-n1",
      comment: "dpk 0123abcd network n1"
    })
    expect(BridgeTable.masqueradeRule(tag, network())).toBeUndefined()
  })
})

describe("BridgeReconcile.natPlan", () => {
  const published = network([endpoint("e1", { published: [http] })], { masquerade: true })
  const rule = BridgeTable.dnatRule(tag, endpoint("e1"), http)
  const masquerade = BridgeTable.masqueradeRule(tag, published)!

  it("puts missing rules back and removes this instance's rules no record explains", () => {
    const stray = { ...rule, hostPort: 9090, comment: "dpk 0123abcd gone" }
    const strayMasquerade = { ...masquerade, source: "10.9.0.0/24", comment: "dpk 0123abcd network gone" }
    const forward = BridgeTable.forwardRules(tag, published)
    const [outbound, , , port] = forward
    // A stray of this instance's chain (a network deleted just before a crash) goes; one rule removed by hand while
    // the plugin was down comes back.
    const strayForward = { kind: "outbound" as const, bridge: "br-gone", comment: "dpk 0123abcd network gone" }
    expect(
      BridgeReconcile.natPlan(
        [published],
        { dnat: [stray], masquerade: [strayMasquerade], forward: [strayForward, ...forward.slice(1)] },
        tag
      )
    ).toEqual({
      ensureChain: true,
      removeChain: false,
      removeDnat: [stray],
      addDnat: [rule],
      removeMasquerade: [strayMasquerade],
      addMasquerade: [masquerade],
      ensureForwardChain: true,
      removeForwardChain: false,
      removeForward: [strayForward],
      addForward: [outbound]
    })
    // A missing chain: every forward rule comes back, after the chain and its jump.
    expect(
      BridgeReconcile.natPlan([published], { dnat: [rule], masquerade: [masquerade], forward: undefined }, tag)
    ).toMatchObject({ ensureForwardChain: true, removeForwardChain: false, addForward: forward })
    expect(port).toMatchObject({ kind: "port" })
    // All in place: nothing to do but making sure the chains and their jumps are there.
    expect(
      BridgeReconcile.natPlan([published], { dnat: [rule], masquerade: [masquerade], forward }, tag)
    ).toMatchObject({
      removeDnat: [],
      addDnat: [],
      removeMasquerade: [],
      addMasquerade: [],
      removeForward: [],
      addForward: []
    })
  })

  it("no network left: the chain goes with its rules; no chain and nothing published: nothing is made", () => {
    const forward = BridgeTable.forwardRules(tag, published)
    expect(BridgeReconcile.natPlan([], { dnat: [rule], masquerade: [], forward }, tag)).toMatchObject({
      ensureChain: false,
      removeChain: true,
      removeDnat: [],
      ensureForwardChain: false,
      removeForwardChain: true,
      removeForward: []
    })
    expect(BridgeReconcile.natPlan([network()], { dnat: undefined, masquerade: [], forward: undefined }, tag)).toEqual({
      ensureChain: false,
      removeChain: false,
      removeDnat: [],
      addDnat: [],
      removeMasquerade: [],
      addMasquerade: [],
      ensureForwardChain: false,
      removeForwardChain: false,
      removeForward: [],
      addForward: []
    })
    // A network that neither masquerades nor publishes (any more) needs no forward chain: a leftover one goes.
    expect(BridgeReconcile.natPlan([network()], { dnat: [], masquerade: [], forward }, tag)).toMatchObject({
      removeChain: false,
      ensureForwardChain: false,
      removeForwardChain: true,
      removeForward: []
    })
  })
})

describe("forward rules", () => {
  const bridge = "br-n1"
  const network1 = "dpk 0123abcd network n1"

  it("a chain name per instance within iptables' 28 characters", () => {
    expect(BridgeTable.forwardChain(tag)).toBe("DPK-0123abcd-FWD")
    expect(BridgeTable.forwardChain("a".repeat(20))).toBe(`DPK-${"a".repeat(20)}-FWD`)
    for (const instance of ["a".repeat(21), "a".repeat(23), "x".repeat(40), "a tag with spaces"]) {
      expect(BridgeTable.forwardChain(instance)).toMatch(/^DPK-[0-9a-f]{8}-FWD$/)
    }
  })

  it("masquerade=true: out, back in and within the bridge; nothing for a network that neither masquerades nor publishes", () => {
    expect(BridgeTable.forwardRules(tag, network([], { masquerade: true }))).toEqual([
      { kind: "outbound", bridge, comment: network1 },
      { kind: "return", bridge, comment: network1 },
      { kind: "within", bridge, comment: network1 }
    ])
    expect(BridgeTable.forwardRules(tag, network([endpoint("e1")]))).toEqual([])
    expect(BridgeTable.forwardRules(tag, network([endpoint("e1")], { masquerade: false }))).toEqual([])
  })

  it("a published port: the traffic to it, once per container port, and its answers when not masquerading", () => {
    const e1 = endpoint("e1", { published: [http, { ...http, hostPort: 8081 }, { ...http, proto: "udp" }] })
    const e2 = endpoint("e2", { address: "10.0.0.3/24", published: [{ ...http, port: 443, hostPort: 8443 }] })
    const port = (destination: string, proto: "tcp" | "udp", p: number, comment: string) => ({
      kind: "port",
      bridge,
      destination,
      proto,
      port: p,
      comment
    })
    expect(BridgeTable.forwardRules(tag, network([e1, e2]))).toEqual([
      { kind: "reply", bridge, comment: network1 },
      port("10.0.0.2", "tcp", 80, "dpk 0123abcd e1"),
      port("10.0.0.2", "udp", 80, "dpk 0123abcd e1"),
      port("10.0.0.3", "tcp", 443, "dpk 0123abcd e2")
    ])
    expect(BridgeTable.forwardRules(tag, network([e2], { masquerade: true })).map((r) => r.kind)).toEqual([
      "outbound",
      "return",
      "within",
      "port"
    ])
  })

  it("a change adds what the new table asks for and removes what it no longer does, shared rules staying", () => {
    const e1 = endpoint("e1", { published: [http] })
    const e2 = endpoint("e2", { address: "10.0.0.3/24", published: [{ ...http, hostPort: 8081 }] })
    const before = [network([e1])]
    const after = [network([e1, e2])]
    expect(BridgeTable.forwardChanges(tag, before, after)).toEqual({
      add: [{ kind: "port", bridge, destination: "10.0.0.3", proto: "tcp", port: 80, comment: "dpk 0123abcd e2" }],
      remove: []
    })
    // e1 unpublished: its port goes, the answers rule stays for e2.
    expect(BridgeTable.forwardChanges(tag, after, [network([endpoint("e1"), e2])])).toEqual({
      add: [],
      remove: [{ kind: "port", bridge, destination: "10.0.0.2", proto: "tcp", port: 80, comment: "dpk 0123abcd e1" }]
    })
    expect(BridgeTable.forwardChanges(tag, before, []).remove.map((r) => r.kind)).toEqual(["reply", "port"])
  })
})
