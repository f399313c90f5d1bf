/**
 * The answers an authorization plugin gives, and the only ways to build them: `allow`, `deny(message)`, and
 * `error(reason)` (a failed call, which the daemon turns into a refused request).
 *
 * The daemon ignores `Err` in a 200 answer: `{"Allow": true, "Err": "policy broken"}` lets the request through.
 * So a decision is a branded value only these constructors make, an allow never carries text, a denial always
 * does, and `normalise`/`guard` refuse a hand-built answer that mixes an error into a 200 (it becomes a failed
 * call, never an allow).
 *
 * @since 0.1.0
 */
import { Authorization } from "@docker-plugin-kit/protocol"
import type * as Brand from "effect/Brand"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as AuthzRequest from "./AuthzRequest.ts"
import * as GoJson from "./internal/goJson.ts"

/**
 * An answer made by `allow` or `deny`.
 *
 * @since 0.1.0
 */
export type Decision = Authorization.AuthZResponse & Brand.Brand<"AuthzDecision">

/**
 * Let the request (or response) through.
 *
 * @since 0.1.0
 */
export const allow: Decision = { Allow: true } as Decision

/**
 * The text a denial carries when none was given: the daemon would otherwise show `authorization denied by plugin
 * NAME: ` with nothing after it.
 *
 * @since 0.1.0
 */
export const defaultDenialMessage = "denied by the authorization policy (no reason given)"

/**
 * Refuse the request; the user sees `authorization denied by plugin NAME: MESSAGE` (HTTP 403).
 *
 * @since 0.1.0
 */
export const deny = (message: string): Decision =>
  ({ Allow: false, Msg: message.trim() === "" ? defaultDenialMessage : message }) as Decision

/**
 * The plugin could not decide. Served as a non-200 answer with `Err`, which the daemon turns into HTTP 500
 * `plugin NAME failed with error: AuthZPlugin.AuthZReq: REASON`: the request is refused, never let through.
 *
 * @since 0.1.0
 */
export class AuthzFailure extends Schema.TaggedError<AuthzFailure>()("AuthzFailure", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

/**
 * Fail the call (see `AuthzFailure`).
 *
 * @since 0.1.0
 */
export const error = (reason: string): Effect.Effect<never, AuthzFailure> => Effect.fail(new AuthzFailure({ reason }))

/**
 * Checks an answer built by hand: an error text (`Err`, any case) makes it a failure whatever `Allow` says; only
 * `Allow: true` (a JSON boolean) allows; anything else denies, with a message.
 *
 * @since 0.1.0
 */
export const normalise = (answer: unknown): Result.Result<Decision, AuthzFailure> => {
  if (!GoJson.isObject(answer)) {
    return Result.fail(new AuthzFailure({ reason: `the driver answered ${JSON.stringify(answer)}, not a decision` }))
  }
  const err = GoJson.field(answer, "Err")
  if (typeof err === "string" && err !== "") return Result.fail(new AuthzFailure({ reason: err }))
  if (GoJson.field(answer, "Allow") === true) return Result.succeed(allow)
  const msg = GoJson.field(answer, "Msg")
  return Result.succeed(deny(typeof msg === "string" ? msg : ""))
}

/**
 * A driver whose answers all go through `normalise`, so no answer of it can be an allow with an error text.
 *
 * @since 0.1.0
 */
export const guard = (driver: Authorization.Driver): Authorization.Driver => {
  const checked =
    <I>(method: (input: I) => Effect.Effect<Authorization.AuthZResponse, any>) =>
    (input: I) =>
      Effect.flatMap(method(input), (answer) => Effect.fromResult(normalise(answer)))
  return Authorization.Authorization.of({
    authZReq: checked(driver.authZReq.bind(driver)),
    authZRes: checked(driver.authZRes.bind(driver))
  })
}

/**
 * The decisions of a plugin, on parsed requests. `response` defaults to allowing every response (the daemon
 * cannot hold back streamed responses anyway, so decisions belong on the request).
 *
 * @since 0.1.0
 */
export interface Handlers<E extends { readonly _tag: string; readonly message: string }> {
  /** Decides on a request before the daemon runs it. */
  readonly request: (request: AuthzRequest.AuthzRequest) => Effect.Effect<Decision, E>
  /** Decides on a response before the daemon returns it. */
  readonly response?: (
    request: AuthzRequest.AuthzRequest & { readonly response: AuthzRequest.Response }
  ) => Effect.Effect<Decision, E>
}

/**
 * A driver from decisions on parsed requests, guarded.
 *
 * @since 0.1.0
 */
export const make = <E extends { readonly _tag: string; readonly message: string }>(
  handlers: Handlers<E>
): Authorization.Driver =>
  guard(
    Authorization.Authorization.of({
      authZReq: (request) => handlers.request(AuthzRequest.fromRequest(request)),
      authZRes: (request) =>
        handlers.response === undefined
          ? Effect.succeed(allow)
          : handlers.response(AuthzRequest.fromResponseRequest(request))
    })
  )

/**
 * `make` as a Layer for the server.
 *
 * @since 0.1.0
 */
export const layer = <E extends { readonly _tag: string; readonly message: string }>(
  handlers: Handlers<E>
): Layer.Layer<Authorization.Authorization> => Layer.succeed(Authorization.Authorization, make(handlers))
