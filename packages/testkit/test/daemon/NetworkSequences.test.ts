// The network fake daemon replays the engine's call sequences (20.10, 28, 29) against network-bridge on a memory
// host, in-process and over a real socket, and reads broken answers the way the daemon does.
import type { PluginClient } from "@docker-plugin-kit/client"
import { LinksMemory, NetworkBridge } from "@docker-plugin-kit/drivers"
import { InProcess, NetworkSequences, SocketHarness } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { NetworkDriver } from "@docker-plugin-kit/protocol"

const steps = (action: { readonly calls: ReadonlyArray<{ readonly step: string }> }) => action.calls.map((c) => c.step)
const body = (action: { readonly calls: ReadonlyArray<{ readonly request: { readonly body: string } }> }, i: number) =>
  JSON.parse(action.calls[i]!.request.body)

const harnesses: ReadonlyArray<
  readonly [string, (layer: Layer.Layer<any, any>) => Effect.Effect<PluginClient.PluginClient, any, any>]
> = [
  ["in-process", (layer) => Effect.map(InProcess.make(layer), (p) => p.client)],
  ["over a socket", (layer) => Effect.map(SocketHarness.make(layer, { name: "nb" }), (h) => h.client)]
]

describe.each(harnesses)("NetworkSequences against network-bridge, %s", (_, connect) => {
  const setup = (engine: NetworkSequences.EngineVersion) =>
    Effect.gen(function* () {
      const host = LinksMemory.make()
      const client = yield* connect(NetworkBridge.layerMemory({ stateDir: "/var/lib/dpk/nb" }, host))
      return { host, daemon: yield* NetworkSequences.make(client, { engine, driverName: "nb" }) }
    })

  it.live("20.10: network create; run; stop; start; rm; network rm", () =>
    Effect.gen(function* () {
      const { host, daemon } = yield* setup("20.10")
      const create = yield* daemon.networkCreate("n1", { subnet: "10.210.1.0/24", options: { mtu: "1400" } })
      expect([steps(create), create.error]).toEqual([["Activate", "GetCapabilities", "CreateNetwork"], undefined])
      expect(body(create, 2).Options).toEqual({
        "com.docker.network.enable_ipv6": false,
        "com.docker.network.generic": { mtu: "1400" }
      })
      expect(body(create, 2).IPv4Data).toEqual([
        { AddressSpace: "LocalDefault", Gateway: "10.210.1.1/24", Pool: "10.210.1.0/24" }
      ])
      const bridge = host.links().find((l) => l.kind === "bridge")
      expect(bridge).toMatchObject({ mtu: 1400, addresses: ["10.210.1.1/24"] })

      const c = yield* daemon.run("n1")
      expect(steps(c.run)).toEqual([
        "CreateEndpoint",
        "Join",
        "EndpointOperInfo",
        "EndpointOperInfo",
        "ProgramExternalConnectivity"
      ])
      expect(c.run.error).toBeUndefined()
      expect(c.endpoint()?.address).toBe("10.210.1.2/24")
      expect(JSON.parse(c.run.calls[1]!.response!.text)).toMatchObject({
        Gateway: "10.210.1.1",
        InterfaceName: { DstPrefix: "eth" }
      })
      expect(host.links().filter((l) => l.kind === "veth")).toHaveLength(2)

      const stop = yield* c.stop
      expect([steps(stop), stop.error]).toEqual([["RevokeExternalConnectivity", "Leave", "DeleteEndpoint"], undefined])
      expect(host.links().filter((l) => l.kind === "veth")).toEqual([])
      const start = yield* c.start
      expect(steps(start)).toEqual([
        "CreateEndpoint",
        "Join",
        "EndpointOperInfo",
        "EndpointOperInfo",
        "ProgramExternalConnectivity"
      ])
      expect(c.endpoint()?.address).toBe("10.210.1.2/24") // the released address is handed out again

      const busy = yield* daemon.networkRm("n1")
      expect([steps(busy), busy.error]).toEqual([[], "error while removing network: network n1 has active endpoints"])
      expect(steps(yield* c.rm)).toEqual(["RevokeExternalConnectivity", "Leave", "DeleteEndpoint"])
      const rm = yield* daemon.networkRm("n1")
      expect([steps(rm), rm.error, rm.warnings]).toEqual([["DeleteNetwork"], undefined, []])
      expect(host.links()).toEqual([])
    })
  )

  it.live(
    "28: GwAllocCheck before CreateNetwork; an internal network gets no gateway and no external connectivity",
    () =>
      Effect.gen(function* () {
        const { host, daemon } = yield* setup("28")
        const create = yield* daemon.networkCreate("n2", { subnet: "10.210.2.0/24", internal: true })
        expect(steps(create)).toEqual(["Activate", "GetCapabilities", "GwAllocCheck", "CreateNetwork"])
        expect(JSON.parse(create.calls[2]!.response!.text)).toEqual({ SkipIPv4: true, SkipIPv6: true })
        expect(body(create, 3).Options).toMatchObject({
          "com.docker.network.enable_ipv4": true,
          "com.docker.network.internal": true
        })
        expect(body(create, 3).IPv4Data).toEqual([{ AddressSpace: "LocalDefault", Pool: "10.210.2.0/24" }])
        expect(host.links().find((l) => l.kind === "bridge")?.addresses).toEqual([])
        const c = yield* daemon.run("n2")
        expect(steps(c.run)).toEqual(["CreateEndpoint", "Join"])
        expect(JSON.parse(c.run.calls[1]!.response!.text).Gateway).toBeUndefined()
        expect(steps(yield* c.rm)).toEqual(["Leave", "DeleteEndpoint"])

        const open = yield* daemon.networkCreate("n3", { subnet: "10.210.3.0/24" })
        expect(steps(open)).toEqual(["GwAllocCheck", "CreateNetwork"])
        expect(body(open, 1).IPv4Data[0].Gateway).toBe("10.210.3.1/24")
        const bad = yield* daemon.networkCreate("n4", { subnet: "10.210.4.0/24", options: { colour: "blue" } })
        expect(steps(bad)).toEqual(["GwAllocCheck"])
        expect(bad.error).toMatch(/^NetworkDriver.GwAllocCheck: unknown option colour/)
      })
  )

  it.live("29: external connectivity is programmed once when the endpoint becomes the gateway, revoked on leave", () =>
    Effect.gen(function* () {
      const { daemon } = yield* setup("29")
      yield* daemon.networkCreate("n5", { subnet: "10.210.5.0/24" })
      const c = yield* daemon.run("n5")
      expect(steps(c.run)).toEqual(["CreateEndpoint", "Join", "ProgramExternalConnectivity"])
      expect(steps(yield* c.stop)).toEqual(["RevokeExternalConnectivity", "Leave", "DeleteEndpoint"])
      expect(steps(yield* c.rm)).toEqual([])
      expect((yield* daemon.history).map((a) => a.command)).toEqual([
        "docker network create -d nb --subnet 10.210.5.0/24 n5",
        "docker run -d --network n5",
        "docker stop",
        "docker rm -f"
      ])
    })
  )
})

describe("NetworkSequences reads answers like the daemon", () => {
  it.live("a 200 with Err shows as remote: ...; a failed Join rolls the endpoint back", () =>
    Effect.gen(function* () {
      const broken = Layer.succeed(NetworkDriver.NetworkDriver, {
        getCapabilities: () => Effect.succeed({ Scope: "local" as const }),
        createNetwork: () => Effect.succeed({}),
        deleteNetwork: () => Effect.succeed({}),
        allocateNetwork: () => Effect.succeed({ Options: {} }),
        freeNetwork: () => Effect.succeed({}),
        createEndpoint: () => Effect.succeed({}),
        endpointOperInfo: () => Effect.succeed({ Value: {} }),
        deleteEndpoint: () => Effect.succeed({}),
        join: () => Effect.fail({ _tag: "Nope", message: "no room in the sandbox" }),
        leave: () => Effect.succeed({})
      } satisfies NetworkDriver.Driver)
      const plugin = yield* InProcess.make(broken)
      const daemon = yield* NetworkSequences.make(plugin.client, { engine: "28", driverName: "b" })
      // No GwAllocChecker: no GwAllocCheck even on 28.
      expect(steps(yield* daemon.networkCreate("n", { subnet: "10.210.6.0/24" }))).toEqual([
        "Activate",
        "GetCapabilities",
        "CreateNetwork"
      ])
      const c = yield* daemon.run("n")
      expect([steps(c.run), c.run.error]).toEqual([
        ["CreateEndpoint", "Join", "DeleteEndpoint"],
        "NetworkDriver.Join: no room in the sandbox"
      ])
      expect(c.endpoint()).toBeUndefined()
    })
  )
})
