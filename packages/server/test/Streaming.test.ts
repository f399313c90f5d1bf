// Streamed bodies pass through the server without buffering: 1 GiB each way with flat memory, and a stream that
// fails after the status line aborts the connection instead of ending cleanly.
import { DriverError, Endpoint, PluginApi, Wire } from "@docker-plugin-kit/protocol"
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema, Stream } from "effect"
import * as Http from "node:http"
import * as Path from "node:path"
import { Readable } from "node:stream"
import { tempDir } from "./support.ts"

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
    )
  }
})
class Echo extends Context.Service<Echo, PluginApi.Driver<typeof Api>>()(Api.serviceKey) {}

const chunk = new Uint8Array(1 << 20).fill(7)
const EchoLayer = Layer.succeed(Echo, {
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
const serveEcho = (name: string) =>
  Effect.gen(function* () {
    const socketPath = Path.join(yield* tempDir, `${name}.sock`)
    yield* Layer.build(
      PluginServer.layer({ name, listen: Listener.unix(name, { path: socketPath }), apis: [Api] }).pipe(
        Layer.provide(EchoLayer)
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

describe("streamed bodies", () => {
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

  it.live("a bad query on a stream endpoint is a 400 naming the parameter", () =>
    Effect.gen(function* () {
      const socketPath = yield* serveEcho("q")
      const reply = yield* request(socketPath, "/Echo.Upload", "some bytes")
      expect(reply.status).toBe(400)
      expect(JSON.parse(reply.text)).toEqual({ Err: "/Echo.Upload: invalid query: id: Missing key" })
    })
  )
})
