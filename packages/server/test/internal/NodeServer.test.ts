// The Node server every listener shares: what it does with clients that are not the daemon, and with a daemon that
// closes the connection during a call.
import { DriverError, VolumeDriver } from "@docker-plugin-kit/protocol"
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Path from "node:path"
import * as NodeFastPath from "../../src/internal/NodeFastPath.ts"
import { rawExchange, rawRequest, sendThenClose, tempDir, waitFor } from "../support.ts"

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

/** What happened to the calls of `hangingGet`, in order. */
const calls: Array<string> = []

/** A volume driver whose Get never answers, recording its interruption and its finalizer. */
const hangingGet = Layer.succeed(VolumeDriver.VolumeDriver, {
  create: () => Effect.succeed({}),
  remove: () => Effect.succeed({}),
  get: ({ Name }) =>
    Effect.never.pipe(
      Effect.onInterrupt(() => Effect.sync(() => calls.push(`interrupted ${Name}`))),
      Effect.ensuring(Effect.sync(() => calls.push(`finalized ${Name}`)))
    ),
  list: () => Effect.succeed({ Volumes: [] }),
  path: ({ Name }) => Effect.succeed({ Mountpoint: `/mnt/${Name}` }),
  mount: ({ Name }) => Effect.succeed({ Mountpoint: `/mnt/${Name}` }),
  unmount: () => Effect.succeed({})
})

describe("NodeServer", () => {
  for (const fast of [true, false]) {
    it.live(
      `a call still running when the client closes the connection is interrupted (${fast ? "fast" : "platform"} path)`,
      () =>
        Effect.gen(function* () {
          const path = Path.join(yield* tempDir, "c.sock")
          yield* Layer.build(
            PluginServer.layer({ name: "c", listen: Listener.unix("c", { path }) }).pipe(
              Layer.provide(Layer.mergeAll(hangingGet, Layer.succeed(NodeFastPath.Enabled, fast)))
            )
          )
          calls.length = 0
          const received = yield* sendThenClose(
            path,
            rawRequest("/VolumeDriver.Get", JSON.stringify({ Name: "v1" })),
            200
          )
          expect(received.length).toBe(0)
          expect(calls).toEqual([])
          // Well within the call's 2 minute deadline: only the closed connection can have ended it.
          yield* waitFor(() => calls.length === 2, 2_000)
          expect(calls).toEqual(["interrupted v1", "finalized v1"])
        })
    )
  }

  // Also what tells that a half-close is not taken for a closed connection: the answers come after the client's end.
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
