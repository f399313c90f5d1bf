// The generic suite, and the proof that a declaration is all an API needs: a small API declared here, with `Error`
// as its error field, gets routes, a typed client, JSON Schema and the generic conformance suite with nothing
// registered anywhere.
import { DaemonText, PluginClient } from "@docker-plugin-kit/client"
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import {
  DriverError,
  Endpoint,
  JsonSchema,
  MetricsCollector,
  PluginApi,
  VolumeDriver
} from "@docker-plugin-kit/protocol"
import {
  Conformance,
  ConformanceGeneric,
  ConformanceReport,
  ConformanceSuites,
  InProcess
} from "@docker-plugin-kit/testkit"
import { ConformanceVitest } from "@docker-plugin-kit/testkit/vitest"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Result, Schema, Stream } from "effect"

const ExampleApi = PluginApi.make({
  prefix: "ExampleDriver",
  subsystem: "ExampleDriver",
  interfaceType: "docker.exampledriver/1.0",
  errorField: "Error",
  endpoints: {
    ping: Endpoint.json("Ping", Schema.Struct({ Name: Schema.String }), Schema.Struct({ Pong: Schema.String }), {
      description: "Answer Pong with the name, or fail for an empty one."
    })
  }
})

class ExampleDriver extends Context.Service<ExampleDriver, PluginApi.Driver<typeof ExampleApi>>()(
  ExampleApi.serviceKey
) {}

const makeExample = PluginApi.driverConstructor(ExampleApi)

const exampleLayer = Layer.succeed(
  ExampleDriver,
  makeExample({
    ping: ({ Name }) =>
      Name === "" ? Effect.fail(new DriverError({ message: "an empty name" })) : Effect.succeed({ Pong: Name })
  })
)

const served = InProcess.make(exampleLayer, { apis: [ExampleApi] })

describe("an API declared in a test, with nothing registered", () => {
  it.effect("gets routes: Activate lists it, Ping answers, a failure is a 500 Err", () =>
    Effect.gen(function* () {
      const plugin = yield* served
      expect((yield* plugin.call("/Plugin.Activate")).body).toEqual({ Implements: ["ExampleDriver"] })
      expect(yield* plugin.call("/ExampleDriver.Ping", { Name: "a" })).toMatchObject({
        status: 200,
        body: { Pong: "a" }
      })
      expect(yield* plugin.call("/ExampleDriver.Ping", { Name: "" })).toMatchObject({
        status: 500,
        body: { Err: "an empty name" }
      })
      expect((yield* plugin.call("/ExampleDriver.Ping", { Name: 1 })).status).toBe(400)
    })
  )

  it.effect("gets a typed client that reads its errors from Error in a 200 answer", () =>
    Effect.gen(function* () {
      const plugin = yield* served
      expect(yield* plugin.driver(ExampleApi).ping({ Name: "b" })).toEqual({ Pong: "b" })
      const ping = ExampleApi.endpoints.ping
      const answer = PluginClient.interpretJson(
        ping.path,
        200,
        '{"Error":"busy"}',
        ping.response.schema,
        ping.errorField
      )
      expect(Result.isFailure(answer) && answer.failure).toMatchObject({ _tag: "RemoteError", err: "busy" })
    })
  )

  it("gets JSON Schema with its facts", () => {
    const doc = JsonSchema.forApi(ExampleApi)["ExampleDriver.Ping"]
    expect(doc).toMatchObject({
      path: "/ExampleDriver.Ping",
      errorField: "Error",
      daemonTimeoutMs: null,
      deadlineMs: 120_000
    })
    expect(JsonSchema.forEndpointName("ExampleDriver.Ping", [ExampleApi])).toEqual(doc)
  })

  it.effect("gets the generic conformance suite, which passes", () =>
    Effect.gen(function* () {
      const { reports, genericOnly } = yield* ConformanceSuites.runAll((yield* served).client, { apis: [ExampleApi] })
      expect(reports.map((r) => [r.subsystem, r.suite, r.outcomes.length])).toEqual([["ExampleDriver", "generic", 4]])
      expect(reports[0]?.passed, reports.map(ConformanceReport.format).join("\n")).toBe(true)
      expect(genericOnly).toEqual(["ExampleDriver"])
    })
  )
})

describe("generic checks that fail", () => {
  /** A hand-written plugin answering Ping with the given status and body, Activate like a real one. */
  const handWritten = (status: number, body: string) =>
    PluginClient.make({
      address: "test://hand-written",
      send: ({ path }) =>
        Effect.succeed({
          status: path === "/Plugin.Activate" ? 200 : status,
          headers: {},
          body: Stream.make(
            new TextEncoder().encode(path === "/Plugin.Activate" ? '{"Implements":["ExampleDriver"]}' : body)
          )
        })
    })

  const failures = (status: number, body: string) =>
    Effect.gen(function* () {
      const { reports } = yield* ConformanceSuites.runAll(yield* handWritten(status, body), { apis: [ExampleApi] })
      return (reports[0]?.outcomes ?? []).filter((o) => o.status === "fail").map((o) => `${o.check}: ${o.reason}`)
    })

  it.effect("an error in the field the daemon does not read, an answer off the schema, a missing endpoint", () =>
    Effect.gen(function* () {
      expect(yield* failures(200, '{"Err":"busy"}')).toEqual([
        'ExampleDriver.Ping answers a well-formed request: ExampleDriver.Ping answered 200 with its error in "Err", which the daemon ignores for ExampleDriver (a 200 answer carries errors in "Error", any other status in "Err")',
        'ExampleDriver.Ping rejects malformed requests with an answer: ExampleDriver.Ping accepted a body that is not JSON: 200 {"Err":"busy"}'
      ])
      expect((yield* failures(200, '{"pong":"x"}'))[0]).toBe(
        "ExampleDriver.Ping answers a well-formed request: ExampleDriver.Ping answered a body that does not match the protocol: Pong: Missing key"
      )
      expect(yield* failures(404, "")).toEqual([
        "ExampleDriver.Ping answers a well-formed request: ExampleDriver.Ping is not implemented (404), but the daemon requires it"
      ])
      expect(yield* failures(500, '{"Error":"busy"}')).toEqual([
        'ExampleDriver.Ping answers a well-formed request: ExampleDriver.Ping failed with status 500 and no "Err" in the body: {"Error":"busy"}'
      ])
    })
  )
})

describe("a 200 answer judged as the daemon's Go decoder reads it", () => {
  /** The reason `judgeAnswer` fails a 200 answer of `endpoint` with, or `undefined` when it passes. */
  const judged = (endpoint: Endpoint.Any, text: string) =>
    Effect.map(
      Effect.result(
        ConformanceGeneric.judgeAnswer(
          { request: { path: endpoint.path, body: "" }, response: { status: 200, text, body: JSON.parse(text) } },
          endpoint
        )
      ),
      (result) => (Result.isFailure(result) ? result.failure.reason : undefined)
    )
  const get = VolumeDriver.Api.endpoints.get

  it.effect("keys nested in an object, and keys in another case holding one, are read in any case", () =>
    Effect.gen(function* () {
      expect(yield* judged(get, '{"Volume":{"Name":"v","mountpoint":42}}')).toBe(
        'VolumeDriver.Get answered 200 with "Volume" (its keys read in any case): Volume.Mountpoint: Expected string, got 42'
      )
      expect(yield* judged(get, '{"Volume":null,"volume":{"name":1}}')).toBe(
        'VolumeDriver.Get answered 200 with "volume" (read as "Volume"): Volume.Name: Expected string, got 1'
      )
      expect(yield* judged(get, '{"Volume":null,"volume":{"name":"v","mountpoint":"/x"}}')).toBeUndefined()
      // A later null spelling leaves a string field as it was.
      expect(yield* judged(get, '{"Volume":{"Name":"v","Mountpoint":"/x","mountpoint":null}}')).toBeUndefined()
    })
  )

  it.effect("every spelling of the error field must be a string: Go fails the call on the first that is not", () =>
    Effect.gen(function* () {
      expect(yield* judged(get, '{"Err":{},"err":"no such volume"}')).toBe(
        'VolumeDriver.Get answered 200 with "Err": {}, which the daemon cannot read as a string: the call fails with a JSON error'
      )
      // A null leaves the error as it was: a clean failure.
      expect(yield* judged(get, '{"Err":"no such volume","err":null}')).toBeUndefined()
    })
  )
})

describe("MetricsCollector: the daemon reads only the status (Engine 28+)", () => {
  /** A hand-written metrics plugin answering both calls with `status` and `body`. */
  const metrics = (status: number, body: string) =>
    PluginClient.make({
      address: "test://metrics",
      send: ({ path }) =>
        Effect.succeed({
          status: path === "/Plugin.Activate" ? 200 : status,
          headers: {},
          body: Stream.make(
            new TextEncoder().encode(path === "/Plugin.Activate" ? '{"Implements":["MetricsCollector"]}' : body)
          )
        })
    })

  const failures = (status: number, body: string) =>
    Effect.gen(function* () {
      const report = yield* Conformance.run(
        ConformanceGeneric.suite(MetricsCollector.Api),
        yield* metrics(status, body)
      )
      return report.outcomes.filter((o) => o.status === "fail").map((o) => `${o.check}: ${o.reason}`)
    })

  it.effect("an empty 200 (or any 200 body) passes; another status fails", () =>
    Effect.gen(function* () {
      expect(yield* failures(200, "")).toEqual([])
      expect(yield* failures(200, "OK")).toEqual([])
      expect(yield* failures(200, "{}")).toEqual([])
      expect(yield* failures(500, '{"Err":"no metrics socket"}')).toHaveLength(0)
      expect(yield* failures(500, "no metrics socket")).toEqual([
        'MetricsCollector.StartMetrics answers a well-formed request: MetricsCollector.StartMetrics failed with status 500 and no "Err" in the body: no metrics socket',
        'MetricsCollector.StopMetrics answers a well-formed request: MetricsCollector.StopMetrics failed with status 500 and no "Err" in the body: no metrics socket'
      ])
    })
  )

  it.effect("the client takes an empty 200 as success, and shows a failure as Engine 28 logs it", () =>
    Effect.gen(function* () {
      const ok = (yield* metrics(200, "")).driver(MetricsCollector.Api)
      expect(yield* ok.startMetrics({})).toEqual({})
      expect(yield* ok.stopMetrics({})).toEqual({})
      const failed = yield* metrics(500, '{"Err":"no socket"}')
      const error = yield* Effect.flip(failed.call(MetricsCollector.Api.endpoints.startMetrics, {}))
      expect(DaemonText.message(error)).toBe("/MetricsCollector.StartMetrics: no socket")
    })
  )
})

ConformanceVitest.describeSuite(
  "VolumeDriver generic conformance: memory driver in-process",
  ConformanceGeneric.suite(VolumeDriver.Api),
  () => ConformanceSuites.inProcess(VolumeMemory.layer())
)
