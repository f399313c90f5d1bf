// A path the router cannot decode gets a 400 with an `Err` naming it; the connection stays usable.
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Path from "node:path"
import * as MalformedPaths from "../../src/internal/MalformedPaths.ts"
import { rawExchange, rawRequest, tempDir } from "../support.ts"

describe("MalformedPaths", () => {
  it("names a path with a malformed escape, and lets every other one through", () => {
    expect(MalformedPaths.problem("/VolumeDriver.%ZZ")).toBe(
      'the request path "/VolumeDriver.%ZZ" holds a malformed percent escape'
    )
    expect(MalformedPaths.problem("/VolumeDriver.Get%")).toContain('"/VolumeDriver.Get%"')
    expect(MalformedPaths.problem("/%E0%A4%A")).toContain("malformed")
    expect(MalformedPaths.problem("/VolumeDriver.Get")).toBeUndefined()
    expect(MalformedPaths.problem("/VolumeDriver.%47et")).toBeUndefined()
    // The query string is the handler's business.
    expect(MalformedPaths.problem("/GraphDriver.ApplyDiff?id=%ZZ")).toBeUndefined()
  })

  it.live("over a socket: 400 with the Err, then the next request on the connection is served", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "m.sock")
      yield* Layer.build(
        PluginServer.layer({ name: "m", listen: Listener.unix("m", { path }) }).pipe(
          Layer.provide(VolumeMemory.layer({ mountRoot: "/mnt/mem" }))
        )
      )
      const received = (yield* rawExchange(path, [
        rawRequest("/VolumeDriver.%ZZ", "{}") + rawRequest("/VolumeDriver.List", "{}", "Connection: close\r\n")
      ])).toString("latin1")
      const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]))
      expect(statuses).toEqual([400, 200])
      expect(received).toContain('{"Err":"the request path \\"/VolumeDriver.%ZZ\\" holds a malformed percent escape"}')
      expect(received).toContain('{"Volumes":[]}')
    })
  )
})
