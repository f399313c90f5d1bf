// The fast paths into Node's internals (body read from the Node request, handlers started after the packet is
// parsed, single-write responses) must not change a byte of what the daemon receives: the same requests, sent to
// a server with them and to a plain platform server, get byte-identical answers.
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import { describe, expect, it } from "@effect/vitest"
import { ByteSize, Effect, Layer } from "effect"
import { HttpIncomingMessage } from "effect/http"
import * as Http from "node:http"
import * as Path from "node:path"
import * as NodeFastPath from "../../src/internal/NodeFastPath.ts"
import { post, rawExchange, rawRequest, tempDir } from "../support.ts"

const fixedNow = () => new Date("2026-11-21T14:50:27.723Z")

/** A memory driver holding `v1`, served with or without the fast paths, with a 256-byte body limit. */
const served = (fast: boolean) =>
  Effect.gen(function* () {
    const path = Path.join(yield* tempDir, "f.sock")
    const drivers = Layer.mergeAll(
      VolumeMemory.layer({ mountRoot: "/mnt/mem", now: fixedNow }),
      Layer.succeed(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(256)),
      Layer.succeed(NodeFastPath.Enabled, fast)
    )
    yield* Layer.build(
      PluginServer.layer({ name: "f", listen: Listener.unix("f", { path }) }).pipe(Layer.provide(drivers))
    )
    expect((yield* post({ socketPath: path }, "/VolumeDriver.Create", { Name: "v1", Opts: null })).status).toBe(200)
    return path
  })

const get = (name: string) => `${JSON.stringify({ Name: name })}\n`
const chunked = (path: string, body: string, headers = "") =>
  `POST ${path} HTTP/1.1\r\nHost: plugin\r\n${headers}Transfer-Encoding: chunked\r\n\r\n` +
  `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`
const last = "Connection: close\r\n"
const split = (request: string, at: number) => [request.slice(0, at), request.slice(at)]
const headEnd = (request: string) => request.indexOf("\r\n\r\n") + 4

/** Conversations, each on its own connection: the parts written, in order, with a gap between writes. */
const conversations: ReadonlyArray<{ readonly name: string; readonly parts: ReadonlyArray<string>; gapMs?: number }> = [
  {
    name: "pipelined in one packet",
    parts: [
      rawRequest("/Plugin.Activate", "") +
        rawRequest("/VolumeDriver.Get", get("v1")) +
        rawRequest("/VolumeDriver.Get", get("nope")) +
        rawRequest("/VolumeDriver.List", "") +
        rawRequest("/VolumeDriver.Get", '{"Name":') +
        rawRequest("/VolumeDriver.Mount", JSON.stringify({ Name: 42 })) +
        rawRequest("/VolumeDriver.Get", `\uFEFF${get("v1")}`) +
        rawRequest("/VolumeDriver.Capabilities", "{}") +
        rawRequest("/VolumeDriver.Nope", "{}") +
        rawRequest("/VolumeDriver.Get", get("v1"), last)
    ]
  },
  {
    name: "keep-alive, one request per packet",
    parts: [
      rawRequest("/VolumeDriver.Get", get("v1")),
      rawRequest("/VolumeDriver.Path", get("v1")),
      rawRequest("/VolumeDriver.List", "", last)
    ],
    gapMs: 5
  },
  {
    name: "chunked bodies, pipelined",
    parts: [
      chunked("/VolumeDriver.Get", get("v1")) +
        chunked("/VolumeDriver.Get", "{not json") +
        chunked("/VolumeDriver.Get", get("v1"), last)
    ]
  },
  {
    name: "a chunked body in pieces",
    parts: [...split(chunked("/VolumeDriver.Get", get("v1"), last), headEnd(chunked("/VolumeDriver.Get", "")) + 3)],
    gapMs: 20
  },
  {
    name: "a body after its headers, in two pieces",
    parts: (() => {
      const request = rawRequest("/VolumeDriver.Get", get("v1"), last)
      const at = headEnd(request)
      return [request.slice(0, at), request.slice(at, at + 5), request.slice(at + 5)]
    })(),
    gapMs: 20
  },
  {
    name: "bodies over the limit, buffered and streamed, then a call on the same connection",
    parts: (() => {
      const long = JSON.stringify({ Name: "v1", Padding: "x".repeat(400) })
      const streamed = rawRequest("/VolumeDriver.Get", long)
      const at = headEnd(streamed)
      return [
        rawRequest("/VolumeDriver.Get", long),
        streamed.slice(0, at),
        streamed.slice(at, at + 100),
        streamed.slice(at + 100),
        rawRequest("/VolumeDriver.Get", get("v1"), last)
      ]
    })(),
    gapMs: 20
  },
  {
    name: "Expect: 100-continue",
    parts: [rawRequest("/VolumeDriver.Get", get("v1"), `Expect: 100-continue\r\n${last}`)]
  }
]

/** The bytes with each `Date` header's value blanked: the only header that differs from one second to the next. */
const withoutDates = (bytes: Buffer) => bytes.toString("latin1").replace(/\r\nDate: [^\r]*/gi, "\r\nDate: -")

/** Runs every conversation against a server; returns what came back, and whether the requests were fast-path ones. */
const exchange = (fast: boolean) =>
  Effect.gen(function* () {
    const path = yield* served(fast)
    // Which request class Node made: the fast-path server's, or Node's own.
    const proto = Http.IncomingMessage.prototype as unknown as {
      emit: (this: Http.IncomingMessage, event: string | symbol, ...args: Array<unknown>) => boolean
    }
    const emit = proto.emit
    const classes = new Set<boolean>()
    proto.emit = function (event, ...args) {
      if (event === "end") classes.add(this instanceof NodeFastPath.IncomingMessage)
      return emit.call(this, event, ...args)
    }
    const answers: Array<string> = []
    yield* Effect.gen(function* () {
      for (const { parts, gapMs } of conversations) answers.push(withoutDates(yield* rawExchange(path, parts, gapMs)))
    }).pipe(Effect.ensuring(Effect.sync(() => (proto.emit = emit))))
    return { answers, classes: [...classes] }
  })

describe("NodeFastPath", () => {
  it.live("the fast path and the plain platform path answer byte for byte the same", () =>
    Effect.gen(function* () {
      const fast = yield* exchange(true)
      const plain = yield* exchange(false)
      expect(fast.classes).toEqual([true])
      expect(plain.classes).toEqual([false])
      conversations.forEach(({ name }, i) => {
        expect({ name, answer: fast.answers[i] }).toEqual({ name, answer: plain.answers[i] })
      })
      // The conversations are what they say: every request was answered, with the statuses the daemon expects.
      const statuses = fast.answers.map((a) => [...a.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1])))
      expect(statuses).toEqual([
        [200, 200, 500, 200, 400, 400, 200, 200, 404, 200],
        [200, 200, 200],
        [200, 400, 200],
        [200],
        [200],
        [413, 413, 200],
        [100, 200]
      ])
    })
  )
})
