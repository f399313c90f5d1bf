// What the router reads from the declarations: per-endpoint deadlines (streams have none), answers for absent
// optional methods, and the start-up errors that name a driver's mistake.
import { DriverError, GraphDriver, IpamDriver, LogDriver, PluginApi, VolumeDriver } from "@docker-plugin-kit/protocol"
import { PluginRouter } from "@docker-plugin-kit/server"
import { InProcess } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"

/** Every method of `api` failing, so a test overrides only what it exercises. */
const failingDriver = (api: PluginApi.Any): Record<string, (input: unknown) => Effect.Effect<never, DriverError>> =>
  Object.fromEntries(
    PluginApi.endpointList(api).map((e) => [e.key, () => Effect.fail(new DriverError({ message: "not in this test" }))])
  )

/**
 * A graph driver whose `applyDiff` and `get` answer only once `gate` opens (after the clock moved), and that says
 * when a call has started.
 */
const slowGraph = Effect.gen(function* () {
  const gate = yield* Deferred.make<void>()
  const started = yield* Deferred.make<void>()
  const wait = Effect.andThen(Deferred.succeed(started, undefined), Deferred.await(gate))
  const driver = {
    ...failingDriver(GraphDriver.Api),
    applyDiff: ({ body }: { readonly body: Stream.Stream<Uint8Array, unknown> }) =>
      Effect.andThen(
        wait,
        Effect.map(
          Stream.runFold(
            body,
            () => 0,
            (n, chunk) => n + chunk.length
          ),
          (Size) => ({ Size })
        )
      ),
    get: () => Effect.as(wait, { Dir: "/layers/x" })
  } as unknown as GraphDriver.Driver
  return { gate, started, layer: Layer.succeed(GraphDriver.GraphDriver, driver) }
})

/** Starts a call, waits until the driver has it, moves the clock by `by`, then lets the driver answer. */
const callAcrossTime = (
  plugin: InProcess.InProcessPlugin,
  slow: Effect.Success<typeof slowGraph>,
  path: string,
  body: unknown,
  by: Duration.Input
) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(plugin.call(path, body))
    yield* Deferred.await(slow.started)
    yield* TestClock.adjust(by)
    yield* Deferred.succeed(slow.gate, undefined)
    return yield* Fiber.join(fiber)
  })

describe("deadlines from the declarations", () => {
  it("are 2 minutes for JSON endpoints and none for streamed ones, unless the user names them", () => {
    const E = GraphDriver.Api.endpoints
    const ms = (d: Duration.Duration) => (Duration.isFinite(d) ? Duration.toMillis(d) : "none")
    expect([E.get, E.applyDiff, E.diff].map((e) => ms(PluginRouter.deadlineOf(e, {})))).toEqual([
      120_000,
      "none",
      "none"
    ])
    expect([E.get, E.applyDiff].map((e) => ms(PluginRouter.deadlineOf(e, { deadline: "5 seconds" })))).toEqual([
      5_000,
      "none"
    ])
    const deadlines = { GraphDriver: "1 minute", "GraphDriver.Get": "Infinity" } as const
    expect([E.get, E.applyDiff, E.diff].map((e) => ms(PluginRouter.deadlineOf(e, { deadlines })))).toEqual([
      "none",
      60_000,
      60_000
    ])
  })

  it.effect("a slow ApplyDiff upload is not cut at 2 minutes; a slow Get is", () =>
    Effect.gen(function* () {
      const slow = yield* slowGraph
      const plugin = yield* InProcess.make(slow.layer)
      const upload = yield* callAcrossTime(plugin, slow, "/GraphDriver.ApplyDiff?id=l1&parent=", "tar bytes", "1 hour")
      expect([upload.status, upload.body]).toEqual([200, { Size: 9 }])

      const again = yield* slowGraph
      const other = yield* InProcess.make(again.layer)
      const get = yield* callAcrossTime(other, again, "/GraphDriver.Get", { ID: "x" }, "3 minutes")
      expect([get.status, get.body]).toEqual([500, { Err: "GraphDriver.Get did not answer within 2m" }])
    })
  )

  it.effect("a per-API deadline reaches streamed endpoints too", () =>
    Effect.gen(function* () {
      const slow = yield* slowGraph
      const plugin = yield* InProcess.make(slow.layer, { deadlines: { GraphDriver: "1 minute" } })
      const upload = yield* callAcrossTime(plugin, slow, "/GraphDriver.ApplyDiff?id=l1&parent=", "tar", "90 seconds")
      expect([upload.status, upload.body]).toEqual([500, { Err: "GraphDriver.ApplyDiff did not answer within 1m" }])
    })
  )
})

describe("absent optional methods", () => {
  const logDriver = (withReadLogs: boolean) =>
    Layer.succeed(LogDriver.LogDriver, {
      startLogging: () => Effect.succeed({}),
      stopLogging: () => Effect.succeed({}),
      ...(withReadLogs ? { readLogs: () => Effect.succeed(Stream.make(new Uint8Array([1]))) } : {})
    })

  it.effect(
    "LogDriver: Capabilities advertises ReadLogs exactly when readLogs is there; ReadLogs absent is a 404",
    () =>
      Effect.gen(function* () {
        const without = yield* InProcess.make(logDriver(false))
        expect((yield* without.call("/LogDriver.Capabilities")).body).toEqual({ Cap: { ReadLogs: false } })
        expect((yield* without.call("/LogDriver.ReadLogs", { Info: {}, Config: {} })).status).toBe(404)
        const withIt = yield* InProcess.make(logDriver(true))
        expect((yield* withIt.call("/LogDriver.Capabilities")).body).toEqual({ Cap: { ReadLogs: true } })
      })
  )
})

describe("methods", () => {
  it.effect("endpoints answer POST, the daemon's method; another method on an endpoint's path is a 405 naming it", () =>
    Effect.gen(function* () {
      const plugin = yield* InProcess.make(
        Layer.succeed(LogDriver.LogDriver, {
          startLogging: () => Effect.succeed({}),
          stopLogging: () => Effect.succeed({})
        })
      )
      const post = yield* Effect.promise(() =>
        plugin.fetch(new Request("http://plugin/LogDriver.Capabilities", { method: "POST" }))
      )
      expect(post.status).toBe(200)
      const get = yield* Effect.promise(() => plugin.fetch(new Request("http://plugin/LogDriver.Capabilities?x=1")))
      expect([get.status, yield* Effect.promise(() => get.json())]).toEqual([
        405,
        { Err: "/LogDriver.Capabilities takes POST, not GET" }
      ])
      const activate = yield* Effect.promise(() => plugin.fetch(new Request("http://plugin/Plugin.Activate")))
      expect(activate.status).toBe(405)
      const other = yield* Effect.promise(() => plugin.fetch(new Request("http://plugin/LogDriver.Nope")))
      expect([other.status, yield* Effect.promise(() => other.json())]).toEqual([
        404,
        { Err: "unknown endpoint GET /LogDriver.Nope" }
      ])
    })
  )
})

describe("start-up errors", () => {
  it.effect("a misspelt method is reported as MissingDriverMethod with the key that looks like it", () =>
    Effect.gen(function* () {
      const driver = {
        ...failingDriver(IpamDriver.Api),
        requestPool: undefined,
        requestPools: () => Effect.succeed({})
      } as unknown as IpamDriver.Driver
      const error = yield* Effect.flip(InProcess.make(Layer.succeed(IpamDriver.IpamDriver, driver)))
      expect(error).toBeInstanceOf(PluginRouter.MissingDriverMethod)
      expect(error.message).toBe(
        'the IpamDriver driver has no method "requestPool" (it has "requestPools": did you mean "requestPool"?)'
      )
    })
  )

  it.effect("so is a misspelt optional method, which would otherwise be answered with the daemon's default", () =>
    Effect.gen(function* () {
      const driver = { ...failingDriver(VolumeDriver.Api), capabilities: undefined, capabilites: () => Effect.void }
      const error = yield* Effect.flip(
        InProcess.make(Layer.succeed(VolumeDriver.VolumeDriver, driver as unknown as VolumeDriver.Driver))
      )
      expect(error).toMatchObject({ _tag: "MissingDriverMethod", api: "VolumeDriver", method: "capabilities" })
    })
  )

  it.effect("a driver Layer's own error fails the start, typed, instead of a defect on the first call", () =>
    Effect.gen(function* () {
      const failing = Layer.effect(VolumeDriver.VolumeDriver, Effect.fail(new DriverError({ message: "no disk" })))
      const error = yield* Effect.flip(InProcess.make(failing))
      expect(error).toEqual(new DriverError({ message: "no disk" }))
    })
  )
})
