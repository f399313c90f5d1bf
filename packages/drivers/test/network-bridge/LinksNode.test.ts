/**
 * `Links` on the host: the `ip -j` listing is read right, and (as root) every operation does what the driver
 * relies on, on links named for this test only.
 */
import { LinksNode } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"

const canRun = process.getuid?.() === 0 && ChildProcess.spawnSync("ip", ["-V"]).status === 0
if (!canRun) console.warn("SKIPPING host link tests of network-bridge: they need root and iproute2 (ip)")

describe("LinksNode.parseList", () => {
  it("reads kinds, MTU, up flag, master, alias and global addresses only", () => {
    const json = JSON.stringify([
      {
        ifname: "dpk-test",
        flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
        mtu: 1400,
        address: "62:af:97:6f:ac:3b",
        ifalias: "docker-plugin-kit network-bridge 0123abcd network n1",
        linkinfo: { info_kind: "bridge" },
        addr_info: [
          { family: "inet", local: "10.231.7.1", prefixlen: 24, scope: "global" },
          { family: "inet6", local: "fe80::1", prefixlen: 64, scope: "link" }
        ]
      },
      {
        ifname: "dpkh1",
        flags: ["BROADCAST"],
        mtu: 1500,
        address: "02:00:00:00:00:01",
        master: "dpk-test",
        linkinfo: { info_kind: "veth" }
      },
      { ifname: "lo", flags: ["LOOPBACK", "UP"], mtu: 65536, address: "00:00:00:00:00:00" }
    ])
    expect(LinksNode.parseList(json)).toEqual([
      {
        name: "dpk-test",
        kind: "bridge",
        mtu: 1400,
        up: true,
        macAddress: "62:af:97:6f:ac:3b",
        alias: "docker-plugin-kit network-bridge 0123abcd network n1",
        addresses: ["10.231.7.1/24"]
      },
      {
        name: "dpkh1",
        kind: "veth",
        mtu: 1500,
        up: false,
        macAddress: "02:00:00:00:00:01",
        master: "dpk-test",
        addresses: []
      },
      { name: "lo", kind: "other", mtu: 65536, up: true, macAddress: "00:00:00:00:00:00", addresses: [] }
    ])
  })
})

describe("LinksNode.ip", () => {
  it.effect("an argument ip cannot be given (a NUL byte) is a failure naming the operation, not a defect", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        LinksNode.ip("tag", "dpkt-x", ["link", "set", "dev", "dpkt-x", "alias", "a\u0000b"])
      )
      expect(error._tag).toBe("LinksError")
      expect(error.message).toContain("tag dpkt-x")
    })
  )
})

describe.skipIf(!canRun)("LinksNode on the host", () => {
  it.live("creates, tags, addresses, attaches and removes a bridge and a veth pair", () => {
    const suffix = Math.random().toString(16).slice(2, 8)
    const br = `dpkt-b${suffix}`
    const host = `dpkt-h${suffix}`
    const container = `dpkt-c${suffix}`
    const links = LinksNode.make
    const find = (name: string) => Effect.map(links.list, (all) => all.find((l) => l.name === name))
    return Effect.gen(function* () {
      yield* links.addBridge(br, { mtu: 1400, alias: `dpk test ${suffix}` })
      yield* links.addAddress(br, "10.254.77.1/24")
      yield* links.addAddress(br, "10.254.77.1/24") // already there: fine
      yield* links.addVeth({
        host,
        container,
        bridge: br,
        containerMac: "02:42:0a:fe:4d:02",
        mtu: 1400,
        alias: `dpk test ${suffix}`
      })
      expect(yield* find(br)).toMatchObject({
        kind: "bridge",
        mtu: 1400,
        up: true,
        alias: `dpk test ${suffix}`,
        addresses: ["10.254.77.1/24"]
      })
      expect(yield* find(host)).toMatchObject({ kind: "veth", mtu: 1400, up: true, master: br })
      expect(yield* find(container)).toMatchObject({ kind: "veth", mtu: 1400, macAddress: "02:42:0a:fe:4d:02" })
      const taken = yield* Effect.flip(links.addBridge(br, { alias: "x" }))
      expect(taken.message).toContain(`create bridge ${br}: `)
      expect(taken.message).toContain("File exists")
      yield* links.remove(host)
      expect(yield* find(container)).toBeUndefined() // the peer goes with it
      yield* links.remove(host) // missing: fine
    }).pipe(
      Effect.ensuring(Effect.ignore(Effect.andThen(links.remove(host), links.remove(br)))),
      Effect.andThen(find(br)),
      Effect.map((gone) => expect(gone).toBeUndefined())
    )
  })
})
