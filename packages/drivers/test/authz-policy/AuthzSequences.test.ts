/**
 * The daemon's authorization hooks replayed by the fake daemon against authz-policy with the shipped baseline,
 * a chain of two plugins, and plugins that answer what the daemon reads in surprising ways.
 */
import { AuthzPolicy, PolicySourceMemory } from "@docker-plugin-kit/drivers"
import { AuthzAnswer } from "@docker-plugin-kit/helpers"
import { Authorization } from "@docker-plugin-kit/protocol"
import { AuthzSequences, ConformanceSuites } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"
import { rawPlugin } from "./support.ts"

const baseline = Fs.readFileSync(
  fileURLToPath(new URL("../../../../examples/authz-policy/baseline.yaml", import.meta.url)),
  "utf8"
)

const policyPlugin = (name: string, text: string) =>
  Effect.gen(function* () {
    const source = yield* PolicySourceMemory.make(text)
    const client = yield* ConformanceSuites.inProcess(
      AuthzPolicy.layer({ audit: () => Effect.void }).pipe(Layer.provide(PolicySourceMemory.layer(source)))
    )
    return { name, client }
  })

const daemonWith = (...plugins: ReadonlyArray<AuthzSequences.ChainedPlugin>) => AuthzSequences.make(plugins)

describe("the fake daemon with authz-policy and the baseline", () => {
  it.live("starts, and lets ordinary commands through", () =>
    Effect.gen(function* () {
      const daemon = yield* daemonWith(yield* policyPlugin("policy", baseline))
      expect(yield* daemon.start).toEqual({})
      const run = yield* daemon.command("docker run busybox", AuthzSequences.commands.run("busybox"))
      expect(run.error).toBeUndefined()
      expect(run.outcomes.map((o) => o.status)).toEqual([200, 201, 204])
      expect(run.outcomes.flatMap((o) => o.calls.map((c) => `${c.step} ${c.outcome}`))).toEqual([
        "AuthZReq allow",
        "AuthZRes allow",
        "AuthZReq allow",
        "AuthZRes allow",
        "AuthZReq allow",
        "AuthZRes allow"
      ])
      const tar = new Uint8Array(10 * 1024 * 1024)
      const copy = yield* daemon.command("docker cp", AuthzSequences.commands.copyIn("c0ffee", tar))
      expect(copy.error).toBeUndefined()
      // The tar upload is not JSON: the daemon forwards no body, only its content type.
      const put = copy.outcomes[1]!.calls[0]!
      expect(JSON.parse(put.request.body)).toMatchObject({
        RequestMethod: "PUT",
        RequestHeaders: { "Content-Type": "application/x-tar", "Content-Length": String(tar.length) }
      })
      expect(JSON.parse(put.request.body).RequestBody).toBeUndefined()
      expect((yield* daemon.command("docker events", AuthzSequences.commands.events)).error).toBeUndefined()
      expect((yield* daemon.command("docker load", AuthzSequences.commands.load(tar))).error).toBeUndefined()
    })
  )

  it.live("denies docker run --privileged and forbidden bind mounts with the policy's message", () =>
    Effect.gen(function* () {
      const daemon = yield* daemonWith(yield* policyPlugin("baseline-authz", baseline))
      const privileged = yield* daemon.command(
        "docker run --privileged busybox",
        AuthzSequences.commands.run("busybox", { Privileged: true })
      )
      expect(privileged.error).toBe(
        "Error response from daemon: authorization denied by plugin baseline-authz: privileged containers are not allowed (baseline policy)"
      )
      // Stopped at the create: the start was never sent.
      expect(privileged.outcomes.map((o) => o.status)).toEqual([200, 403])
      const mount = yield* daemon.command(
        "docker run -v /etc:/e busybox",
        AuthzSequences.commands.run("busybox", { Binds: ["/etc:/e"] })
      )
      expect(mount.error).toBe(
        "Error response from daemon: authorization denied by plugin baseline-authz: bind mounts of /, /etc and the Docker socket are not allowed (baseline policy)"
      )
    })
  )

  it.live("a JSON body of 1 MiB or more is not forwarded, and the policy then denies rather than guesses", () =>
    Effect.gen(function* () {
      const daemon = yield* daemonWith(yield* policyPlugin("policy", baseline))
      const outcome = yield* daemon.call({
        method: "POST",
        uri: "/v1.41/containers/create",
        body: { _tag: "Json", value: { Image: "busybox", Labels: { padding: "x".repeat(1024 * 1024) } } }
      })
      expect(outcome.status).toBe(403)
      expect(outcome.error).toMatch(
        /^authorization denied by plugin policy: rule no-privileged needs the request: cannot read the body of POST containers\/create: the daemon did not forward the JSON body/
      )
      expect(JSON.parse(outcome.calls[0]!.request.body).RequestBody).toBeUndefined()
    })
  )

  it("never forwards /auth bodies nor credential headers", () => {
    const request = AuthzSequences.authZRequestOf({
      method: "POST",
      uri: "/v1.41/auth",
      headers: { "X-Registry-Auth": "secret", Authorization: "Bearer t" },
      body: { _tag: "Json", value: { username: "u", password: "p" } }
    })
    expect(request.RequestBody).toBeUndefined()
    expect(Object.keys(request.RequestHeaders ?? {}).sort()).toEqual(["Content-Length", "Content-Type", "User-Agent"])
  })
})

describe("the chain and the daemon's reading of answers", () => {
  it.live("asks each plugin in order; the first denial stops the request and names its plugin", () =>
    Effect.gen(function* () {
      const first = yield* policyPlugin("first", baseline)
      const second = yield* policyPlugin(
        "second",
        "default: deny\ndefaultMessage: read-only daemon\nrules:\n  - { name: reads, decision: allow, methods: [GET, HEAD] }\n"
      )
      const daemon = yield* daemonWith(first, second)
      const run = yield* daemon.command("docker run", AuthzSequences.commands.run("busybox"))
      expect(run.error).toBe("Error response from daemon: authorization denied by plugin second: read-only daemon")
      expect(run.outcomes[1]!.calls.map((c) => `${c.plugin} ${c.step}`)).toEqual(["first AuthZReq", "second AuthZReq"])
    })
  )

  it.live("an answer of Allow: true with an Err is an allow, as the daemon reads it", () =>
    Effect.gen(function* () {
      const careless = yield* rawPlugin(() => ({ Allow: true, Err: "policy could not be evaluated" }))
      const client = yield* ConformanceSuites.running(careless.socket)
      const daemon = yield* daemonWith({ name: "careless", client })
      const outcome = yield* daemon.call(
        { method: "POST", uri: "/v1.41/containers/create", body: { _tag: "Json", value: {} } },
        { status: 201, body: "{}" }
      )
      expect(outcome).toMatchObject({ status: 201 })
      expect(outcome.error).toBeUndefined()
      expect(outcome.calls.map((c) => c.outcome)).toEqual(["allow", "allow"])
    })
  )

  it.live("a failed plugin call refuses the request with 500; a guarded driver's error becomes exactly that", () =>
    Effect.gen(function* () {
      const failing = yield* rawPlugin(
        () => ({ Err: "policy store unreachable" }),
        () => 500
      )
      const daemon = yield* daemonWith({ name: "failing", client: yield* ConformanceSuites.running(failing.socket) })
      expect(yield* daemon.call({ method: "GET", uri: "/v1.41/info" })).toMatchObject({
        status: 500,
        error: "plugin failing failed with error: AuthZPlugin.AuthZReq: policy store unreachable"
      })
      const careless = AuthzAnswer.guard(
        Authorization.Authorization.of({
          authZReq: () => Effect.succeed({ Allow: true, Err: "could not evaluate" } as Authorization.AuthZResponse),
          authZRes: () => Effect.succeed({ Allow: true })
        })
      )
      const guarded = yield* ConformanceSuites.inProcess(Layer.succeed(Authorization.Authorization, careless))
      const refused = yield* (yield* daemonWith({ name: "guarded", client: guarded })).call({
        method: "GET",
        uri: "/v1.41/info"
      })
      expect(refused).toMatchObject({
        status: 500,
        error: "plugin guarded failed with error: AuthZPlugin.AuthZReq: could not evaluate"
      })
    })
  )

  it.live("a denial of a streamed response cannot hold it back", () =>
    Effect.gen(function* () {
      const denyResponses = yield* ConformanceSuites.inProcess(
        AuthzAnswer.layer({
          request: () => Effect.succeed(AuthzAnswer.allow),
          response: () => Effect.succeed(AuthzAnswer.deny("no responses"))
        })
      )
      const daemon = yield* daemonWith({ name: "res", client: denyResponses })
      expect(
        (yield* daemon.call({ method: "GET", uri: "/v1.41/events" }, { status: 200, streamed: true })).status
      ).toBe(200)
      expect(yield* daemon.call({ method: "GET", uri: "/v1.41/version" })).toMatchObject({
        status: 403,
        error: "authorization denied by plugin res: no responses"
      })
    })
  )
})
