// The client against the real server over real Unix sockets, and against scripted raw plugins for the wire details
// and the daemon's error model.
import { type PluginClient, Retry, Target, Timeouts, Transport } from "@docker-plugin-kit/client"
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { type Endpoint, GraphDriver, IpamDriver, Manifest, VolumeDriver } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Path from "node:path"
import { rawPlugin, serve, tempDir } from "./support.ts"

const fast: PluginClient.Options = { retry: Retry.none }

describe("PluginClient against the real server on a Unix socket", () => {
  it.live("calls every VolumeDriver endpoint through the derived driver", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "mem.sock")
      yield* serve(path, VolumeMemory.layer({ mountRoot: "/m", now: () => new Date("2026-01-02T03:04:05.678Z") }))
      const client = yield* Target.connect(Target.socket(path))
      expect(yield* client.activate).toEqual({ Implements: ["VolumeDriver"] })
      const volumes = client.driver(VolumeDriver.Api)

      expect(yield* volumes.capabilities!({})).toEqual({ Capabilities: { Scope: "local" } })
      expect(yield* volumes.create({ Name: "v1", Opts: null })).toEqual({})
      expect(yield* volumes.create({ Name: "v2", Opts: { size: "1G" } })).toEqual({})
      const got = yield* volumes.get({ Name: "v1" })
      expect(got.Volume).toMatchObject({ Name: "v1", Mountpoint: "/m/v1", CreatedAt: "2026-01-02T03:04:05.678Z" })
      expect((yield* volumes.list({})).Volumes?.map((v) => v.Name)).toEqual(["v1", "v2"])
      expect(yield* volumes.mount({ Name: "v1", ID: "a".repeat(64) })).toEqual({ Mountpoint: "/m/v1" })
      expect(yield* volumes.path({ Name: "v1" })).toEqual({ Mountpoint: "/m/v1" })
      expect(yield* volumes.unmount({ Name: "v1", ID: "a".repeat(64) })).toEqual({})
      expect(yield* volumes.remove({ Name: "v1" })).toEqual({})

      // The server answers driver failures with 500 + Err; the daemon shows `Method: Err`.
      const missing = yield* Effect.flip(volumes.get({ Name: "v1" }))
      expect(missing._tag).toBe("StatusError")
      expect(missing.message).toBe("VolumeDriver.Get: no such volume: v1")
    })
  )

  it.live("fails with NotImplemented when the manifest lacks the subsystem", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "mem.sock")
      yield* serve(path, VolumeMemory.layer())
      const client = yield* Target.connect(Target.socket(path), { name: "mem" })
      const error = yield* Effect.flip(client.require("NetworkDriver"))
      expect(error._tag).toBe("NotImplemented")
      expect(error.message).toBe("plugin mem does not implement NetworkDriver (it implements VolumeDriver)")
    })
  )
})

describe("PluginClient on the wire", () => {
  it.live("sends the daemon's headers and bodies: empty Activate, Go-encoded JSON plus newline, no Content-Type", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "raw.sock")
      const { seen } = yield* rawPlugin(path, (req) =>
        req.url === "/Plugin.Activate"
          ? { status: 200, body: '{"Implements":["VolumeDriver"]}' }
          : { status: 200, body: "{}" }
      )
      const client = yield* Target.connect(Target.socket(path), fast)
      yield* client.activate
      yield* client.call(VolumeDriver.Api.endpoints.create, { Name: "a&b", Opts: null })
      yield* client.call(VolumeDriver.Api.endpoints.create, { Name: "<c>", Opts: { z: "1", a: "x>y" } })
      yield* client.call(VolumeDriver.Api.endpoints.list, {})

      expect(seen.map((s) => [s.url, s.body])).toEqual([
        ["/Plugin.Activate", ""],
        ["/VolumeDriver.Create", '{"Name":"a\\u0026b","Opts":null}\n'],
        ["/VolumeDriver.Create", '{"Name":"\\u003cc\\u003e","Opts":{"a":"x\\u003ey","z":"1"}}\n'],
        ["/VolumeDriver.List", "{}\n"]
      ])
      for (const { headers, body } of seen) {
        expect(headers.accept).toBe("application/vnd.docker.plugins.v1.2+json")
        expect(headers["content-type"]).toBeUndefined()
        expect(headers["content-length"]).toBe(String(Buffer.byteLength(body)))
        expect(headers["transfer-encoding"]).toBeUndefined()
      }
    })
  )

  it.live("caches a successful activation, never a failed one", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "raw.sock")
      const { seen } = yield* rawPlugin(path, (_, i) =>
        i === 0 ? { status: 500, body: "starting" } : { status: 200, body: '{"Implements":null}' }
      )
      const client = yield* Target.connect(Target.socket(path), fast)
      expect((yield* Effect.flip(client.activate)).message).toBe("Plugin.Activate: starting")
      expect(yield* client.activate).toEqual({ Implements: [] })
      expect(yield* client.activate).toEqual({ Implements: [] })
      expect(seen.length).toBe(2)
    })
  )

  it.live("ignores Err in a 200 Activate answer, as the daemon's Manifest has no such field", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "raw.sock")
      yield* rawPlugin(path, () => ({ status: 200, body: '{"Implements":["VolumeDriver"],"Err":"still warming up"}' }))
      const client = yield* Target.connect(Target.socket(path), fast)
      expect(yield* client.require("VolumeDriver")).toEqual({ Implements: ["VolumeDriver"] })
    })
  )

  const answerWith = (status: number, body: string) =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "raw.sock")
      const { seen } = yield* rawPlugin(path, () => ({ status, body }))
      const client = yield* Target.connect(Target.socket(path), fast)
      const exit = yield* Effect.exit(client.call(VolumeDriver.Api.endpoints.mount, { Name: "v", ID: "i" }))
      return { exit, calls: seen.length }
    })

  const failure = (exit: Exit.Exit<unknown, { readonly _tag: string; readonly message: string }>) => {
    if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
    const error = exit.cause.reasons.find((r) => r._tag === "Fail")
    if (error?._tag !== "Fail") throw new Error("expected a typed failure")
    return { tag: error.error._tag, message: error.error.message }
  }

  it.live("reads the error model like the daemon", () =>
    Effect.gen(function* () {
      // 200 + Err (any key case): the text, bare.
      expect(failure((yield* answerWith(200, '{"err":"boom"}')).exit)).toEqual({ tag: "RemoteError", message: "boom" })
      // non-200: `Method: Err`, or `Method: raw body` when there is no usable Err.
      expect(failure((yield* answerWith(500, '{"Err":"disk full"}')).exit)).toEqual({
        tag: "StatusError",
        message: "VolumeDriver.Mount: disk full"
      })
      expect(failure((yield* answerWith(404, "404 page not found")).exit)).toEqual({
        tag: "StatusError",
        message: "VolumeDriver.Mount: 404 page not found"
      })
      // Only 200 is success: 204 is a failure with the (empty) body as text.
      expect(failure((yield* answerWith(204, "")).exit)).toEqual({
        tag: "StatusError",
        message: "VolumeDriver.Mount: "
      })
      // 200 with an empty body: EOF.
      expect(failure((yield* answerWith(200, "")).exit)).toEqual({
        tag: "BadResponse",
        message: "VolumeDriver.Mount: EOF"
      })
      // A type mismatch fails the whole call, naming the field.
      expect(failure((yield* answerWith(200, '{"Mountpoint":42}')).exit).message).toMatch(
        /^VolumeDriver\.Mount: unexpected response: Mountpoint: Expected string, got 42$/
      )
    })
  )

  it.live("accepts what the daemon accepts: key case, trailing bytes, empty Err, null and missing fields", () =>
    Effect.gen(function* () {
      expect((yield* answerWith(200, '{"mountpoint":"/x","Err":""} trailing')).exit).toEqual(
        Exit.succeed({ Mountpoint: "/x" })
      )
      // Go leaves absent fields at their zero value, so a misspelt field silently reads as "".
      expect((yield* answerWith(200, '{"MountPath":"/x"}')).exit).toEqual(Exit.succeed({ Mountpoint: "" }))
      expect((yield* answerWith(200, "null")).exit).toEqual(Exit.succeed({ Mountpoint: "" }))
    })
  )

  it.live("never retries once the plugin answered, whatever the status", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "raw.sock")
      const { seen } = yield* rawPlugin(path, () => ({ status: 503, body: "busy" }))
      const client = yield* Target.connect(Target.socket(path))
      yield* Effect.flip(client.call(VolumeDriver.Api.endpoints.list, {}))
      expect(seen.length).toBe(1)
    })
  )

  it.live("does not resend a JSON call that timed out either: the plugin may be acting on it", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "raw.sock")
      const { seen } = yield* rawPlugin(path, () => "never")
      const client = yield* Target.connect(Target.socket(path), {
        timeouts: Timeouts.fixed("200 millis"),
        retry: { initial: Duration.millis(10), cap: Duration.millis(10), budget: Duration.seconds(5) }
      })
      const error = yield* Effect.flip(client.call(VolumeDriver.Api.endpoints.create, { Name: "v", Opts: {} }))
      expect(error._tag).toBe("CallTimeout")
      expect(seen.length).toBe(1)
    })
  )

  it.live("fails with BadResponse on an answer too large to hold, instead of crashing on it", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "raw.sock")
      const huge = "a".repeat(Transport.maxTextBytes + 1)
      yield* rawPlugin(path, () => ({ status: 200, body: huge }))
      const client = yield* Target.connect(Target.socket(path), { retry: Retry.none })
      const error = yield* Effect.flip(client.activate)
      expect([error._tag, error.message]).toEqual([
        "BadResponse",
        `Plugin.Activate: the response body broke: the answer is larger than ${Transport.maxTextBytes} bytes`
      ])
      const small = Stream.make(new Uint8Array(3), new Uint8Array(3))
      expect((yield* Effect.flip(Transport.readText(small, 5))).reason).toBe("the answer is larger than 5 bytes")
      expect(yield* Transport.readText(small, 6)).toBe("\0".repeat(6))
    })
  )

  it.effect("applies per-call timeouts: the declared one by default, or the client's own (virtual time)", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "raw.sock")
      const raw = yield* rawPlugin(path, () => "never")
      const timedOut = (options: PluginClient.Options, by: Duration.Input) =>
        Effect.gen(function* () {
          const client = yield* Target.connect(Target.socket(path), { retry: Retry.none, ...options })
          const seen = raw.seen.length
          const call = yield* Effect.forkChild(Effect.flip(client.call(VolumeDriver.Api.endpoints.get, { Name: "v" })))
          // The request reaches the plugin over a real socket; only then does the clock move.
          while (raw.seen.length === seen) yield* TestClock.withLive(Effect.sleep("2 millis"))
          yield* TestClock.adjust(by)
          return yield* Fiber.join(call)
        })
      const own = yield* timedOut({ timeouts: Timeouts.fixed("300 millis") }, "300 millis")
      expect([own._tag, own.message]).toEqual([
        "CallTimeout",
        `VolumeDriver.Get: the plugin at unix://${path} did not answer within 0.3s`
      ])
      const declared = yield* timedOut({}, "1 minute")
      expect(declared.message).toBe(`VolumeDriver.Get: the plugin at unix://${path} did not answer within 60s`)
    })
  )

  it("reads the daemon's per-call timeouts from the declarations", () => {
    const E = VolumeDriver.Api.endpoints
    const millis = (endpoint: Endpoint.Any) => {
      const timeout = Timeouts.daemon(endpoint)
      return timeout === undefined ? undefined : Duration.toMillis(timeout)
    }
    expect([E.create, E.mount].map(millis)).toEqual([120_000, 120_000])
    expect([E.remove, E.path, E.unmount, E.list, E.get, E.capabilities].map(millis)).toEqual(Array(6).fill(60_000))
    expect(millis(Manifest.Activate)).toBeUndefined()
    expect(millis(IpamDriver.Api.endpoints.requestPool)).toBeUndefined()
    expect(millis(GraphDriver.Api.endpoints.applyDiff)).toBeUndefined()
    expect(Timeouts.daemon(undefined)).toBeUndefined()
  })
})
