import { BridgeReconcile, type BridgeTable, type Links } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"

const mine = "0123abcd"
const endpoint = (id: string, joined: boolean): BridgeTable.EndpointRecord => ({
  id,
  hostInterface: `dpkh${id}`,
  containerInterface: `dpkc${id}`,
  address: "10.0.0.2/24",
  addressIPv6: "",
  macAddress: "02:00:00:00:00:02",
  macGenerated: true,
  ...(joined ? { sandboxKey: "/var/run/docker/netns/x" } : {})
})
const network = (
  id: string,
  bridge: string,
  endpoints: Array<BridgeTable.EndpointRecord>
): BridgeTable.NetworkRecord => ({
  id,
  bridge,
  settings: { internal: false, prefix: "eth", routes: [] },
  addresses: ["10.0.0.1/24"],
  gateway: "10.0.0.1",
  endpoints
})
const link = (name: string, kind: Links.Link["kind"], alias?: string): Links.Link => ({
  name,
  kind,
  mtu: 1500,
  up: true,
  macAddress: "02:00:00:00:00:01",
  addresses: [],
  ...(alias === undefined ? {} : { alias })
})

describe("BridgeReconcile", () => {
  it("reads back only the aliases it writes", () => {
    expect(BridgeReconcile.parseAlias(BridgeReconcile.aliasOf(mine, "endpoint", "e1"))).toEqual({
      instance: mine,
      kind: "endpoint",
      id: "e1"
    })
    for (const alias of [
      undefined,
      "",
      "docker-plugin-kit network-bridge x volume y",
      "someone else's",
      "docker-plugin-kit network-bridge a network b c"
    ]) {
      expect(BridgeReconcile.parseAlias(alias)).toBeUndefined()
    }
  })

  it("plans: recreate missing, adopt present, report lost, remove only this instance's unexplained links", () => {
    const records = [
      network("n1", "br1", [endpoint("a", true), endpoint("b", false), endpoint("c", true)]),
      network("n2", "br2", []),
      network("n3", "eth9", [])
    ]
    const links = [
      link("br1", "bridge", BridgeReconcile.aliasOf(mine, "network", "n1")),
      link("dpkha", "veth", BridgeReconcile.aliasOf(mine, "endpoint", "a")),
      link("eth9", "other"),
      link("br-gone", "bridge", BridgeReconcile.aliasOf(mine, "network", "n0")),
      link("dpkhz", "veth", BridgeReconcile.aliasOf(mine, "endpoint", "z")),
      link("br-theirs", "bridge", BridgeReconcile.aliasOf("ffffffff", "network", "n0")),
      link("docker0", "bridge")
    ]
    const plan = BridgeReconcile.plan(records, links, mine)
    expect(plan.createBridges.map((n) => n.id)).toEqual(["n2"])
    expect(plan.adoptBridges.map((n) => n.id)).toEqual(["n1"])
    expect(plan.blockedBridges.map((n) => n.id)).toEqual(["n3"])
    expect(plan.adoptVeths.map((p) => p.endpoint.id)).toEqual(["a"])
    expect(plan.recreateVeths.map((p) => p.endpoint.id)).toEqual(["b"])
    expect(plan.lostVeths.map((p) => p.endpoint.id)).toEqual(["c"])
    expect(plan.removeLinks).toEqual(["br-gone", "dpkhz"])
  })

  it("a bridge name held by a bridge this instance did not make for that network: blocked, endpoints left alone", () => {
    const records = [
      network("n1", "br0", [endpoint("a", true), endpoint("b", false)]),
      network("n2", "br2", [endpoint("c", false)]),
      network("n3", "br3", [])
    ]
    const links = [
      // Another program's bridge, another instance's, and this instance's for another network.
      link("br0", "bridge"),
      link("dpkha", "veth", BridgeReconcile.aliasOf(mine, "endpoint", "a")),
      link("br2", "bridge", BridgeReconcile.aliasOf("ffffffff", "network", "n2")),
      link("br3", "bridge", BridgeReconcile.aliasOf(mine, "network", "n9"))
    ]
    const plan = BridgeReconcile.plan(records, links, mine)
    expect(plan.blockedBridges.map((n) => n.id)).toEqual(["n1", "n2", "n3"])
    expect([...plan.createBridges, ...plan.adoptBridges]).toEqual([])
    expect([...plan.adoptVeths, ...plan.recreateVeths, ...plan.lostVeths]).toEqual([])
    expect(plan.removeLinks).toEqual([])
  })
})
