/**
 * The NetworkDriver suite against network-bridge (memory host) broken one way, to show that the defect fails a
 * check, and that network-bridge itself still passes.
 */
import { LinksMemory, NetworkBridge } from "@docker-plugin-kit/drivers"
import { NetworkDriver } from "@docker-plugin-kit/protocol"
import { Conformance, ConformanceNetwork, ConformanceSuites } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"

const bridge = () => NetworkBridge.layerMemory({ stateDir: "/var/lib/dpk/network-bridge" }, LinksMemory.make())

/** network-bridge with some methods replaced (each replacement gets the original driver). */
const broken = (patch: (driver: NetworkDriver.Driver) => Partial<NetworkDriver.Driver>) =>
  Layer.effect(
    NetworkDriver.NetworkDriver,
    Effect.gen(function* () {
      const driver = yield* NetworkDriver.NetworkDriver
      return { ...driver, ...patch(driver) }
    })
  ).pipe(Layer.provide(bridge()))

const reportOf = <E>(layer: Layer.Layer<NetworkDriver.NetworkDriver, E>) =>
  Effect.flatMap(ConformanceSuites.inProcess(layer), (client) => Conformance.run(ConformanceNetwork.suite, client))

const failures = (report: Conformance.Report) =>
  Object.fromEntries(report.outcomes.filter((o) => o.status === "fail").map((o) => [o.check, o.reason]))

describe("ConformanceNetwork against broken drivers", () => {
  it.live("network-bridge passes", () =>
    Effect.gen(function* () {
      expect(failures(yield* reportOf(bridge()))).toEqual({})
    })
  )

  it.live("a Join that answers a gateway but moves no interface into the container", () =>
    Effect.gen(function* () {
      // The veth is created, but the answer forgets to name it.
      const report = yield* reportOf(
        broken((d) => ({ join: (r) => Effect.map(d.join(r), (answer) => ({ ...answer, InterfaceName: null })) }))
      )
      const failed = failures(report)
      expect(Object.keys(failed)).toEqual([
        "Join, EndpointOperInfo, Leave and DeleteEndpoint follow each other like docker run and docker rm"
      ])
      expect(Object.values(failed)[0]).toMatch(
        /^Join answers the gateway 198\.1[89]\.\d+\.1 but moves no interface into the container \(InterfaceName null\): the daemon cannot route to the gateway, answers Leave and fails the container's start$/
      )
    })
  )

  it.live("a Join that answers the subnet's first host as gateway, whatever --gateway said", () =>
    Effect.gen(function* () {
      const pools = new Map<string, string>()
      const report = yield* reportOf(
        broken((d) => ({
          createNetwork: (r) =>
            Effect.tap(d.createNetwork(r), () =>
              Effect.sync(() => void pools.set(r.NetworkID, r.IPv4Data?.[0]?.Pool ?? ""))
            ),
          join: (r) =>
            Effect.map(d.join(r), (answer) => {
              const [a, b, c] = (pools.get(r.NetworkID) ?? "").split(".")
              return { ...answer, Gateway: `${a}.${b}.${c}.1` }
            })
        }))
      )
      const failed = failures(report)
      expect(Object.keys(failed)).toEqual([
        "Join answers the gateway the network was created with (docker network create --gateway)"
      ])
      expect(Object.values(failed)[0]).toMatch(
        /^Join answered the gateway (198\.1[89]\.\d+)\.1 for a network created with the gateway \1\.254\/24$/
      )
    })
  )
})
