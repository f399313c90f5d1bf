/**
 * The SecretProvider suite against providers that answer every name with a value the swarm manager refuses: empty,
 * or 500 KiB. The generic suite accepts both answers (they are well-formed), so only this suite reports them.
 */
import { PluginClient } from "@docker-plugin-kit/client"
import { SecretProvider } from "@docker-plugin-kit/protocol"
import { ConformanceSuites } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, type Scope, Stream } from "effect"

type GetSecret = (request: Record<string, unknown>) => unknown

const base64 = (bytes: number | string) =>
  (typeof bytes === "string" ? Buffer.from(bytes) : Buffer.alloc(bytes, "x")).toString("base64")

/** A plugin that answers GetSecret with `getSecret` of the request, and a request without a string name with 400. */
const handWritten = (getSecret: GetSecret) =>
  PluginClient.make({
    address: "test://secret-provider",
    send: ({ path, body }) =>
      Effect.sync(() => {
        const text = body._tag === "Bytes" ? new TextDecoder().decode(body.bytes) : ""
        let request: unknown
        try {
          request = JSON.parse(text)
        } catch {
          request = undefined
        }
        const [status, answer] =
          path === "/Plugin.Activate"
            ? [200, '{"Implements":["secretprovider"]}']
            : path !== "/SecretProvider.GetSecret"
              ? [404, "404 page not found"]
              : typeof request !== "object" ||
                  request === null ||
                  !["string", "undefined"].includes(typeof (request as Record<string, unknown>).SecretName)
                ? [400, '{"Err":"invalid request"}']
                : [200, JSON.stringify(getSecret(request as Record<string, unknown>))]
        return { status, headers: {}, body: Stream.make(new TextEncoder().encode(answer)) }
      })
  })

const check = "GetSecret answers a value the swarm manager accepts (1 byte to under 500 KiB)"

/** Every suite `dpk probe` runs: the failed checks by name, and the suites run. */
const probe = (client: Effect.Effect<PluginClient.PluginClient, unknown, Scope.Scope>) =>
  Effect.gen(function* () {
    const { reports, genericOnly } = yield* ConformanceSuites.runAll(yield* client)
    return {
      suites: reports.map((r) => `${r.subsystem} ${r.suite ?? "semantic"}`),
      genericOnly,
      failures: Object.fromEntries(
        reports.flatMap((r) => r.outcomes.filter((o) => o.status === "fail").map((o) => [o.check, o.reason]))
      ) as Record<string, string | undefined>
    }
  })

const refused = (size: number, what: string) =>
  new RegExp(
    `^SecretProvider\\.GetSecret answered secret "dpk-conformance-\\w+-secret-\\d+" with a Value of ${size} bytes: the swarm manager refuses ${what}, so every task using the secret fails to start$`
  )

describe("ConformanceSecret against providers whose values the swarm manager refuses", () => {
  it.effect("a provider answering every name with 1 byte, or with 500 KiB less one, passes every suite", () =>
    Effect.gen(function* () {
      for (const size of [1, 500 * 1024 - 1]) {
        const report = yield* probe(handWritten(() => ({ Value: base64(size) })))
        expect(report.failures).toEqual({})
        expect(report.suites).toEqual(["secretprovider semantic", "secretprovider generic"])
        expect(report.genericOnly).toEqual([])
      }
    })
  )

  it.effect("a provider served by the toolkit passes, and one that fails unknown names is not judged", () =>
    Effect.gen(function* () {
      const served = ConformanceSuites.inProcess(
        Layer.succeed(
          SecretProvider.SecretProvider,
          SecretProvider.make({ getSecret: () => Effect.succeed({ Value: base64("s3cret"), DoNotReuse: true }) })
        )
      )
      expect((yield* probe(served)).failures).toEqual({})
      // It has no secret of the name sent: there is no value to judge.
      expect((yield* probe(handWritten((r) => ({ Err: `no secret named ${r.SecretName}` })))).failures).toEqual({})
    })
  )

  it.effect("a provider answering an empty value fails, whether Value is absent, empty or null", () =>
    Effect.gen(function* () {
      for (const answer of [{}, { Value: "" }, { value: null, DoNotReuse: true }, { Err: "", Value: "" }]) {
        const { failures } = yield* probe(handWritten(() => answer))
        expect(Object.keys(failures), JSON.stringify(answer)).toEqual([check])
        expect(failures[check]).toMatch(refused(0, "an empty value"))
      }
    })
  )

  it.effect("a provider answering 500 KiB fails, naming the size", () =>
    Effect.gen(function* () {
      const { failures } = yield* probe(handWritten(() => ({ Value: base64(500 * 1024) })))
      expect(Object.keys(failures)).toEqual([check])
      expect(failures[check]).toMatch(refused(512000, "a value of 512000 bytes \\(500 KiB\\) or more"))
    })
  )
})

describe("ConformanceSecret told a secret the provider holds", () => {
  const secrets: Record<string, string> = { "db-password": "s3cret", "api-key": "k3y" }
  const named = "GetSecret of another name does not answer the named secret's value (with a secret named)"
  /** Every suite with `--secret-name db-password`: the failed checks by name. */
  const probeNamed = (client: Effect.Effect<PluginClient.PluginClient, unknown, Scope.Scope>) =>
    Effect.gen(function* () {
      const { reports } = yield* ConformanceSuites.runAll(yield* client, { checks: { secretName: "db-password" } })
      return Object.fromEntries(
        reports.flatMap((r) => r.outcomes.filter((o) => o.status === "fail").map((o) => [o.check, o.reason]))
      ) as Record<string, string | undefined>
    })

  it.effect("a provider that answers the secrets it holds and fails other names passes", () =>
    Effect.gen(function* () {
      const failures = yield* probeNamed(
        handWritten((r) => {
          const value = secrets[String(r.SecretName)]
          return value === undefined ? { Err: `no secret named ${r.SecretName}` } : { Value: base64(value) }
        })
      )
      expect(failures).toEqual({})
    })
  )

  it.effect("a provider that ignores SecretName, or falls back to a default secret, fails", () =>
    Effect.gen(function* () {
      for (const getSecret of [
        () => ({ Value: base64("s3cret") }),
        (r: Record<string, unknown>) => ({ Value: base64(secrets[String(r.SecretName)] ?? "s3cret"), DoNotReuse: true })
      ]) {
        const failures = yield* probeNamed(handWritten(getSecret))
        expect(Object.keys(failures)).toEqual([named])
        expect(failures[named]).toMatch(
          /^SecretProvider\.GetSecret answered secret "dpk-conformance-\w+-secret-\d+", which the plugin does not hold, with the value of secret "db-password": tasks get it for any secret of this driver$/
        )
      }
    })
  )
})
