// The client reads capability answers as the daemon does: a failure of any kind of an optional capability call
// means the default, the volume scope is compared case-insensitively, MACs are read in every net.ParseMAC form.
import { type PluginClient, Retry, Target } from "@docker-plugin-kit/client"
import { IpamDriver, LogDriver, NetworkDriver, VolumeDriver } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import { type Answer, rawPlugin, tempDir } from "./support.ts"

const fast: PluginClient.Options = { retry: Retry.none }

/** A client of a raw plugin that answers every call but Activate with `answer`. */
const clientAnswering = (implementsList: ReadonlyArray<string>, answer: (url: string) => Answer) =>
  Effect.gen(function* () {
    const path = Path.join(yield* tempDir, "raw.sock")
    yield* rawPlugin(path, (req) =>
      req.url === "/Plugin.Activate"
        ? { status: 200, body: JSON.stringify({ Implements: implementsList }) }
        : answer(req.url)
    )
    return yield* Target.connect(Target.socket(path), fast)
  })

describe("capability calls read as the daemon reads them", () => {
  it.live("any failure of IPAM and log capabilities means no capabilities, not only 404", () =>
    Effect.gen(function* () {
      for (const answer of [
        { status: 500, body: '{"Err":"boom"}' },
        { status: 200, body: '{"Error":"not today"}' },
        { status: 200, body: "not json" },
        { status: 200, body: '{"RequiresMACAddress":"yes"}' },
        { status: 404, body: "404 page not found" }
      ]) {
        const client = yield* clientAnswering(["IpamDriver", "LogDriver"], () => answer)
        expect(yield* client.driver(IpamDriver.Api).getCapabilities!({})).toEqual({
          RequiresMACAddress: false,
          RequiresRequestReplay: false
        })
        const logs = yield* client.driver(LogDriver.Api).capabilities!({})
        expect(logs).toEqual({ Cap: { ReadLogs: false } })
      }
    })
  )

  it.live("a capability answer that works is still read", () =>
    Effect.gen(function* () {
      const client = yield* clientAnswering(["IpamDriver"], () => ({
        status: 200,
        body: '{"RequiresMACAddress":true}'
      }))
      expect((yield* client.driver(IpamDriver.Api).getCapabilities!({})).RequiresMACAddress).toBe(true)
    })
  )

  it.live("the volume scope is compared case-insensitively; empty or unknown is local; failures are local", () =>
    Effect.gen(function* () {
      for (const [body, scope] of [
        ['{"Capabilities":{"Scope":"Global"}}', "global"],
        ['{"Capabilities":{"Scope":"GLOBAL"}}', "global"],
        ['{"Capabilities":{"Scope":"LOCAL"}}', "local"],
        ['{"Capabilities":{"Scope":""}}', "local"],
        ['{"Capabilities":{"Scope":"swarm"}}', "local"],
        ['{"capabilities":{"scope":"Global"}}', "global"],
        ["{}", "local"],
        ["null", "local"]
      ] as const) {
        const client = yield* clientAnswering(["VolumeDriver"], () => ({ status: 200, body }))
        expect([body, yield* client.driver(VolumeDriver.Api).capabilities!({})]).toEqual([
          body,
          { Capabilities: { Scope: scope } }
        ])
      }
      const failing = yield* clientAnswering(["VolumeDriver"], () => ({ status: 500, body: "oops" }))
      expect(yield* failing.driver(VolumeDriver.Api).capabilities!({})).toEqual({ Capabilities: { Scope: "local" } })
    })
  )

  it.live("the network scope stays exact and its capability call mandatory, as the daemon's registration", () =>
    Effect.gen(function* () {
      const wrongCase = yield* clientAnswering(["NetworkDriver"], () => ({ status: 200, body: '{"Scope":"Local"}' }))
      const refused = yield* Effect.flip(wrongCase.driver(NetworkDriver.Api).getCapabilities({}))
      expect(refused._tag).toBe("BadResponse")
      const failing = yield* clientAnswering(["NetworkDriver"], () => ({ status: 500, body: '{"Err":"x"}' }))
      expect((yield* Effect.flip(failing.driver(NetworkDriver.Api).getCapabilities({})))._tag).toBe("StatusError")
      const checker = yield* clientAnswering(["NetworkDriver"], () => ({
        status: 200,
        body: '{"Scope":"local","GwAllocChecker":true}'
      }))
      expect(yield* checker.driver(NetworkDriver.Api).getCapabilities({})).toEqual({
        Scope: "local",
        GwAllocChecker: true
      })
    })
  )

  it.live("a MAC address in any form net.ParseMAC accepts is read; others are refused", () =>
    Effect.gen(function* () {
      const request = {
        NetworkID: "n".repeat(64),
        EndpointID: "e".repeat(64),
        Interface: { Address: "10.0.0.2/24", AddressIPv6: "", MacAddress: "" },
        Options: {}
      }
      for (const mac of ["6E-75-32-60-44-C9", "6e75.3260.44c9", "6e:75:32:60:44:c9:00:01"]) {
        const client = yield* clientAnswering(["NetworkDriver"], () => ({
          status: 200,
          body: JSON.stringify({ Interface: { MacAddress: mac } })
        }))
        const answer = yield* client.driver(NetworkDriver.Api).createEndpoint(request)
        expect(answer.Interface?.MacAddress).toBe(mac)
      }
      const bad = yield* clientAnswering(["NetworkDriver"], () => ({
        status: 200,
        body: '{"Interface":{"MacAddress":"6e:75:32:60:44"}}'
      }))
      const error = yield* Effect.flip(bad.driver(NetworkDriver.Api).createEndpoint(request))
      expect(error._tag).toBe("BadResponse")
      expect(error.message).toContain("MacAddress")
    })
  )
})
