// The driver tested in-process, call by call and with the daemon's own call sequences (the testkit's fake daemon),
// then over a Unix socket with the toolkit's network conformance suite.
import { ConformanceNetwork, ConformanceSuites, InProcess, NetworkSequences } from "@docker-plugin-kit/testkit"
import { ConformanceVitest } from "@docker-plugin-kit/testkit/vitest"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Driver from "../src/Driver.ts"

const ids = { NetworkID: "n1", EndpointID: "e1" }

describe("the driver, in-process", () => {
  it.effect("keeps networks and endpoints, joined and left, and refuses what it does not hold", () =>
    Effect.gen(function* () {
      const plugin = yield* InProcess.make(Driver.layer)
      const call = (path: string, body: unknown) =>
        Effect.map(plugin.call(`/NetworkDriver.${path}`, body), (r) => r.body)
      const network = {
        NetworkID: "n1",
        Options: {},
        IPv4Data: [{ AddressSpace: "local", Pool: "10.9.0.0/24" }],
        IPv6Data: []
      }
      const endpoint = { ...ids, Interface: { Address: "10.9.0.2/24", AddressIPv6: "", MacAddress: "" }, Options: {} }
      expect(yield* call("CreateEndpoint", endpoint)).toEqual({ Err: "no such network: n1" })
      expect(yield* call("CreateNetwork", network)).toEqual({})
      expect(yield* call("CreateNetwork", network)).toEqual({ Err: "network n1 exists already" })
      expect(yield* call("CreateEndpoint", endpoint)).toEqual({})
      expect(yield* call("CreateEndpoint", endpoint)).toEqual({ Err: "endpoint e1 exists already" })
      // Join moves no interface into the container: the answer names none, and no gateway.
      const join = { ...ids, SandboxKey: "/var/run/docker/netns/abc", Options: {} }
      expect(yield* call("Join", join)).toEqual({})
      expect(yield* call("EndpointOperInfo", ids)).toEqual({ Value: { address: "10.9.0.2/24", joined: true } })
      expect(yield* call("Join", join)).toEqual({ Err: "endpoint e1 is already joined to /var/run/docker/netns/abc" })
      expect(yield* call("Leave", ids)).toEqual({})
      expect(yield* call("EndpointOperInfo", ids)).toEqual({ Value: { address: "10.9.0.2/24", joined: false } })
      expect(yield* call("DeleteEndpoint", ids)).toEqual({})
      expect(yield* call("Join", join)).toEqual({ Err: "no such endpoint e1 on network n1" })
      expect(yield* call("DeleteNetwork", { NetworkID: "n1" })).toEqual({})
      expect(yield* call("CreateEndpoint", endpoint)).toEqual({ Err: "no such network: n1" })
    })
  )

  it.effect("serves docker network create, run, stop, start, rm and network rm as the daemon sends them", () =>
    Effect.gen(function* () {
      const plugin = yield* InProcess.make(Driver.layer)
      const daemon = yield* NetworkSequences.make(plugin.client, { engine: "20.10" })
      const created = yield* daemon.networkCreate("net1", { subnet: "10.9.1.0/24" })
      expect(created.error).toBeUndefined()
      const sent = created.calls.find((c) => c.step === "CreateNetwork")?.request.body ?? "{}"
      const { NetworkID } = JSON.parse(sent) as { NetworkID: string }
      const container = yield* daemon.run("net1")
      expect(container.run.error).toBeUndefined()
      const first = container.endpoint()
      expect(first?.address).toBe("10.9.1.2/24")
      const info = (EndpointID = "") =>
        Effect.map(plugin.call("/NetworkDriver.EndpointOperInfo", { NetworkID, EndpointID }), (r) => r.body)
      expect(yield* info(first?.id)).toEqual({ Value: { address: "10.9.1.2/24", joined: true } })
      expect((yield* container.stop).error).toBeUndefined()
      expect(yield* info(first?.id)).toEqual({ Err: `no such endpoint ${first?.id} on network ${NetworkID}` })
      expect((yield* container.start).error).toBeUndefined()
      expect((yield* container.rm).error).toBeUndefined()
      expect((yield* daemon.networkRm("net1")).error).toBeUndefined()
      expect(yield* info(first?.id)).toEqual({ Err: `no such network: ${NetworkID}` })
    })
  )
})

ConformanceVitest.describeSuite("the driver over a Unix socket", ConformanceNetwork.suite, () =>
  ConformanceSuites.overSocket(Driver.layer)
)
