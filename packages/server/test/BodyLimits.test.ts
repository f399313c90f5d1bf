// The limits on request bodies, through a served plugin: a JSON body over the limit is answered 413 with a clear
// Err (16 MiB unless configured), and a body that stops arriving is answered 408 and closed, on the fast path and
// on the platform's own.
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { BodyLimits, Listener, PluginServer } from "@docker-plugin-kit/server"
import { describe, expect, it } from "@effect/vitest"
import { ByteSize, Effect, Layer } from "effect"
import { HttpIncomingMessage } from "effect/http"
import * as Path from "node:path"
import * as NodeFastPath from "../src/internal/NodeFastPath.ts"
import { post, rawExchange, tempDir } from "./support.ts"

const served = (options: Partial<PluginServer.Options>, fast: boolean, extra: Layer.Layer<never> = Layer.empty) =>
  Effect.gen(function* () {
    const path = Path.join(yield* tempDir, "b.sock")
    const drivers = Layer.mergeAll(
      VolumeMemory.layer({ mountRoot: "/mnt/mem", now: () => new Date(0) }),
      Layer.succeed(NodeFastPath.Enabled, fast),
      extra
    )
    yield* Layer.build(
      PluginServer.layer({ name: "b", listen: Listener.unix("b", { path }), ...options }).pipe(Layer.provide(drivers))
    )
    expect((yield* post({ socketPath: path }, "/VolumeDriver.Create", { Name: "v1", Opts: null })).status).toBe(200)
    return path
  })

/** A `VolumeDriver.Get` body of exactly `size` bytes. */
const bodyOf = (size: number) => {
  const base = JSON.stringify({ Name: "v1", Padding: "" })
  return JSON.stringify({ Name: "v1", Padding: "x".repeat(size - base.length) })
}

describe.each([true, false])("request body limits (fast path: %s)", (fast) => {
  it.live("a JSON body over the default 16 MiB is answered 413 naming the limit; one at the limit is read", () =>
    Effect.gen(function* () {
      const path = yield* served({}, fast)
      const over = yield* post({ socketPath: path }, "/VolumeDriver.Get", bodyOf(BodyLimits.defaultMaxJsonBody + 1))
      expect([over.status, over.body]).toEqual([
        413,
        {
          Err: "/VolumeDriver.Get: the request body is larger than the limit of 16 MiB (set with HttpIncomingMessage.MaxBodySize or the server's maxBodySize option)"
        }
      ])
      const at = yield* post({ socketPath: path }, "/VolumeDriver.Get", bodyOf(BodyLimits.defaultMaxJsonBody))
      expect([at.status, (at.body as { Volume: { Name: string } }).Volume.Name]).toEqual([200, "v1"])
    })
  )

  it.live("maxBodySize sets the limit, and wins over a MaxBodySize provided with the drivers", () =>
    Effect.gen(function* () {
      const path = yield* served(
        { maxBodySize: "1 KiB" },
        fast,
        Layer.succeed(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(40))
      )
      const over = yield* post({ socketPath: path }, "/VolumeDriver.Get", bodyOf(1025))
      expect(over.status).toBe(413)
      expect((over.body as { Err: string }).Err).toContain("larger than the limit of 1 KiB")
      expect((yield* post({ socketPath: path }, "/VolumeDriver.Get", bodyOf(1024))).status).toBe(200)
    })
  )

  it.live("a request Node cannot read is answered 400 with an Err saying why, and the server carries on", () =>
    Effect.gen(function* () {
      const path = yield* served({}, fast)
      const answerOf = (received: Buffer) => {
        const text = received.toString("utf8")
        return [text.slice(0, text.indexOf("\r\n")), JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4))]
      }
      const chunked = "POST /VolumeDriver.Get HTTP/1.1\r\nHost: plugin\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n"
      expect(answerOf(yield* rawExchange(path, [chunked]))).toEqual([
        "HTTP/1.1 400 Bad Request",
        { Err: "the request could not be read: Invalid character in chunk size (HPE_INVALID_CHUNK_SIZE)" }
      ])
      const short = 'POST /VolumeDriver.Get HTTP/1.1\r\nHost: plugin\r\nContent-Length: 50\r\n\r\n{"Name":"v1"}'
      expect(answerOf(yield* rawExchange(path, [short], 0, { halfClose: true }))).toEqual([
        "HTTP/1.1 400 Bad Request",
        { Err: "the request ended before its body was complete" }
      ])
      expect((yield* post({ socketPath: path }, "/VolumeDriver.Get", { Name: "v1" })).status).toBe(200)
    })
  )

  it.live("a body that stops arriving is answered 408 with Err and its connection closed", () =>
    Effect.gen(function* () {
      const path = yield* served({ bodyIdleTimeout: "200 millis" }, fast)
      const head = "POST /VolumeDriver.Get HTTP/1.1\r\nHost: plugin\r\nContent-Length: 100\r\n\r\n"
      // No Connection: close and no half-close: only the server can end this exchange.
      const received = (yield* rawExchange(path, [head, '{"Name":'])).toString("utf8")
      expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/)
      expect(JSON.parse(received.slice(received.indexOf("\r\n\r\n") + 4))).toEqual({
        Err: "/VolumeDriver.Get: the request body stalled: nothing received for 200ms (Content-Length 100)"
      })
      // The server itself is fine.
      expect((yield* post({ socketPath: path }, "/VolumeDriver.Get", { Name: "v1" })).status).toBe(200)
    })
  )
})

describe("BodyLimits", () => {
  it("formats limits as they are written", () => {
    expect(BodyLimits.formatBytes(16 * 1024 * 1024)).toBe("16 MiB")
    expect(BodyLimits.formatBytes(1024)).toBe("1 KiB")
    expect(BodyLimits.formatBytes(1500)).toBe("1500 bytes")
    expect(BodyLimits.formatBytes(1)).toBe("1 byte")
  })
})
