// A request whose fields hold `null` where a Go plugin reads nil (a slice, a map, `[]byte`, an optional field) is
// served as if the field were empty, over a real socket; a `null` on a required string is still refused by name.
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { Authorization } from "@docker-plugin-kit/protocol"
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Path from "node:path"
import { post, tempDir } from "./support.ts"

/** An authorization driver that keeps every request it decides and allows it. */
const recording = (seen: Array<Authorization.AuthZRequest>) =>
  Layer.succeed(Authorization.Authorization)(
    Authorization.Authorization.of({
      authZReq: (request) => Effect.sync(() => void seen.push(request)).pipe(Effect.as({ Allow: true })),
      authZRes: () => Effect.succeed({ Allow: true })
    })
  )

const serve = (drivers: Layer.Layer<any>) =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const path = Path.join(dir, "n.sock")
    yield* Layer.build(
      PluginServer.layer({ name: "n", listen: Listener.unix("n", { path }) }).pipe(Layer.provide(drivers))
    )
    return { socketPath: path }
  })

describe("requests with Go's nulls", () => {
  it.live("an authorization request with null body, headers and certificates reaches the driver without them", () =>
    Effect.gen(function* () {
      const seen: Array<Authorization.AuthZRequest> = []
      const target = yield* serve(recording(seen))
      const reply = yield* post(target, "/AuthZPlugin.AuthZReq", {
        User: null,
        RequestMethod: "GET",
        RequestUri: "/v1.41/info",
        RequestBody: null,
        RequestHeaders: null,
        RequestPeerCertificates: null
      })
      expect([reply.status, reply.body]).toEqual([200, { Allow: true }])
      expect(seen).toEqual([{ RequestMethod: "GET", RequestUri: "/v1.41/info" }])
    })
  )

  it.live("a null on a required name is still answered 400 naming the field, and no volume is made", () =>
    Effect.gen(function* () {
      const target = yield* serve(VolumeMemory.layer({ mountRoot: "/mnt/mem" }))
      const reply = yield* post(target, "/VolumeDriver.Create", { Name: null, Opts: null })
      expect([reply.status, reply.body]).toEqual([
        400,
        { Err: "/VolumeDriver.Create: invalid request: Name: Expected string, got null" }
      ])
      expect((yield* post(target, "/VolumeDriver.List", {})).body).toEqual({ Volumes: [] })
    })
  )
})
