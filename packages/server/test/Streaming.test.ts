// Streamed bodies pass through the server without buffering: 1 GiB each way with flat memory, a stream that fails
// before its first chunk is answered `Err`, and one that fails after the status line aborts the connection instead
// of ending cleanly. Reusable chunks go back to their producer only once written. A client that closes the
// connection interrupts the stream.
import { DriverError, Endpoint, PluginApi, ReusableChunk, Wire } from "@docker-plugin-kit/protocol"
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import { InProcess } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { type Cause, Context, Effect, Fiber, Layer, Queue, Schema, Stream } from "effect"
import * as Http from "node:http"
import * as Path from "node:path"
import { Readable } from "node:stream"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import * as NodeFastPath from "../src/internal/NodeFastPath.ts"
import { rawRequest, sendThenClose, tempDir, waitFor } from "./support.ts"

// A test-only API with one endpoint of each streaming kind, declared like the real ones.
const Api = PluginApi.make({
  prefix: "Echo",
  subsystem: "GraphDriver",
  interfaceType: "docker.echo/1.0",
  endpoints: {
    upload: Endpoint.streamToJson(
      "Upload",
      Schema.Struct({ id: Schema.String }),
      Wire.TarContentType,
      Schema.Struct({ Size: Schema.Number }),
      {
        description: "Counts the bytes of the body."
      }
    ),
    download: Endpoint.jsonToStream(
      "Download",
      Schema.Struct({ Size: Schema.Number, FailAt: Schema.optionalKey(Schema.Number) }),
      Wire.TarContentType,
      {
        description: "Streams Size bytes, failing at FailAt if given."
      }
    ),
    reused: Endpoint.jsonToStream("Reused", Schema.Struct({ Chunks: Schema.Number }), Wire.TarContentType, {
      description: "Streams Chunks reusable chunks, chunk i filled with the byte i % 251."
    }),
    ahead: Endpoint.jsonToStream("Ahead", Schema.Struct({ Chunks: Schema.Number }), Wire.TarContentType, {
      description: "Streams Chunks reusable chunks of 256 KiB, chunk i filled with the byte i % 251, counting pulls."
    }),
    notStream: Endpoint.jsonToStream("NotStream", Schema.Struct({}), Wire.TarContentType, {
      description: "Answers a string where a stream is due, as a driver written without the types might."
    }),
    opening: Endpoint.jsonToStream("Opening", Schema.Struct({ Fails: Schema.String }), Wire.TarContentType, {
      description:
        "Streams as Fails says: failing, dying or hanging before its first chunk, hanging after it, or empty."
    }),
    forking: Endpoint.jsonToStream("Forking", Schema.Struct({}), Wire.TarContentType, {
      description: "Streams three chunks that a fiber forked (Effect.forkChild) when the stream starts offers."
    }),
    twin: Endpoint.json("Twin", Schema.Struct({ Fails: Schema.String }), Schema.Struct({}), {
      description: "Fails as Opening does before its first chunk, in a call that answers JSON."
    })
  }
})
class Echo extends Context.Service<Echo, PluginApi.Driver<typeof Api>>()(Api.serviceKey) {}

const chunk = new Uint8Array(1 << 20).fill(7)
// Smaller than a socket's high-water mark: Node accepts such a write while earlier ones still wait for the
// socket, so a chunk taken back too early would be refilled before its bytes left.
const reusedBytes = 4 * 1024
// The buffers the Reused endpoint's pool handed out, each counted once: fewer than the chunks when some came back.
// Keeps as many idle buffers as a stream may have in flight (about 1 MiB ahead of the socket, see NodeFastPath).
const reusedPool = ReusableChunk.pool(reusedBytes, 512)
const reusedBuffers = new Set<Uint8Array>()
const aheadBytes = 256 * 1024
const aheadPool = ReusableChunk.pool(aheadBytes)
let aheadPulled = 0
/** What happened to the streams of the Opening endpoint, in order. */
const openings: Array<string> = []
const parked = (fails: string) =>
  Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => openings.push(`interrupted ${fails}`))))
const layerGone = new DriverError({ message: "layer folder is gone" })
const vanished = new Error("layer folder vanished")
/** The first chunk of the last "held" stream, watched for the collector. */
let heldChunk: WeakRef<Uint8Array> | undefined
/** Whether the first chunk of the last "held" stream is still alive. */
const heldAlive = () => heldChunk?.deref() !== undefined
const opening = (fails: string): Stream.Stream<Uint8Array, DriverError> => {
  switch (fails) {
    case "held":
      return Stream.concat(
        Stream.sync(() => {
          const first = new Uint8Array(4 << 20).fill(9)
          heldChunk = new WeakRef(first)
          return first
        }),
        Stream.fromEffect(parked(fails))
      )
    case "failure":
      return Stream.fail(layerGone)
    case "defect":
      return Stream.die(vanished)
    case "hang":
      return Stream.fromEffect(parked(fails))
    case "stall":
      return Stream.concat(Stream.make(chunk), Stream.fromEffect(parked(fails)))
    default:
      return Stream.empty
  }
}
const EchoLayer = Layer.succeed(Echo, {
  opening: ({ Fails }) =>
    Effect.succeed(opening(Fails).pipe(Stream.ensuring(Effect.sync(() => openings.push(`closed ${Fails}`))))),
  twin: ({ Fails }) =>
    Fails === "failure" ? Effect.fail(layerGone) : Fails === "defect" ? Effect.die(vanished) : Effect.never,
  forking: () =>
    Effect.succeed(
      Stream.unwrap(
        Effect.gen(function* () {
          const queue = yield* Queue.unbounded<Uint8Array, Cause.Done>()
          yield* Effect.forkChild(
            Effect.gen(function* () {
              for (const letter of "xyz") {
                yield* Queue.offer(queue, new TextEncoder().encode(letter.repeat(3)))
                yield* Effect.sleep("20 millis")
              }
              yield* Queue.end(queue)
            })
          )
          return Stream.fromQueue(queue)
        })
      )
    ),
  notStream: () => Effect.succeed("no stream" as unknown as Stream.Stream<Uint8Array>),
  ahead: ({ Chunks }) =>
    Effect.succeed(
      Stream.range(0, Chunks - 1).pipe(
        Stream.rechunk(1),
        Stream.map((i) => {
          aheadPulled++
          return aheadPool.share(aheadPool.take().fill(i % 251), aheadBytes)
        })
      )
    ),
  reused: ({ Chunks }) =>
    Effect.succeed(
      // One chunk per pull, as a producer reading a file hands them out (the platform joins several into a copy).
      Stream.range(0, Chunks - 1).pipe(
        Stream.rechunk(1),
        Stream.map((i) => {
          const buffer = reusedPool.take()
          reusedBuffers.add(buffer)
          return reusedPool.share(buffer.fill(i % 251), reusedBytes)
        })
      )
    ),
  upload: ({ body }) =>
    Effect.map(
      Stream.runFold(
        body,
        () => 0,
        (n, c) => n + c.length
      ),
      (Size) => ({ Size })
    ),
  download: ({ Size, FailAt }) =>
    Effect.succeed(
      Stream.range(1, Math.ceil(Size / chunk.length)).pipe(
        Stream.mapEffect((i) =>
          FailAt !== undefined && i * chunk.length > FailAt
            ? Effect.fail(new DriverError({ message: "disk on fire" }))
            : Effect.succeed(chunk)
        )
      )
    )
})

const GiB = 1 << 30

/** Serves the Echo API on a socket in a temporary folder for the life of the test; answers the socket path. */
const serveEcho = (name: string, fast = true, deadlines?: PluginServer.Options["deadlines"]) =>
  Effect.gen(function* () {
    const socketPath = Path.join(yield* tempDir, `${name}.sock`)
    const listen = Listener.unix(name, { path: socketPath })
    yield* Layer.build(
      PluginServer.layer({ name, listen, apis: [Api], ...(deadlines === undefined ? {} : { deadlines }) }).pipe(
        Layer.provide(Layer.mergeAll(EchoLayer, Layer.succeed(NodeFastPath.Enabled, fast)))
      )
    )
    return socketPath
  })

/** Samples RSS while `run` executes; returns the peak growth over the starting value in MiB. */
const peakGrowth = <A, E>(run: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const start = process.memoryUsage().rss
    let peak = start
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss)
    }, 20)
    const result = yield* Effect.ensuring(
      run,
      Effect.sync(() => clearInterval(timer))
    )
    return { result, growthMiB: (peak - start) / 2 ** 20 }
  })

const request = (socketPath: string, path: string, body: Readable | string) =>
  Effect.callback<{ status: number; bytes: number; text: string; aborted: boolean }, Error>((resume) => {
    const req = Http.request({ socketPath, path, method: "POST", agent: false }, (res) => {
      let bytes = 0
      let text = ""
      res.on("data", (c: Buffer) => {
        bytes += c.length
        if (text.length < 256) text += c.toString("utf8")
      })
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, bytes, text, aborted: false })))
      res.on("error", () => resume(Effect.succeed({ status: res.statusCode ?? 0, bytes, text, aborted: true })))
    })
    req.on("error", (e) => resume(Effect.fail(e)))
    if (typeof body === "string") req.end(body)
    else body.pipe(req)
  })

const gibibyteSource = () => {
  let sent = 0
  return new Readable({
    read() {
      if (sent >= GiB) return this.push(null)
      sent += chunk.length
      this.push(chunk)
    }
  })
}

/** The whole answer to a request, read only after a pause (so the server's writes queue up in the meantime). */
const slowRead = (socketPath: string, path: string, body: string) =>
  Effect.callback<Buffer, Error>((resume) => {
    const req = Http.request({ socketPath, path, method: "POST", agent: false }, (res) => {
      const parts: Array<Buffer> = []
      res.pause()
      setTimeout(() => res.resume(), 100)
      res.on("data", (c: Buffer) => parts.push(c))
      res.on("end", () => resume(Effect.succeed(Buffer.concat(parts))))
      res.on("error", (e) => resume(Effect.fail(e)))
    })
    req.on("error", (e) => resume(Effect.fail(e)))
    req.end(body)
  })

describe("streamed bodies", () => {
  for (const fast of [true, false]) {
    it.live(`reusable chunks come back only once written (${fast ? "fast path" : "platform path"})`, () =>
      Effect.gen(function* () {
        const socketPath = yield* serveEcho(fast ? "reuse-fast" : "reuse-plain", fast)
        reusedBuffers.clear()
        // Enough that reuse shows past the ~1 MiB a stream may run ahead of the socket (see NodeFastPath).
        const chunks = 2048
        const bytes = yield* slowRead(socketPath, "/Echo.Reused", JSON.stringify({ Chunks: chunks }))
        expect(bytes.length).toBe(chunks * reusedBytes)
        // A buffer taken back before its bytes left would have been refilled for a later chunk: every chunk must
        // still hold its own byte.
        for (let i = 0; i < chunks; i++) {
          const part = bytes.subarray(i * reusedBytes, (i + 1) * reusedBytes)
          expect(part.every((b) => b === i % 251)).toBe(true)
        }
        // With the fast path the server hands written chunks back (a handful of buffers serve them all); the
        // platform's own writer does not, and every chunk then takes a new buffer.
        if (fast) expect(reusedBuffers.size).toBeLessThan(chunks / 4)
        else expect(reusedBuffers.size).toBe(chunks)
      })
    )
  }

  for (const fast of [true, false]) {
    const via = fast ? "fast path" : "platform path"
    it.live(`a stream that fails before its first chunk is answered like a call that fails the same way (${via})`, () =>
      Effect.gen(function* () {
        const deadlines = { "Echo.Opening": "300 millis", "Echo.Twin": "300 millis" } as const
        const socketPath = yield* serveEcho(fast ? "first-fast" : "first-plain", fast, deadlines)
        const expected: Record<string, string> = {
          failure: "layer folder is gone",
          defect: "internal error in Echo.Opening: layer folder vanished"
        }
        for (const [fails, Err] of Object.entries(expected)) {
          openings.length = 0
          const body = JSON.stringify({ Fails: fails })
          const streamed = yield* request(socketPath, "/Echo.Opening", body)
          expect({
            fails,
            status: streamed.status,
            aborted: streamed.aborted,
            body: JSON.parse(streamed.text)
          }).toEqual({ fails, status: 500, aborted: false, body: { Err } })
          // The driver's stream was closed before the answer.
          expect(openings).toContain(`closed ${fails}`)
          // The same answer as a JSON call failing the same way, but for the endpoint's name.
          const json = yield* request(socketPath, "/Echo.Twin", body)
          expect({ fails, status: json.status, text: json.text }).toEqual({
            fails,
            status: streamed.status,
            text: streamed.text.replaceAll("Opening", "Twin")
          })
        }
      })
    )

    it.live(`a deadline bounds the driver's call, not the wait for a stream's first chunk (${via})`, () =>
      Effect.gen(function* () {
        const socketPath = yield* serveEcho(fast ? "late-fast" : "late-plain", fast, { "Echo.Opening": "100 millis" })
        openings.length = 0
        // A follow with nothing to say yet: still waiting, unanswered, well past the deadline.
        const received = yield* sendThenClose(
          socketPath,
          rawRequest("/Echo.Opening", JSON.stringify({ Fails: "hang" })),
          600
        )
        expect(received.toString("latin1")).toBe("")
        yield* waitFor(() => openings.length === 2, 2_000)
        expect(openings).toEqual(["interrupted hang", "closed hang"])
      })
    )

    it.live(`an empty stream is a 200 with an empty body (${via})`, () =>
      Effect.gen(function* () {
        const socketPath = yield* serveEcho(fast ? "empty-fast" : "empty-plain", fast)
        openings.length = 0
        const reply = yield* request(socketPath, "/Echo.Opening", JSON.stringify({ Fails: "never" }))
        expect(reply).toEqual({ status: 200, bytes: 0, text: "", aborted: false })
        expect(openings).toEqual(["closed never"])
      })
    )

    it.live(
      `a stream whose client closes the connection is interrupted, before or after its first chunk (${via})`,
      () =>
        Effect.gen(function* () {
          const socketPath = yield* serveEcho(fast ? "gone-fast" : "gone-plain", fast)
          for (const fails of ["hang", "stall"]) {
            openings.length = 0
            const sent = rawRequest("/Echo.Opening", JSON.stringify({ Fails: fails }))
            const received = (yield* sendThenClose(socketPath, sent, 200)).toString("latin1")
            // Before its first chunk nothing is answered yet; after it, the status line went with the chunk.
            expect({ fails, answered: received.startsWith("HTTP/1.1 200 OK") }).toEqual({
              fails,
              answered: fails === "stall"
            })
            // Streams have no deadline: only the closed connection can have ended them.
            yield* waitFor(() => openings.length === 2, 2_000)
            expect(openings).toEqual([`interrupted ${fails}`, `closed ${fails}`])
          }
        })
    )
  }

  it.live("a first chunk once written is not held while the stream runs on", () =>
    Effect.gen(function* () {
      // The collector, for this test only: a chunk the server still references survives it.
      V8.setFlagsFromString("--expose-gc")
      const gc = Vm.runInNewContext("gc") as () => void
      const socketPath = yield* serveEcho("held")
      heldChunk = undefined
      const reading = yield* Effect.forkChild(
        sendThenClose(socketPath, rawRequest("/Echo.Opening", JSON.stringify({ Fails: "held" })), 2_000)
      )
      yield* waitFor(() => heldChunk !== undefined, 2_000)
      // Written by now (4 MiB over a Unix socket to a client that reads it), while the stream waits for more.
      yield* Effect.sleep("500 millis")
      for (let i = 0; i < 3; i++) {
        gc()
        yield* Effect.sleep("20 millis")
      }
      expect(heldAlive()).toBe(false)
      expect((yield* Fiber.join(reading)).length).toBeGreaterThan(4 << 20)
    })
  )

  // The first chunk is pulled before the answer, in a fiber that may end with the call (under a deadline, or in the
  // in-process harness): what the stream forked as its child when it started must still run while it is written.
  const forked = "3\r\nxxx\r\n3\r\nyyy\r\n3\r\nzzz\r\n0\r\n\r\n"
  for (const deadline of [false, true]) {
    it.live(`a stream that forks a child fiber as it starts is answered whole (${deadline ? "" : "no "}deadline)`, () =>
      Effect.gen(function* () {
        const name = deadline ? "fork-deadline" : "fork-none"
        const socketPath = yield* serveEcho(name, true, deadline ? { "Echo.Forking": "5 seconds" } : undefined)
        const received = (yield* sendThenClose(socketPath, rawRequest("/Echo.Forking", "{}"), 1_000)).toString("latin1")
        expect(received.startsWith("HTTP/1.1 200 OK")).toBe(true)
        expect(received.slice(received.indexOf("\r\n\r\n") + 4)).toBe(forked)
      })
    )
  }

  it.live("a stream that forks a child fiber as it starts is answered whole (in-process harness)", () =>
    Effect.gen(function* () {
      const plugin = yield* InProcess.make(EchoLayer, { apis: [Api] })
      const text = yield* Effect.promise(async () => {
        const response = await plugin.fetch(new Request("http://plugin/Echo.Forking", { method: "POST", body: "{}" }))
        return `${response.status} ${await response.text()}`
      }).pipe(Effect.timeout("1 second"))
      expect(text).toBe("200 xxxyyyzzz")
    })
  )

  it.live("the next chunks are produced while the client has not read the last ones, up to about 1 MiB", () =>
    Effect.gen(function* () {
      const socketPath = yield* serveEcho("ahead")
      aheadPulled = 0
      const chunks = 64
      const parts: Array<Buffer> = []
      const pulledWhilePaused = yield* Effect.callback<number, Error>((resume) => {
        const req = Http.request({ socketPath, path: "/Echo.Ahead", method: "POST", agent: false }, (res) => {
          res.pause()
          setTimeout(() => {
            const pulled = aheadPulled
            res.on("data", (c: Buffer) => parts.push(c))
            res.on("end", () => resume(Effect.succeed(pulled)))
            res.resume()
          }, 200)
        })
        req.on("error", (e) => resume(Effect.fail(e)))
        req.end(JSON.stringify({ Chunks: chunks }))
      })
      // Node's own mark (64 KiB) stops the writer after the first chunk; the socket takes ~200 KiB of it.
      expect(pulledWhilePaused).toBeGreaterThanOrEqual(4)
      // Bounded: not the whole body.
      expect(pulledWhilePaused).toBeLessThanOrEqual(12)
      const bytes = Buffer.concat(parts)
      expect(bytes.length).toBe(chunks * aheadBytes)
      for (let i = 0; i < chunks; i++) {
        expect(bytes.subarray(i * aheadBytes, (i + 1) * aheadBytes).every((b) => b === i % 251)).toBe(true)
      }
    })
  )

  it.live(
    "1 GiB in and 1 GiB out over a Unix socket with flat memory",
    () =>
      Effect.gen(function* () {
        const socketPath = yield* serveEcho("echo")
        // Warm up JIT and buffers so the measurement sees steady state, not first-use allocations.
        yield* request(socketPath, "/Echo.Download", JSON.stringify({ Size: 64 << 20 }))

        const up = yield* peakGrowth(request(socketPath, "/Echo.Upload?id=layer1", gibibyteSource()))
        expect(up.result.status).toBe(200)
        expect(JSON.parse(up.result.text)).toEqual({ Size: GiB })
        expect(up.growthMiB).toBeLessThan(256)

        const down = yield* peakGrowth(request(socketPath, "/Echo.Download", JSON.stringify({ Size: GiB })))
        expect(down.result.status).toBe(200)
        expect(down.result.bytes).toBe(GiB)
        expect(down.growthMiB).toBeLessThan(256)
      }),
    120_000
  )

  it.live("a stream that fails after the 200 line aborts the connection", () =>
    Effect.gen(function* () {
      const socketPath = yield* serveEcho("fail")
      const reply = yield* request(socketPath, "/Echo.Download", JSON.stringify({ Size: 8 << 20, FailAt: 3 << 20 }))
      expect(reply.status).toBe(200)
      expect(reply.aborted).toBe(true)
      expect(reply.bytes).toBeLessThan(8 << 20)
    })
  )

  it.live("a driver answering something else than a stream gets a 500 with Err, not a closed connection", () =>
    Effect.gen(function* () {
      const socketPath = yield* serveEcho("nostream")
      const reply = yield* request(socketPath, "/Echo.NotStream", "{}")
      expect(reply.status).toBe(500)
      expect(JSON.parse(reply.text)).toEqual({
        Err: 'Echo.NotStream: the driver returned an invalid response: expected a stream of bytes, got "no stream"'
      })
    })
  )

  it.live("a bad query on a stream endpoint is a 400 naming the parameter", () =>
    Effect.gen(function* () {
      const socketPath = yield* serveEcho("q")
      const reply = yield* request(socketPath, "/Echo.Upload", "some bytes")
      expect(reply.status).toBe(400)
      expect(JSON.parse(reply.text)).toEqual({ Err: "/Echo.Upload: invalid query: id: Missing key" })
    })
  )
})
