import { BridgeState, type BridgeTable, VolumeFs, VolumeFsMemory } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Result } from "effect"

const network = (id: string): BridgeTable.NetworkRecord => ({
  id,
  bridge: "br-x",
  settings: { mtu: 1400, internal: false, prefix: "eth", routes: [{ destination: "10.9.0.0/16" }] },
  addresses: ["10.1.0.1/24"],
  gateway: "10.1.0.1",
  endpoints: [
    {
      id: "e".repeat(64),
      hostInterface: "dpkheeeeeeeeeee",
      containerInterface: "dpkceeeeeeeeeee",
      address: "10.1.0.2/24",
      addressIPv6: "",
      macAddress: "02:42:0a:01:00:02",
      macGenerated: false,
      sandboxKey: "/var/run/docker/netns/abc"
    }
  ]
})

describe("BridgeState", () => {
  const l = BridgeState.layout("/state")

  it.effect("saves, loads back and erases networks; an ID that is not hex is never used as a path", () =>
    Effect.gen(function* () {
      const hex = "0123abcd".repeat(8)
      expect(yield* BridgeState.load(l)).toEqual([]) // prepares the folders, as start-up does
      yield* BridgeState.save(l, network(hex))
      yield* BridgeState.save(l, network("../../etc/passwd"))
      expect(BridgeState.fileOf(l, hex)).toBe(`/state/networks/${hex}`)
      expect(BridgeState.fileOf(l, "../../etc/passwd")).toMatch(/^\/state\/networks\/sha256-[0-9a-f]{64}$/)
      const loaded = yield* BridgeState.load(l)
      expect(loaded.map((n) => n.id).sort()).toEqual(["../../etc/passwd", hex])
      expect(loaded.find((n) => n.id === hex)).toEqual(network(hex))
      yield* BridgeState.erase(l, hex)
      expect((yield* BridgeState.load(l)).map((n) => n.id)).toEqual(["../../etc/passwd"])
    }).pipe(Effect.provide(VolumeFsMemory.layer()))
  )

  it("reads a file written before port publishing (no masquerade, ports or published), and the new fields back", () => {
    const file = BridgeState.fileOf(l, "aa")
    const old = BridgeState.decode(file, JSON.stringify({ version: 1, network: network("aa") }))
    expect(Result.isSuccess(old) && old.success).toEqual(network("aa"))
    const base = network("aa")
    const binding = { proto: "tcp" as const, port: 80, hostIp: "", hostPort: 8080 }
    const current: BridgeTable.NetworkRecord = {
      ...base,
      settings: { ...base.settings, masquerade: true },
      endpoints: base.endpoints.map((e) => ({
        ...e,
        ports: [binding],
        exposedPorts: [{ Proto: 6, Port: 80 }],
        published: [binding]
      }))
    }
    const read = BridgeState.decode(file, JSON.stringify({ version: 1, network: current }))
    expect(Result.isSuccess(read) && read.success).toEqual(current)
  })

  it("refuses a file that describes another network, or is not a network at all", () => {
    const file = BridgeState.fileOf(l, "aa")
    const other = BridgeState.decode(file, JSON.stringify({ version: 1, network: network("bb") }))
    expect(Result.isFailure(other) && other.failure.message).toContain('it describes network "bb"')
    const broken = BridgeState.decode(file, JSON.stringify({ version: 1, network: { id: "aa" } }))
    expect(Result.isFailure(broken) && broken.failure.message).toContain(`state file ${file} is unreadable`)
  })

  it.effect("a leftover temporary file of an interrupted write is removed at load", () =>
    Effect.gen(function* () {
      const fs = yield* VolumeFs.VolumeFs
      yield* fs.makeDirectory("/state/tmp")
      yield* fs.writeFileAtomic("/state/tmp/x.tmp", "half", "/state/tmp2")
      expect(yield* BridgeState.load(l)).toEqual([])
      expect(yield* fs.readDirectory("/state/tmp")).toEqual([])
    }).pipe(Effect.provide(VolumeFsMemory.layer()))
  )
})
