// The driver tested in-process with the daemon's own request bodies, then over a Unix socket with the toolkit's
// authorization conformance suite.
import { AuthzSequences, ConformanceAuthz, ConformanceSuites, InProcess } from "@docker-plugin-kit/testkit"
import { ConformanceVitest } from "@docker-plugin-kit/testkit/vitest"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Driver from "../src/Driver.ts"

/** What the daemon sends the plugin for `docker run` with this host configuration. */
const create = (HostConfig: Record<string, unknown>) =>
  AuthzSequences.authZRequestOf({
    method: "POST",
    uri: "/v1.41/containers/create",
    body: { _tag: "Json", value: { Image: "busybox", HostConfig } }
  })

describe("the driver, in-process", () => {
  it.effect("allows plain containers, denies privileged ones and bind mounts of / and /etc", () =>
    Effect.gen(function* () {
      const plugin = yield* InProcess.make(Driver.layer)
      const decide = (HostConfig: Record<string, unknown>) =>
        Effect.map(plugin.call("/AuthZPlugin.AuthZReq", create(HostConfig)), (r) => r.body)
      expect(yield* decide({})).toEqual({ Allow: true })
      expect(yield* decide({ Privileged: true })).toEqual({
        Allow: false,
        Msg: "privileged containers are not allowed"
      })
      expect(yield* decide({ Binds: ["/etc:/host-etc:ro"] })).toEqual({
        Allow: false,
        Msg: "bind mounts of /etc are not allowed"
      })
      expect(yield* decide({ Binds: ["/srv/data:/data"] })).toEqual({ Allow: true })
    })
  )
})

ConformanceVitest.describeSuite("the driver over a Unix socket", ConformanceAuthz.suite, () =>
  ConformanceSuites.overSocket(Driver.layer)
)
