// The Node server every listener shares: what it does with clients that are not the daemon.
import { DriverError, VolumeDriver } from "@docker-plugin-kit/protocol"
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Path from "node:path"
import { rawExchange, rawRequest, tempDir } from "../support.ts"

/** A volume driver whose Get takes 50 ms: answers are still being computed when the client half-closes. */
const slowGet = Layer.succeed(VolumeDriver.VolumeDriver, {
  create: () => Effect.succeed({}),
  remove: () => Effect.succeed({}),
  get: ({ Name }) =>
    Name === "nope"
      ? Effect.fail(new DriverError({ message: "no such volume: nope" }))
      : Effect.as(Effect.sleep("50 millis"), { Volume: { Name, Mountpoint: `/mnt/${Name}` } }),
  list: () => Effect.succeed({ Volumes: [] }),
  path: ({ Name }) => Effect.succeed({ Mountpoint: `/mnt/${Name}` }),
  mount: ({ Name }) => Effect.succeed({ Mountpoint: `/mnt/${Name}` }),
  unmount: () => Effect.succeed({})
})

describe("NodeServer", () => {
  it.live("a client that half-closes after pipelining its requests gets every answer", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "h.sock")
      yield* Layer.build(
        PluginServer.layer({ name: "h", listen: Listener.unix("h", { path }) }).pipe(Layer.provide(slowGet))
      )
      const get = (name: string) => rawRequest("/VolumeDriver.Get", JSON.stringify({ Name: name }))
      const received = yield* rawExchange(path, [get("v1") + get("nope") + get("v1") + get("v1")], 0, {
        halfClose: true
      })
      const statuses = [...received.toString("latin1").matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]))
      expect(statuses).toEqual([200, 500, 200, 200])
    })
  )

  it.live("an HTTP/1.1 request without a Host header is served, not refused with a bare 400", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "n.sock")
      yield* Layer.build(
        PluginServer.layer({ name: "n", listen: Listener.unix("n", { path }) }).pipe(Layer.provide(slowGet))
      )
      const body = JSON.stringify({ Name: "v1" })
      const received = yield* rawExchange(path, [
        `POST /VolumeDriver.Get HTTP/1.1\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`
      ])
      const text = received.toString("utf8")
      expect(text.slice(0, text.indexOf("\r\n"))).toBe("HTTP/1.1 200 OK")
      expect(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4))).toEqual({
        Volume: { Name: "v1", Mountpoint: "/mnt/v1" }
      })
    })
  )
})
