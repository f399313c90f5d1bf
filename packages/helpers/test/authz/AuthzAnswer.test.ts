import { AuthzAnswer } from "@docker-plugin-kit/helpers"
import { Authorization } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as Result from "effect/Result"

const b64 = (text: string) => Buffer.from(text).toString("base64")

describe("AuthzAnswer constructors", () => {
  it("allow carries no text; deny always carries one", () => {
    expect(AuthzAnswer.allow).toEqual({ Allow: true })
    expect(AuthzAnswer.deny("no privileged containers")).toEqual({ Allow: false, Msg: "no privileged containers" })
    expect(AuthzAnswer.deny("  ")).toEqual({ Allow: false, Msg: AuthzAnswer.defaultDenialMessage })
  })

  it.effect("error fails the call with the reason", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(AuthzAnswer.error("policy file unreadable"))
      expect(exit).toEqual(Exit.fail(new AuthzAnswer.AuthzFailure({ reason: "policy file unreadable" })))
    })
  )
})

describe("AuthzAnswer.normalise", () => {
  it("turns an allow that carries an error text into a failure, never an allow", () => {
    const mixed = AuthzAnswer.normalise({ Allow: true, Err: "policy broken" })
    expect(Result.isFailure(mixed) && mixed.failure.reason).toBe("policy broken")
    const lower = AuthzAnswer.normalise({ allow: true, err: "x" })
    expect(Result.isFailure(lower)).toBe(true)
  })

  it("allows only a JSON true; anything else denies with a message", () => {
    expect(AuthzAnswer.normalise({ Allow: true, Msg: "ignored" })).toEqual(Result.succeed(AuthzAnswer.allow))
    expect(AuthzAnswer.normalise({ Allow: "true" })).toEqual(Result.succeed(AuthzAnswer.deny("")))
    expect(AuthzAnswer.normalise({ Allow: false, Msg: "no" })).toEqual(Result.succeed(AuthzAnswer.deny("no")))
    expect(AuthzAnswer.normalise({ Allow: true, Err: "" })).toEqual(Result.succeed(AuthzAnswer.allow))
    expect(Result.isFailure(AuthzAnswer.normalise(null))).toBe(true)
  })
})

describe("AuthzAnswer.make and guard", () => {
  it.effect("hands parsed requests to the decisions and allows responses by default", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const driver = AuthzAnswer.make({
        request: (request) =>
          Effect.sync(() => {
            seen.push(`${request.method} ${request.route.template}`)
            return request.body._tag === "Json" ? AuthzAnswer.deny("no bodies") : AuthzAnswer.allow
          })
      })
      expect(yield* driver.authZReq({ RequestMethod: "GET", RequestUri: "/v1.41/containers/json" })).toEqual({
        Allow: true
      })
      expect(
        yield* driver.authZReq({
          RequestMethod: "POST",
          RequestUri: "/v1.41/containers/create",
          RequestHeaders: { "Content-Type": "application/json" },
          RequestBody: b64("{}")
        })
      ).toEqual({ Allow: false, Msg: "no bodies" })
      expect(yield* driver.authZRes({ RequestUri: "/v1.41/version", ResponseStatusCode: 200 })).toEqual({ Allow: true })
      expect(seen).toEqual(["GET containers/json", "POST containers/create"])
    })
  )

  it.effect("a guarded hand-written driver cannot answer an allow with an error text", () =>
    Effect.gen(function* () {
      const careless = Authorization.Authorization.of({
        authZReq: () => Effect.succeed({ Allow: true, Err: "could not evaluate" } as Authorization.AuthZResponse),
        authZRes: () => Effect.succeed({ Allow: true })
      })
      const guarded = AuthzAnswer.guard(careless)
      const exit = yield* Effect.exit(guarded.authZReq({}))
      expect(exit).toEqual(Exit.fail(new AuthzAnswer.AuthzFailure({ reason: "could not evaluate" })))
      expect(yield* guarded.authZRes({})).toEqual({ Allow: true })
    })
  )
})
