/**
 * The AuthZPlugin conformance suite against authz-policy (in-process and over a socket), and against plugins that
 * get the protocol wrong, to show that each check can fail.
 */
import { AuthzPolicy, PolicySourceMemory } from "@docker-plugin-kit/drivers"
import { Authorization, DriverError } from "@docker-plugin-kit/protocol"
import { Conformance, ConformanceAuthz, ConformanceSuites } from "@docker-plugin-kit/testkit"
import { ConformanceVitest } from "@docker-plugin-kit/testkit/vitest"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"
import { rawPlugin } from "./support.ts"

const baselinePath = fileURLToPath(new URL("../../../../examples/authz-policy/baseline.yaml", import.meta.url))
const baseline = Fs.readFileSync(baselinePath, "utf8")

const quiet = { audit: () => Effect.void }
const withPolicy = (text: string) =>
  Layer.unwrap(
    Effect.map(PolicySourceMemory.make(text), (source) =>
      AuthzPolicy.layer(quiet).pipe(Layer.provide(PolicySourceMemory.layer(source)))
    )
  )

ConformanceVitest.describeSuite("conformance: authz-policy (baseline), in-process", ConformanceAuthz.suite, () =>
  ConformanceSuites.inProcess(withPolicy(baseline))
)
ConformanceVitest.describeSuite("conformance: authz-policy (baseline), over a socket", ConformanceAuthz.suite, () =>
  ConformanceSuites.overSocket(AuthzPolicy.layerNode(baselinePath, quiet))
)

const reportOf = <E>(layer: Layer.Layer<any, E>) =>
  Effect.flatMap(ConformanceSuites.inProcess(layer), (client) => Conformance.run(ConformanceAuthz.suite, client))

const failures = (report: Conformance.Report) =>
  Object.fromEntries(report.outcomes.filter((o) => o.status !== "pass").map((o) => [o.check, o.reason]))

const rawDriver = (authZReq: Authorization.Driver["authZReq"]) =>
  Layer.succeed(
    Authorization.Authorization,
    Authorization.Authorization.of({ authZReq, authZRes: () => Effect.succeed({ Allow: true }) })
  )

describe("conformance of authz-policy", () => {
  it.live("passes every check without a warning, with the baseline and with a deny-all policy", () =>
    Effect.gen(function* () {
      for (const text of [baseline, "default: deny\nrules: []\n"]) {
        const report = yield* reportOf(withPolicy(text))
        expect(failures(report)).toEqual({})
        expect(report.passed).toBe(true)
      }
    })
  )

  it.live("passes when no policy could be loaded: everything is denied, with the reason", () =>
    Effect.gen(function* () {
      const report = yield* reportOf(AuthzPolicy.layerNode("/nonexistent/policy.yaml", quiet))
      expect(failures(report)).toEqual({})
    })
  )
})

describe("conformance catches plugins that get authorization wrong", () => {
  it.live("a denial without a message", () =>
    Effect.gen(function* () {
      const report = yield* reportOf(rawDriver(() => Effect.succeed({ Allow: false })))
      expect(failures(report)["A denial carries a message"]).toBe("denied with an empty Msg")
    })
  )

  it.live("a plugin that reads a withheld body as an empty one", () =>
    Effect.gen(function* () {
      // Denies privileged containers when it sees the body, allows when there is none: the classic bypass.
      const naive = rawDriver((request) => {
        const body = request.RequestBody === undefined ? "" : Buffer.from(request.RequestBody, "base64").toString()
        return Effect.succeed(body.includes('"Privileged":true') ? { Allow: false, Msg: "no" } : { Allow: true })
      })
      const report = yield* reportOf(naive)
      expect(failures(report)).toEqual({
        "AuthZReq never allows a container create whose body it could not see, unless it allows everything":
          "a create without its body was allowed, though the same plugin denies a privileged create: the body was read as empty, not as unknown",
        // It matches the text `"Privileged":true`, so the same create with its keys in lower case gets through too.
        "AuthZReq reads a container create body as the daemon does (keys in any case, a stray } after it)":
          "a privileged create is denied, but allowed with its keys in lower case, which the daemon reads as the same privileged create"
      })
      expect(report.passed).toBe(false)
    })
  )

  it.live("a plugin that fails on bodies it cannot parse (docker cp breaks)", () =>
    Effect.gen(function* () {
      const strict = rawDriver((request) =>
        request.RequestHeaders?.["Content-Type"] === "application/x-tar"
          ? Effect.fail(new DriverError({ message: "cannot parse the body" }))
          : Effect.succeed({ Allow: true })
      )
      const report = yield* reportOf(strict)
      expect(failures(report)["AuthZReq decides a tar upload (docker cp) without a body"]).toMatch(
        /^AuthZPlugin.AuthZReq failed with status 500: cannot parse the body; the daemon refuses the request/
      )
    })
  )

  it.live("an allow carrying an error text and a missing Allow", () =>
    Effect.gen(function* () {
      const careless = yield* rawPlugin((path) =>
        path === "/Plugin.Activate"
          ? { Implements: ["VolumeDriver"] }
          : path === "/AuthZPlugin.AuthZRes"
            ? { allow: true }
            : { Allow: true, Err: "policy could not be evaluated" }
      )
      const report = yield* Effect.flatMap(ConformanceSuites.running(careless.socket), (client) =>
        Conformance.run(ConformanceAuthz.suite, client)
      )
      const failed = failures(report)
      expect(failed["AuthZReq decides HEAD /_ping"]).toBe(
        'AuthZPlugin.AuthZReq answered Allow: true with Err "policy could not be evaluated": the daemon ignores Err in a 200 and lets the request through; report a failure with a non-200 status'
      )
      expect(failed["AuthZRes decides a buffered JSON response"]).toBe(
        'AuthZPlugin.AuthZRes answered without a boolean "Allow" (exact spelling): {"allow":true}'
      )
    })
  )
})
