import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as PolicyCommand from "../../src/commands/policy.ts"
import { dpk } from "../support.ts"

const baseline = Path.join(import.meta.dirname, "..", "..", "..", "..", "examples", "authz-policy", "baseline.yaml")
const privileged = JSON.stringify({ Image: "busybox", HostConfig: { Privileged: true } })

describe("dpk policy, in process", () => {
  it.effect("builds the AuthZReq body the daemon sends: JSON body in base64 with its content type, user by TLS", () =>
    Effect.gen(function* () {
      const raw = yield* PolicyCommand.requestOf({
        method: "post",
        uri: "/v1.41/containers/create?name=x",
        body: privileged,
        user: "alice"
      })
      expect(raw).toEqual({
        RequestMethod: "POST",
        RequestUri: "/v1.41/containers/create?name=x",
        User: "alice",
        UserAuthNMethod: "TLS",
        RequestBody: Buffer.from(privileged).toString("base64"),
        RequestHeaders: { "Content-Type": "application/json", "Content-Length": String(privileged.length) }
      })
      expect(yield* PolicyCommand.requestOf({ method: "GET", uri: "/_ping" })).toEqual({
        RequestMethod: "GET",
        RequestUri: "/_ping"
      })
    })
  )

  it.effect("says what is wrong with a request it cannot build", () =>
    Effect.gen(function* () {
      const reason = (input: PolicyCommand.RequestInput) =>
        Effect.map(Effect.flip(PolicyCommand.requestOf(input)), (e) => e.message)
      expect(yield* reason({})).toBe("give --uri (or --request FILE)")
      expect(yield* reason({ method: "GET", uri: "containers/json" })).toBe(
        "--uri must be a path such as /v1.41/containers/create, not containers/json"
      )
      expect(yield* reason({ method: "POST", uri: "/x", body: "{bad" })).toMatch(/^--body is not JSON \(/)
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-policy-request-"))
      try {
        Fs.writeFileSync(Path.join(dir, "wrong.json"), JSON.stringify({ RequestBody: "not base64!" }))
        expect(yield* reason({ request: Path.join(dir, "wrong.json") })).toMatch(
          /^--request is not an AuthZReq body: .*RequestBody/
        )
        expect(yield* reason({ request: Path.join(dir, "missing.json") })).toMatch(
          /^cannot read --request .*missing\.json: ENOENT/
        )
      } finally {
        Fs.rmSync(dir, { recursive: true, force: true })
      }
    })
  )

  it.effect(
    "declares an empty body on a POST without --body, as the CLI's Go client does and the daemon forwards",
    () =>
      Effect.gen(function* () {
        const uri = "/v1.41/services/abc/update?version=3"
        const built = yield* PolicyCommand.requestOf({ method: "POST", uri })
        expect(built.RequestHeaders).toEqual({ "Content-Length": "0" })
        expect((yield* PolicyCommand.requestOf({ uri: "/_ping" })).RequestHeaders).toBeUndefined()
        // The daemon's request for it, captured: the same decision (without the length, a rule reading the body of
        // such a route reads "not forwarded" and denies).
        const policy = yield* PolicyCommand.load(baseline)
        const daemon = {
          RequestMethod: "POST",
          RequestUri: uri,
          RequestHeaders: { "Content-Length": "0", "User-Agent": "Docker-Client/20.10.24 (linux)" }
        }
        const decided = yield* PolicyCommand.decide(policy, daemon)
        expect(decided.decision).toBe("allow")
        expect(yield* PolicyCommand.decide(policy, built)).toEqual(decided)
      })
  )

  it.effect("refuses flags that describe the request beside --request, which gives the whole of it", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        PolicyCommand.requestOf({ request: "req.json", method: "POST", uri: "/v1.41/containers/create", body: "{}" })
      )
      expect(error.message).toBe("--request gives the whole request: drop --method, --uri, --body, or --request")
    })
  )

  it.effect("decides as the plugin does, naming the route and the rule", () =>
    Effect.gen(function* () {
      const policy = yield* PolicyCommand.load(baseline)
      expect(PolicyCommand.summary("baseline.yaml", policy)).toMatch(
        /^baseline\.yaml: valid, \d+ rules, default allow$/
      )
      const denied = yield* PolicyCommand.decide(
        policy,
        yield* PolicyCommand.requestOf({ method: "POST", uri: "/v1.41/containers/create", body: privileged })
      )
      expect(denied).toEqual({
        decision: "deny",
        route: "containers/create",
        rule: "no-privileged",
        message: "privileged containers are not allowed (baseline policy)"
      })
      expect(PolicyCommand.describe(denied)).toBe(
        "deny (route containers/create, rule no-privileged): privileged containers are not allowed (baseline policy)"
      )
      const allowed = yield* PolicyCommand.decide(
        policy,
        yield* PolicyCommand.requestOf({ method: "GET", uri: "/v1.41/containers/abc/json" })
      )
      expect(PolicyCommand.describe(allowed)).toBe("allow (route containers/{id}/json, rule default)")
    })
  )
})

describe("dpk policy, as a user runs it", () => {
  it("check: prints each file's summary or its error, and exits non-zero if any is invalid", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-policy-check-"))
    try {
      const bad = Path.join(dir, "bad.yaml")
      Fs.writeFileSync(bad, "default: allow\nrules:\n  - { name: x, decision: maybe }\n")
      const good = dpk("policy", "check", baseline)
      expect(good.status).toBe(0)
      expect(good.stdout).toMatch(/baseline\.yaml: valid, \d+ rules, default allow\n$/)
      const mixed = dpk("policy", "check", baseline, bad)
      expect(mixed.status).not.toBe(0)
      expect(mixed.stderr).toContain(`${bad}: invalid policy ${bad}: rules[0].decision: Expected "allow" | "deny"`)
      expect(mixed.stderr).toContain("dpk policy: 1 of 2 policy files invalid")
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("decide: prints the decision, as JSON with --json, and fails when it is not the one --expect names", () => {
    const create = ["--method", "POST", "--uri", "/v1.41/containers/create", "--body", privileged]
    const denied = dpk("policy", "decide", baseline, ...create, "--expect", "deny", "--json")
    expect(denied.status).toBe(0)
    expect(JSON.parse(denied.stdout)).toMatchObject({ decision: "deny", rule: "no-privileged" })
    const wrong = dpk("policy", "decide", baseline, ...create, "--expect", "allow")
    expect(wrong.status).not.toBe(0)
    expect(wrong.stdout).toContain("deny (route containers/create, rule no-privileged)")
    expect(wrong.stderr).toContain("dpk policy: expected allow, the policy says deny")
  })
})
