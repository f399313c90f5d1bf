// The server's hot path (see bench/README.md): bodies read straight from the Node request, handlers started after
// the packet is parsed, single-write responses, compiled schemas, the fork-free deadline. Each test checks that the
// daemon sees exactly what the general path gives it.
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { VolumeDriver } from "@docker-plugin-kit/protocol"
import { EndpointHandler, Listener, PluginServer } from "@docker-plugin-kit/server"
import { describe, expect, it } from "@effect/vitest"
import { ByteSize, Duration, Effect, Layer } from "effect"
import { HttpIncomingMessage } from "effect/http"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Path from "node:path"
import * as NodeFastPath from "../src/internal/NodeFastPath.ts"
import { connectAndWrite, post, rawRequest, tempDir } from "./support.ts"

const fixedNow = () => new Date("2026-11-21T14:50:27.723Z")
const volume = {
  Volume: {
    Name: "v1",
    Mountpoint: "/mnt/mem/v1",
    CreatedAt: "2026-11-21T14:50:27.723Z",
    Status: { mounts: 0, options: {} }
  }
}
const contentType = "application/vnd.docker.plugins.v1.1+json"

/** A served memory driver holding the volume `v1`, and its socket path. */
const served = (
  options: Partial<PluginServer.Options> = {},
  drivers = VolumeMemory.layer({ mountRoot: "/mnt/mem", now: fixedNow })
) =>
  Effect.gen(function* () {
    const dir = yield* tempDir
    const path = Path.join(dir, "h.sock")
    yield* Layer.build(
      PluginServer.layer({ name: "h", listen: Listener.unix("h", { path }), ...options }).pipe(Layer.provide(drivers))
    )
    expect((yield* post({ socketPath: path }, "/VolumeDriver.Create", { Name: "v1", Opts: null })).status).toBe(200)
    return path
  })

const request = rawRequest

interface RawResponse {
  readonly head: string
  readonly status: number
  readonly contentLength: number
  readonly body: string
}

/**
 * Sends `parts` on one connection (each part a separate write, `gapMs` apart) and collects `count` responses,
 * framed by their Content-Length.
 */
const raw = (socketPath: string, parts: ReadonlyArray<string | Buffer>, count: number, gapMs = 0) =>
  Effect.callback<ReadonlyArray<RawResponse>, Error>((resume) => {
    const socket = connectAndWrite(socketPath, parts, gapMs, (e) => resume(Effect.fail(e)))
    let buffer = Buffer.alloc(0)
    const responses: Array<RawResponse> = []
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      while (true) {
        const end = buffer.indexOf("\r\n\r\n")
        if (end < 0) break
        const head = buffer.subarray(0, end).toString("latin1")
        const contentLength = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? "0")
        if (buffer.length < end + 4 + contentLength) break
        const body = buffer.subarray(end + 4, end + 4 + contentLength).toString("utf8")
        responses.push({ head, status: Number(head.split(" ")[1]), contentLength, body })
        buffer = buffer.subarray(end + 4 + contentLength)
      }
      if (responses.length === count) {
        socket.destroy()
        resume(Effect.succeed(responses))
      }
    })
    return Effect.sync(() => socket.destroy())
  })

describe("EndpointHandler hot path", () => {
  it.live("keep-alive calls on one connection, with the body in the same packet as the headers", () =>
    Effect.gen(function* () {
      const path = yield* served()
      const one = request("/VolumeDriver.Get", `${JSON.stringify({ Name: "v1" })}\n`)
      const responses = yield* raw(
        path,
        Array.from({ length: 50 }, () => one),
        50,
        1
      )
      for (const response of responses) {
        expect(response.status).toBe(200)
        expect(response.head).toMatch(new RegExp(`\\r\\ncontent-type: ${contentType.replace(/[.+]/g, "\\$&")}`, "i"))
        expect(response.contentLength).toBe(Buffer.byteLength(response.body))
        expect(JSON.parse(response.body)).toEqual(volume)
      }
    })
  )

  it.live("pipelined calls in one packet are answered in order", () =>
    Effect.gen(function* () {
      const path = yield* served()
      const packet =
        request("/VolumeDriver.Get", JSON.stringify({ Name: "v1" })) +
        request("/VolumeDriver.Get", JSON.stringify({ Name: "nope" })) +
        request("/Plugin.Activate", "") +
        request("/VolumeDriver.Get", "{not json")
      const responses = yield* raw(path, [packet], 4)
      expect(responses.map((r) => r.status)).toEqual([200, 500, 200, 400])
      expect(JSON.parse(responses[0]!.body)).toEqual(volume)
      expect(JSON.parse(responses[1]!.body)).toEqual({ Err: "no such volume: nope" })
      expect(JSON.parse(responses[2]!.body)).toEqual({ Implements: ["VolumeDriver"] })
      expect(JSON.parse(responses[3]!.body).Err).toMatch(/^\/VolumeDriver\.Get: request body is not valid JSON/)
    })
  )

  it.live("a body read whole from the buffer is not drained again by Node, and every request still ends", () =>
    Effect.gen(function* () {
      const path = yield* served()
      // Node's `_dump`, which @types/node does not list: it drains a body nobody read once the response is sent.
      const proto = Http.IncomingMessage.prototype as unknown as {
        _dump: (this: Http.IncomingMessage) => void
        emit: (this: Http.IncomingMessage, event: string | symbol, ...args: Array<unknown>) => boolean
      }
      const { _dump: dump, emit } = proto
      const dumped: Array<string | undefined> = []
      const ended: Array<string | undefined> = []
      proto._dump = function () {
        dumped.push(this.url)
        return dump.call(this)
      }
      proto.emit = function (event, ...args) {
        if (event === "end") ended.push(this.url)
        return emit.call(this, event, ...args)
      }
      const responses = yield* raw(
        path,
        [
          request("/VolumeDriver.Get", JSON.stringify({ Name: "v1" })),
          request("/VolumeDriver.List", ""),
          request("/VolumeDriver.Get", JSON.stringify({ Name: "v1" }))
        ],
        3,
        5
      ).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            proto._dump = dump
            proto.emit = emit
          })
        )
      )
      expect(responses.map((r) => r.status)).toEqual([200, 200, 200])
      expect(JSON.parse(responses[2]!.body)).toEqual(volume)
      expect(dumped).toEqual([])
      // An empty body is read too: a request that never ends stays attached to its connection's parser.
      expect(ended).toEqual(["/VolumeDriver.Get", "/VolumeDriver.List", "/VolumeDriver.Get"])
    })
  )

  it.live("a body that arrives after the headers, or in pieces, or chunked, is read all the same", () =>
    Effect.gen(function* () {
      const path = yield* served()
      const body = JSON.stringify({ Name: "v1" })
      const full = request("/VolumeDriver.Get", body)
      const split = full.indexOf("\r\n\r\n") + 4
      const late = yield* raw(path, [full.slice(0, split), body.slice(0, 5), body.slice(5)], 1, 30)
      expect([late[0]!.status, JSON.parse(late[0]!.body)]).toEqual([200, volume])
      const chunked =
        "POST /VolumeDriver.Get HTTP/1.1\r\nHost: plugin\r\nTransfer-Encoding: chunked\r\n\r\n" +
        `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`
      const viaChunks = yield* raw(path, [chunked], 1)
      expect([viaChunks[0]!.status, JSON.parse(viaChunks[0]!.body)]).toEqual([200, volume])
    })
  )

  it.live("empty bodies, a BOM, bad JSON and schema failures answer as the general path does", () =>
    Effect.gen(function* () {
      const path = yield* served()
      const target = { socketPath: path }
      expect((yield* post(target, "/Plugin.Activate")).body).toEqual({ Implements: ["VolumeDriver"] })
      expect((yield* post(target, "/VolumeDriver.List", "")).status).toBe(200)
      const bom = yield* raw(path, [request("/VolumeDriver.Get", `\uFEFF${JSON.stringify({ Name: "v1" })}`)], 1)
      expect([bom[0]!.status, JSON.parse(bom[0]!.body)]).toEqual([200, volume])
      const bad = yield* post(target, "/VolumeDriver.Get", '{"Name":')
      expect(bad.status).toBe(400)
      expect((bad.body as { Err: string }).Err).toMatch(/^\/VolumeDriver\.Get: request body is not valid JSON \(/)
      const wrong = yield* post(target, "/VolumeDriver.Mount", { Name: 42 })
      expect([wrong.status, wrong.body]).toEqual([
        400,
        { Err: "/VolumeDriver.Mount: invalid request: Name: Expected string, got 42; ID: Missing key" }
      ])
      const missing = yield* post(target, "/VolumeDriver.Get", "")
      expect([missing.status, missing.body]).toEqual([
        400,
        { Err: "/VolumeDriver.Get: invalid request: Name: Missing key" }
      ])
    })
  )

  it.live("MaxBodySize is honoured whether or not the body is already buffered", () =>
    Effect.gen(function* () {
      const limit = Layer.succeed(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(40))
      const drivers = Layer.merge(VolumeMemory.layer({ mountRoot: "/mnt/mem", now: fixedNow }), limit)
      const path = yield* served({}, drivers)
      const long = JSON.stringify({ Name: "v1", Padding: "x".repeat(64) })
      const buffered = yield* raw(path, [request("/VolumeDriver.Get", long), request("/VolumeDriver.Get", "{}")], 2)
      expect(buffered[0]!.status).toBe(413)
      expect(JSON.parse(buffered[0]!.body).Err).toMatch(
        /^\/VolumeDriver\.Get: the request body is larger than the limit of 40 bytes \(/
      )
      // The connection stays usable: the rest of the body was drained.
      expect(buffered[1]!.status).toBe(400)
      const full = request("/VolumeDriver.Get", long)
      const split = full.indexOf("\r\n\r\n") + 4
      const streamed = yield* raw(path, [full.slice(0, split), long.slice(0, 10), long.slice(10)], 1, 30)
      expect([streamed[0]!.status, JSON.parse(streamed[0]!.body).Err]).toEqual([
        413,
        expect.stringContaining("the request body is larger than the limit of 40 bytes")
      ])
      expect((yield* post({ socketPath: path }, "/VolumeDriver.Get", {})).status).toBe(400)
    })
  )

  it.live("the deadline: immediate answers, answers that suspend, and late ones (interrupted before the answer)", () =>
    Effect.gen(function* () {
      let interrupted = 0
      const drivers = Layer.effect(
        VolumeDriver.VolumeDriver,
        Effect.map(VolumeMemory.make({ mountRoot: "/mnt/mem", now: fixedNow }), (memory) => ({
          ...memory,
          get: (input: VolumeDriver.NameRequest) =>
            input.Name === "late"
              ? Effect.as(Effect.sleep("5 seconds"), { Volume: null }).pipe(
                  Effect.onInterrupt(() =>
                    Effect.sync(() => {
                      interrupted++
                    })
                  )
                )
              : input.Name === "later"
                ? Effect.as(Effect.sleep("20 millis"), { Volume: null })
                : memory.get(input)
        }))
      )
      const path = yield* served({ deadline: "300 millis" }, drivers)
      const target = { socketPath: path }
      expect((yield* post(target, "/VolumeDriver.Get", { Name: "v1" })).body).toEqual(volume)
      expect((yield* post(target, "/VolumeDriver.Get", { Name: "later" })).body).toEqual({ Volume: null })
      const late = yield* post(target, "/VolumeDriver.Get", { Name: "late" })
      expect([late.status, late.body]).toEqual([500, { Err: "VolumeDriver.Get did not answer within 300ms" }])
      expect(interrupted).toBe(1)
      expect((yield* post(target, "/VolumeDriver.Capabilities", {})).body).toEqual({ Capabilities: { Scope: "local" } })
    })
  )

  it.effect("the handler is lazy: the body is read when its effect runs, not when it is built", () =>
    Effect.gen(function* () {
      const driver = yield* VolumeMemory.make({ mountRoot: "/mnt/mem", now: fixedNow })
      yield* driver.create({ Name: "v1", Opts: null })
      const handler = EndpointHandler.make(VolumeDriver.Api.endpoints.get, (input) => driver.get(input), {
        deadline: Duration.minutes(2),
        verbose: false
      })
      const body = Buffer.from(JSON.stringify({ Name: "v1" }))
      // A request of a fast-path server, as the listener's server makes it.
      const source = new NodeFastPath.IncomingMessage(new Net.Socket())
      source.headers = { "content-length": String(body.length) }
      // A whole message, as the parser leaves it: the body buffered, its end pushed, `complete` set.
      source.push(body)
      source.push(null)
      source.complete = true
      const request = { source, url: "/VolumeDriver.Get", method: "POST", headers: source.headers } as never
      const effect = handler(request)
      expect(source.readableLength).toBe(body.length)
      const response = yield* effect
      expect(source.readableLength).toBe(0)
      expect(response.status).toBe(200)
      expect(JSON.parse((response.body as { readonly text: string }).text)).toEqual(volume)
    })
  )
})
