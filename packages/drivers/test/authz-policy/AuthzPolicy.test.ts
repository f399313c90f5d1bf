import { AuthzPolicy, PolicySource, PolicySourceMemory } from "@docker-plugin-kit/drivers"
import type { Authorization } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Stream } from "effect"
import * as Logger from "effect/Logger"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"

const baseline = Fs.readFileSync(
  fileURLToPath(new URL("../../../../examples/authz-policy/baseline.yaml", import.meta.url)),
  "utf8"
)

const json = (body: unknown): Partial<Authorization.AuthZRequest> => ({
  RequestHeaders: { "Content-Type": "application/json" },
  RequestBody: Buffer.from(JSON.stringify(body)).toString("base64")
})
const privileged: Authorization.AuthZRequest = {
  RequestMethod: "POST",
  RequestUri: "/v1.41/containers/create",
  ...json({ Image: "busybox", HostConfig: { Privileged: true } })
}
const ping: Authorization.AuthZRequest = { RequestMethod: "GET", RequestUri: "/_ping" }

/** A driver over a memory source, its audit entries and its log lines. */
const setup = (text: string | undefined, options: AuthzPolicy.Options = {}) =>
  Effect.gen(function* () {
    const source = yield* PolicySourceMemory.make(text)
    const audited: Array<AuthzPolicy.AuditEntry> = []
    const logs: Array<string> = []
    const handle = yield* AuthzPolicy.make({
      settle: 0,
      audit: (entry) => Effect.sync(() => void audited.push(entry)),
      ...options
    }).pipe(Effect.provide(PolicySourceMemory.layer(source)))
    return { source, handle, audited, logs }
  })

const collectLogs = (logs: Array<string>) =>
  Logger.layer([Logger.make(({ message }) => void logs.push(String(Array.isArray(message) ? message[0] : message)))])

describe("authz-policy with the baseline", () => {
  it.effect("allows, denies with the policy's message, and audits each decision once", () =>
    Effect.gen(function* () {
      const { handle, audited } = yield* setup(baseline)
      expect(yield* handle.driver.authZReq(ping)).toEqual({ Allow: true })
      expect(yield* handle.driver.authZReq(privileged)).toEqual({
        Allow: false,
        Msg: "privileged containers are not allowed (baseline policy)"
      })
      expect(yield* handle.driver.authZRes({ ...privileged, ResponseStatusCode: 201 })).toEqual({ Allow: true })
      expect(audited).toEqual([
        { user: "-", method: "GET", route: "_ping", rule: "default", decision: "allow" },
        {
          user: "-",
          method: "POST",
          route: "containers/create",
          rule: "no-privileged",
          decision: "deny",
          reason: "privileged containers are not allowed (baseline policy)"
        }
      ])
    })
  )

  it.effect("decides a query naming an object's built-in property by the rules, not as an internal error", () =>
    Effect.gen(function* () {
      const { handle, audited } = yield* setup(baseline)
      for (const query of ["constructor=1", "__proto__=1", "toString=1"]) {
        const answer = yield* handle.driver.authZReq({
          RequestMethod: "GET",
          RequestUri: `/v1.41/containers/json?${query}`
        })
        expect(answer).toEqual({ Allow: true })
      }
      expect(audited.map((entry) => `${entry.route} ${entry.rule}`)).toEqual(Array(3).fill("containers/json default"))
    })
  )

  it.effect("audits to the log by default: one logfmt line with user, route, rule and decision", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const logger = Logger.make((options) => void lines.push(Logger.formatLogFmt.log(options)))
      yield* AuthzPolicy.logAudit({
        user: "alice",
        method: "POST",
        route: "containers/create",
        rule: "no-privileged",
        decision: "deny",
        reason: "no privileged containers"
      }).pipe(Effect.provide(Logger.layer([logger])))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain('message="authz decision"')
      expect(lines[0]).toContain(
        'user=alice method=POST route=containers/create rule=no-privileged decision=deny reason="no privileged containers"'
      )
    })
  )
})

describe("reloading", () => {
  it.effect("a new valid policy takes effect; a bad one keeps the previous policy and logs why", () =>
    Effect.gen(function* () {
      const logs: Array<string> = []
      const { source, handle } = yield* setup(baseline).pipe(Effect.provide(collectLogs(logs)))
      yield* source.set("default: deny\nrules:\n  - { name: pings, decision: allow, routes: [_ping] }\n", false)
      expect(yield* handle.reload("SIGHUP")).toBe("loaded")
      expect((yield* handle.driver.authZReq({ RequestMethod: "GET", RequestUri: "/v1.41/info" })).Allow).toBe(false)
      expect((yield* handle.driver.authZReq(ping)).Allow).toBe(true)

      yield* source.set("default: allow\nrules:\n  - { name: x, decision: deny, privilged: true }\n", false)
      expect(yield* handle.reload("SIGHUP").pipe(Effect.provide(collectLogs(logs)))).toBe("kept-previous")
      expect(logs.at(-1)).toBe(
        "authz-policy: kept the previous policy (SIGHUP): invalid policy memory:policy.yaml: rules[0].privilged: unknown key"
      )
      expect((yield* handle.driver.authZReq({ RequestMethod: "GET", RequestUri: "/v1.41/info" })).Allow).toBe(false)

      yield* source.breakWith("EACCES: permission denied")
      expect(yield* handle.reload("file changed")).toBe("kept-previous")
      expect((yield* handle.status)._tag).toBe("Loaded")
    })
  )

  it.effect("with no policy at start every request is denied saying why, until a valid one arrives", () =>
    Effect.gen(function* () {
      const { source, handle, audited } = yield* setup(undefined)
      expect(yield* handle.driver.authZReq(ping)).toEqual({
        Allow: false,
        Msg: "authz-policy: no policy loaded: cannot read the policy memory:policy.yaml: no such file"
      })
      expect(audited.at(-1)).toMatchObject({ rule: "no-policy", decision: "deny" })
      yield* source.set("default: allow\nrules: [", false)
      expect(yield* handle.reload("SIGHUP")).toBe("still-missing")
      const denied = yield* handle.driver.authZReq(ping)
      expect(denied.Allow).toBe(false)
      expect(denied.Msg).toMatch(/^authz-policy: no policy loaded: invalid policy memory:policy.yaml: /)
      yield* source.set(baseline, false)
      expect(yield* handle.reload("SIGHUP")).toBe("loaded")
      expect((yield* handle.driver.authZReq(ping)).Allow).toBe(true)
    })
  )

  it.live("reloads by itself when the source announces a change", () =>
    Effect.gen(function* () {
      const { source, handle } = yield* setup("default: allow\nrules: []\n", { settle: "20 millis" })
      expect((yield* handle.driver.authZReq(ping)).Allow).toBe(true)
      yield* source.set("default: deny\nrules: []\n")
      let answer = yield* handle.driver.authZReq(ping)
      for (let i = 0; i < 100 && answer.Allow; i++) {
        yield* Effect.sleep("20 millis")
        answer = yield* handle.driver.authZReq(ping)
      }
      expect(answer.Allow).toBe(false)
    })
  )
})

describe("failing closed", () => {
  it.effect("an internal error while deciding denies with the reason, and is audited", () =>
    Effect.gen(function* () {
      const audited: Array<AuthzPolicy.AuditEntry> = []
      const { handle } = yield* setup(baseline, {
        audit: (entry) =>
          entry.rule === "internal-error"
            ? Effect.sync(() => void audited.push(entry))
            : Effect.die(new Error("disk full"))
      })
      const answer = yield* handle.driver.authZReq(ping)
      expect(answer).toEqual({ Allow: false, Msg: "authz-policy: internal error: disk full" })
      expect(audited).toEqual([
        {
          user: "-",
          method: "GET",
          route: "_ping",
          rule: "internal-error",
          decision: "deny",
          reason: "authz-policy: internal error: disk full"
        }
      ])
    })
  )

  it.effect("the Layer serves the same driver", () =>
    Effect.gen(function* () {
      const source = yield* PolicySourceMemory.make(baseline)
      const { Authorization } = yield* Effect.promise(() => import("@docker-plugin-kit/protocol"))
      const driver = yield* Authorization.Authorization.pipe(
        Effect.provide(
          AuthzPolicy.layer({ audit: () => Effect.void }).pipe(Layer.provide(PolicySourceMemory.layer(source)))
        )
      )
      expect((yield* driver.authZReq(privileged)).Allow).toBe(false)
    })
  )

  it.effect("a source that dies while loading at start is a policy not loaded, not a plugin that does not start", () =>
    Effect.gen(function* () {
      const audited: Array<AuthzPolicy.AuditEntry> = []
      const service: PolicySource.Service = {
        location: "broken:policy.yaml",
        read: Effect.die(new Error("descriptor table full")),
        changes: Stream.empty
      }
      const handle = yield* AuthzPolicy.make({
        settle: 0,
        audit: (entry) => Effect.sync(() => void audited.push(entry))
      }).pipe(Effect.provideService(PolicySource.PolicySource, service))
      expect(yield* handle.driver.authZReq(ping)).toEqual({
        Allow: false,
        Msg: "authz-policy: no policy loaded: invalid policy broken:policy.yaml: internal error while loading: descriptor table full"
      })
      expect(audited.at(-1)).toMatchObject({ rule: "no-policy", decision: "deny" })
    })
  )
})

describe("overlapping reloads", () => {
  it.effect("install the policies in the order the reloads started, the newest last", () =>
    Effect.gen(function* () {
      // A source whose reads finish when the test says: the first (slow) read sees the old text.
      let text = "default: allow\nrules: []\n"
      const gates: Array<Deferred.Deferred<void>> = []
      const service: PolicySource.Service = {
        location: "gated:policy.yaml",
        read: Effect.suspend(() => {
          const seen = text
          const gate = Deferred.makeUnsafe<void>()
          gates.push(gate)
          return Effect.as(Deferred.await(gate), seen)
        }),
        changes: Stream.empty
      }
      const starting = yield* Effect.forkChild(
        AuthzPolicy.make({ settle: 0, audit: () => Effect.void }).pipe(
          Effect.provideService(PolicySource.PolicySource, service)
        )
      )
      yield* Effect.yieldNow
      yield* Deferred.succeed(gates[0]!, undefined)
      const handle = yield* Fiber.join(starting)

      const slow = yield* Effect.forkChild(handle.reload("SIGHUP"))
      yield* Effect.yieldNow
      text = "default: deny\nrules: []\n"
      const fast = yield* Effect.forkChild(handle.reload("file changed"))
      yield* Effect.yieldNow
      // Without one reload at a time both are reading now: the newer read finishing first had the older text
      // installed after it. With it, the second reload reads only once the first is done.
      yield* Deferred.succeed(gates.at(-1)!, undefined)
      yield* Effect.yieldNow
      yield* Deferred.succeed(gates[1]!, undefined)
      for (let i = 0; i < 10 && gates.length < 3; i++) yield* Effect.yieldNow
      for (const gate of gates) yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(slow)
      yield* Fiber.join(fast)
      expect((yield* handle.driver.authZReq(ping)).Allow).toBe(false)
    })
  )
})
