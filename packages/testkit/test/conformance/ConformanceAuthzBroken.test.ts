/**
 * The AuthZPlugin suite against policies that read container-create bodies differently from the daemon.
 */
import { GoJson } from "@docker-plugin-kit/client"
import { Authorization } from "@docker-plugin-kit/protocol"
import { Conformance, ConformanceAuthz, ConformanceSuites } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"

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
