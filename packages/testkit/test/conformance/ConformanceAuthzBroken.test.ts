/**
 * The AuthZPlugin suite against policies that read container-create bodies differently from the daemon, and
 * against authz-policy (the baseline policy) broken one way at a time.
 */
import { GoJson } from "@docker-plugin-kit/client"
import { AuthzPolicy, PolicySourceMemory } from "@docker-plugin-kit/drivers"
import { Authorization } from "@docker-plugin-kit/protocol"
import { Conformance, ConformanceAuthz, ConformanceSuites } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"

/** Denies privileged creates and creates it cannot see; `parse` reads the JSON body. */
const policy = (parse: (text: string) => unknown) =>
  Layer.succeed(
    Authorization.Authorization,
    Authorization.Authorization.of({
      authZReq: (r) =>
        Effect.sync(() => {
          if (!r.RequestUri?.includes("/containers/create")) return { Allow: true }
          if (r.RequestBody === undefined) return { Allow: false, Msg: "no body" }
          let body: any
          try {
            body = parse(Buffer.from(r.RequestBody, "base64").toString())
          } catch {
            body = {} // fails open: a body it cannot parse counts as an empty one
          }
          return body?.HostConfig?.Privileged === true ? { Allow: false, Msg: "privileged" } : { Allow: true }
        }),
      authZRes: () => Effect.succeed({ Allow: true })
    })
  )

/** The first JSON value of `text`, as Go's json.Decoder reads it (what follows is ignored). */
const firstValue = (text: string): unknown => {
  for (let end = text.length; end > 0; end--) {
    try {
      return JSON.parse(text.slice(0, end))
    } catch {
      // shorter
    }
  }
  return undefined
}

/** `HostConfig.Privileged` looked up with its keys in any case, as Go matches field names. */
const privilegedInAnyCase = (value: unknown): unknown => ({
  HostConfig: { Privileged: GoJson.field(GoJson.field(value, "HostConfig"), "Privileged") }
})

const failures = (report: Conformance.Report) =>
  Object.fromEntries(report.outcomes.filter((o) => o.status === "fail").map((o) => [o.check, o.reason]))

const reportOf = (layer: Layer.Layer<Authorization.Authorization>) =>
  Effect.flatMap(ConformanceSuites.inProcess(layer), (client) => Conformance.run(ConformanceAuthz.suite, client))

const check = "AuthZReq reads a container create body as the daemon does (keys in any case, a stray } after it)"

describe("ConformanceAuthz against policies that read bodies unlike the daemon", () => {
  it.live("a policy that reads the body as the daemon does passes", () =>
    Effect.gen(function* () {
      expect(failures(yield* reportOf(policy((text) => privilegedInAnyCase(firstValue(text)))))).toEqual({})
    })
  )

  it.live("a policy that allows what it cannot parse lets a privileged create through with a stray }", () =>
    Effect.gen(function* () {
      // Exact-case keys are read right only by accident here; the stray } is what gets through.
      const report = yield* reportOf(
        policy((text) => {
          const body = JSON.parse(text)
          return { HostConfig: { Privileged: body.HostConfig?.Privileged ?? body.hostconfig?.privileged } }
        })
      )
      expect(failures(report)).toEqual({
        [check]:
          "a privileged create is denied, but allowed followed by a stray }, which the daemon reads as the same privileged create"
      })
    })
  )

  it.live("a policy that reads field names in exact case lets a privileged create through in lower case", () =>
    Effect.gen(function* () {
      const report = yield* reportOf(policy(firstValue))
      expect(failures(report)).toEqual({
        [check]:
          "a privileged create is denied, but allowed with its keys in lower case, which the daemon reads as the same privileged create"
      })
    })
  )
})

const baseline = Fs.readFileSync(
  fileURLToPath(new URL("../../../../examples/authz-policy/baseline.yaml", import.meta.url)),
  "utf8"
)

/** authz-policy with the baseline policy, some methods replaced. */
const brokenPolicy = (patch: (driver: Authorization.Driver) => Partial<Authorization.Driver>) =>
  Layer.effect(
    Authorization.Authorization,
    Effect.gen(function* () {
      const driver = yield* Authorization.Authorization
      return { ...driver, ...patch(driver) }
    })
  ).pipe(
    Layer.provide(
      Layer.unwrap(
        Effect.map(PolicySourceMemory.make(baseline), (source) =>
          AuthzPolicy.layer({ audit: () => Effect.void }).pipe(Layer.provide(PolicySourceMemory.layer(source)))
        )
      )
    )
  )

describe("ConformanceAuthz against broken authz-policy", () => {
  it.live("authz-policy passes every check", () =>
    Effect.gen(function* () {
      const report = yield* reportOf(brokenPolicy(() => ({})))
      expect(report.outcomes.filter((o) => o.status !== "pass")).toEqual([])
    })
  )

  it.live("a denial without a message where the policy falls back to denying (here: the ping)", () =>
    Effect.gen(function* () {
      const report = yield* reportOf(
        brokenPolicy((d) => ({
          authZReq: (r) => (r.RequestUri === "/_ping" ? Effect.succeed({ Allow: false }) : d.authZReq(r))
        }))
      )
      expect(failures(report)).toEqual({ "A denial carries a message": "denied HEAD /_ping with an empty Msg" })
    })
  )

  it.live("an AuthZRes that denies every response", () =>
    Effect.gen(function* () {
      const report = yield* reportOf(
        brokenPolicy(() => ({ authZRes: () => Effect.succeed({ Allow: false, Msg: "responses are not allowed" }) }))
      )
      expect(failures(report)).toEqual({
        "AuthZRes lets through the response of a container create that AuthZReq allowed":
          'AuthZReq allowed a container create, then AuthZRes denied its 201 answer ("responses are not allowed"): the container exists, and the user is told it was refused'
      })
    })
  )
})
