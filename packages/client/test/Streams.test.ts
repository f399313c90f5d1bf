// Streamed bodies both ways, as GraphDriver uses them: ApplyDiff sends a chunked tar with its parameters in the
// query string, Diff answers with a raw stream.
import { type PluginClient, Retry, Target, Timeouts } from "@docker-plugin-kit/client"
import { GraphDriver } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Stream } from "effect"
import * as Net from "node:net"
import * as Path from "node:path"
import { rawPlugin, serve, tempDir } from "./support.ts"

const MiB = 1 << 20
const chunk = new Uint8Array(MiB).fill(42)
const bytes = (size: number) => Stream.range(1, size / MiB).pipe(Stream.map(() => chunk))
const count = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  Stream.runFold(
    stream,
    () => 0,
    (n, c) => n + c.length
  )

const applied: Array<{ id: string; parent: string; size: number }> = []
// Only the two streaming methods; the others die if called (none is, here).
const unused = Object.fromEntries(Object.keys(GraphDriver.Api.endpoints).map((k) => [k, () => Effect.die(k)]))
const graph = Layer.succeed(GraphDriver.GraphDriver, {
  ...(unused as unknown as GraphDriver.Driver),
  applyDiff: ({ id, parent, body }) =>
    Effect.map(count(body), (size) => {
      applied.push({ id, parent, size })
      return { Size: size }
    }),
  diff: ({ ID }) => Effect.succeed(ID === "big" ? bytes(16 * MiB) : bytes(MiB))
})

describe("streamed bodies over a Unix socket", () => {
  it.live("ApplyDiff uploads a 16 MiB stream with id and parent in the query; Diff downloads one", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "graph.sock")
      yield* serve(path, graph)
      const client = yield* Target.connect(Target.socket(path))
      yield* client.require("GraphDriver")
      const driver = client.driver(GraphDriver.Api)

      expect(yield* driver.applyDiff({ id: "layer 1", parent: "layer&0", body: bytes(16 * MiB) })).toEqual({
        Size: 16 * MiB
      })
      expect(applied.at(-1)).toEqual({ id: "layer 1", parent: "layer&0", size: 16 * MiB })
      expect(yield* count(yield* driver.diff({ ID: "big" }))).toBe(16 * MiB)
    })
  )

  it.live("sends ApplyDiff chunked, without Content-Length, and reads a non-200 stream answer as an error", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "raw.sock")
      const { seen } = yield* rawPlugin(path, (req) =>
        req.url.startsWith("/GraphDriver.ApplyDiff")
          ? { status: 200, body: '{"Size":6}' }
          : { status: 500, body: '{"Err":"no such layer"}' }
      )
      const client = yield* Target.connect(Target.socket(path), { retry: Retry.none })
      const size = yield* client.call(GraphDriver.Api.endpoints.applyDiff, {
        id: "a",
        parent: "",
        body: Stream.make(new TextEncoder().encode("abc"), new TextEncoder().encode("def"))
      })
      expect(size).toEqual({ Size: 6 })
      expect(seen[0]?.url).toBe("/GraphDriver.ApplyDiff?id=a&parent=")
      expect(seen[0]?.headers["transfer-encoding"]).toBe("chunked")
      expect(seen[0]?.headers["content-length"]).toBeUndefined()
      expect(seen[0]?.headers["content-type"]).toBeUndefined()
      expect(seen[0]?.body).toBe("abcdef")

      const error = yield* Effect.flip(client.call(GraphDriver.Api.endpoints.diff, { ID: "x" }))
      expect(error.message).toBe("GraphDriver.Diff: no such layer")
    })
  )

  it.live("does not resend a stream that failed on the caller's side", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "raw.sock")
      const { seen } = yield* rawPlugin(path, () => ({ status: 200, body: '{"Size":0}' }))
      const client: PluginClient.PluginClient = yield* Target.connect(Target.socket(path))
      const started = Date.now()
      const error = yield* Effect.flip(
        client.call(GraphDriver.Api.endpoints.applyDiff, {
          id: "a",
          parent: "",
          body: Stream.concat(Stream.make(chunk), Stream.fail(new Error("tar writer died")))
        } as never)
      )
      expect(error._tag).toBe("PluginUnreachable")
      expect(Date.now() - started).toBeLessThan(900)
      expect(seen.length).toBeLessThanOrEqual(1)
    })
  )

  it.live("does not resend a stream whose call timed out: the plugin may have read it all", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "raw.sock")
      // The plugin reads the whole diff, then never answers.
      const { seen } = yield* rawPlugin(path, () => "never")
      const client = yield* Target.connect(Target.socket(path), {
        timeouts: Timeouts.fixed("200 millis"),
        retry: { initial: Duration.millis(10), cap: Duration.millis(10), budget: Duration.seconds(5) }
      })
      const error = yield* Effect.flip(
        client.call(GraphDriver.Api.endpoints.applyDiff, { id: "a", parent: "", body: Stream.make(chunk) })
      )
      expect(error._tag).toBe("CallTimeout")
      expect(seen.length).toBe(1)
    })
  )

  it.live("releases the caller's stream when the plugin drops the connection in the middle of it", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "drop.sock")
      // The plugin takes the first bytes of the upload, then drops the connection.
      const server = yield* Effect.acquireRelease(
        Effect.callback<Net.Server>((resume) => {
          const s = Net.createServer((socket) => socket.once("data", () => socket.destroy()))
          s.listen(path, () => resume(Effect.succeed(s)))
        }),
        (s) => Effect.promise(() => new Promise<void>((done) => s.close(() => done())))
      )
      expect(server.listening).toBe(true)
      let released = false
      const endless = Stream.forever(Stream.make(chunk)).pipe(Stream.ensuring(Effect.sync(() => (released = true))))
      const client = yield* Target.connect(Target.socket(path), { retry: Retry.none })
      const error = yield* Effect.flip(
        client.call(GraphDriver.Api.endpoints.applyDiff, { id: "a", parent: "", body: endless })
      )
      expect(error._tag).toBe("PluginUnreachable")
      // The stream is not resent, and it is not left suspended either: its finalizers run.
      for (let i = 0; i < 100 && !released; i++) yield* Effect.sleep("10 millis")
      expect(released).toBe(true)
    })
  )
})
