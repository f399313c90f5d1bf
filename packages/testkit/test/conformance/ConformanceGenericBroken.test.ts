/**
 * The generic suite (what checks a SecretProvider's answers as the daemon reads them; ConformanceSecret adds the
 * value's size) against a secret provider written by hand as a third-party plugin would be, broken one way at a
 * time: each defect fails the one check named, and the provider itself passes.
 */
import { PluginClient } from "@docker-plugin-kit/client"
import { MetricsCollector, SecretProvider, VolumeDriver } from "@docker-plugin-kit/protocol"
import { Conformance, ConformanceGeneric, ConformanceSuites } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"

type GetSecret = (request: Record<string, unknown>) => unknown

const base64 = (text: string) => Buffer.from(text).toString("base64")

/** Answers `db-password` and fails every other secret with `Err`, as the Go helpers encode a response. */
const reference: GetSecret = (request) =>
  request.SecretName === "db-password"
    ? { Value: base64("hunter2") }
    : { Err: `no secret named ${JSON.stringify(request.SecretName)}` }

/** The JSON object in `text`, if it holds one. */
const parseObject = (text: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

/**
 * A plugin around `getSecret`: a body that is not a JSON object, or a name that is not a string, gets a plain 400;
 * an exception gets a plain 500 with its message, as a web framework's default error handler answers.
 */
const handWritten = (getSecret: GetSecret) => {
  const answer = (path: string, text: string): readonly [number, string] => {
    if (path === "/Plugin.Activate") return [200, '{"Implements":["secretprovider"]}']
    if (path !== "/SecretProvider.GetSecret") return [404, "404 page not found"]
    const request = parseObject(text)
    if (request === undefined) return [400, "invalid JSON"]
    if (!["string", "undefined"].includes(typeof request.SecretName)) return [400, "SecretName: not a string"]
    try {
      return [200, JSON.stringify(getSecret(request))]
    } catch (e) {
      return [500, String(e)]
    }
  }
  return PluginClient.make({
    address: "test://secret-provider",
    send: ({ path, body }) =>
      Effect.sync(() => {
        const [status, text] = answer(path, body._tag === "Bytes" ? new TextDecoder().decode(body.bytes) : "")
        return { status, headers: {}, body: Stream.make(new TextEncoder().encode(text)) }
      })
  })
}

const failures = (report: Conformance.Report) =>
  Object.fromEntries(report.outcomes.filter((o) => o.status === "fail").map((o) => [o.check, o.reason]))

const reportOf = (getSecret: GetSecret) =>
  Effect.flatMap(handWritten(getSecret), (client) =>
    Conformance.run(ConformanceGeneric.suite(SecretProvider.Api), client)
  )

const answers = "SecretProvider.GetSecret answers a well-formed request"

describe("the generic suite against broken secret providers", () => {
  it.effect("the hand-written provider passes, and so do providers served by the toolkit", () =>
    Effect.gen(function* () {
      expect(failures(yield* reportOf(reference))).toEqual({})
      const served = yield* ConformanceSuites.inProcess(
        Layer.mergeAll(
          Layer.succeed(
            SecretProvider.SecretProvider,
            SecretProvider.make({ getSecret: () => Effect.succeed({ Value: base64("s"), DoNotReuse: true }) })
          ),
          Layer.succeed(
            MetricsCollector.MetricsCollector,
            MetricsCollector.make({ startMetrics: () => Effect.succeed({}), stopMetrics: () => Effect.succeed({}) })
          )
        )
      )
      for (const api of [SecretProvider.Api, MetricsCollector.Api]) {
        expect(failures(yield* Conformance.run(ConformanceGeneric.suite(api), served))).toEqual({})
      }
    })
  )

  it.effect("the request the daemon sends for a secret without labels leaves SecretLabels out, and more", () =>
    Effect.gen(function* () {
      const getSecret = SecretProvider.Api.endpoints.getSecret
      const sample = yield* ConformanceGeneric.sampleRequest(getSecret)
      // The generated request has both; every field is omitempty in swarmkit.
      expect(sample).toHaveProperty("SecretLabels")
      expect(sample).toHaveProperty("ServiceHostname")
      expect(ConformanceGeneric.omittableKeys(getSecret, sample)).toEqual(Object.keys(sample as object))
      // Opts accepts null: the daemon always sends it, so it is never left out.
      const create = VolumeDriver.Api.endpoints.create
      expect(ConformanceGeneric.omittableKeys(create, yield* ConformanceGeneric.sampleRequest(create))).toEqual([])
    })
  )

  it.effect("a provider that reads a label without checking that the secret has labels", () =>
    Effect.gen(function* () {
      // The daemon leaves SecretLabels out for a secret created without labels: every such task fails.
      const report = yield* reportOf((request) => {
        const labels = request.SecretLabels as Record<string, string>
        return reference({ ...request, SecretName: labels.path ?? request.SecretName })
      })
      expect(failures(report)).toEqual({
        [answers]:
          "without SecretName, SecretLabels, ServiceHostname, ServiceName, ServiceLabels, TaskID, TaskName, NodeID, ServiceEndpointSpec: SecretProvider.GetSecret failed with status 500 and no \"Err\" in the body: TypeError: Cannot read properties of undefined (reading 'path')"
      })
      expect(report.outcomes.find((o) => o.check === answers)?.request?.body).toBe("{}\n")
    })
  )

  it.effect("a provider that fails with the error object in Err, which JSON turns into {}", () =>
    Effect.gen(function* () {
      // The daemon fails the task with a JSON decoding error instead of the provider's reason.
      const report = yield* reportOf((request) => {
        const answer = reference(request) as { readonly Err?: string }
        return answer.Err === undefined ? answer : { Err: new Error(answer.Err) }
      })
      expect(failures(report)).toEqual({
        [answers]:
          'SecretProvider.GetSecret answered 200 with "Err": {}, which the daemon cannot read as a string: the call fails with a JSON error'
      })
    })
  )

  it.effect("a provider that makes up a value for any name, in a lower-case key and not in base64", () =>
    Effect.gen(function* () {
      // Go reads "value" into Value, a byte slice: the value must be base64, or every task using the secret fails.
      const report = yield* reportOf(() => ({ value: "s3cret", doNotReuse: true }))
      expect(failures(report)).toEqual({
        [answers]: `SecretProvider.GetSecret answered 200 with "value" (read as "Value"): Value: Expected a base64 encoded string, got "s3cret"`
      })
      // The same in base64 works with the daemon, whatever the case of its keys.
      expect(failures(yield* reportOf(() => ({ value: base64("s3cret"), doNotReuse: true })))).toEqual({})
    })
  )
})
