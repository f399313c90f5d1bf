/**
 * The AuthZPlugin conformance suite: what the daemon relies on (protocol/authorization.md), checked with the
 * requests Engine 20.10 sends. A suite cannot know the plugin's policy, so it checks the shape and safety of its
 * answers, not which requests it allows:
 *
 * - every request the daemon can send gets a decision (200 with a boolean `Allow`), or a clean failure where a
 *   failure is acceptable: the plugin never breaks on absent fields, withheld or non-JSON bodies, TLS users;
 * - no answer carries an error text in a 200 (the daemon ignores it: with `Allow: true` the request goes through);
 * - a denial carries a message (the user would otherwise read `authorization denied by plugin NAME: `).
 * - AuthZRes does not deny the answer to a create AuthZReq allowed (the daemon has carried it out by then).
 *
 * @since 0.1.0
 */
import type { PluginClient } from "@docker-plugin-kit/client"
import { Authorization } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Conformance from "./Conformance.ts"

const E = Authorization.Api.endpoints

const b64 = (text: string) => Buffer.from(text).toString("base64")

/** `value` with every object key in lower case: Go's JSON decoding matches field names case-insensitively. */
const lowerKeys = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(lowerKeys)
    : typeof value === "object" && value !== null
      ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k.toLowerCase(), lowerKeys(v)]))
      : value

/** The body of `docker run --privileged -v /:/host busybox`. */
const dangerousBody = {
  Image: "busybox",
  HostConfig: { Privileged: true, Binds: ["/:/host"], CapAdd: ["ALL"], PidMode: "host", NetworkMode: "host" }
}

/** The headers the 20.10 CLI sends with a JSON body. */
const jsonHeaders = (length: number) => ({
  "Content-Length": String(length),
  "Content-Type": "application/json",
  "User-Agent": "Docker-Client/20.10.24 (linux)"
})

const withJson = (
  method: string,
  uri: string,
  body: unknown,
  text = `${JSON.stringify(body)}\n`
): Authorization.AuthZRequest => {
  return {
    RequestMethod: method,
    RequestUri: uri,
    RequestBody: b64(text),
    RequestHeaders: jsonHeaders(Buffer.byteLength(text))
  }
}

/**
 * Requests the daemon sends, as `AuthZReq` bodies.
 *
 * @since 0.1.0
 */
export const requests = {
  /** `HEAD /_ping`: the CLI's first call of every command. */
  ping: {
    RequestMethod: "HEAD",
    RequestUri: "/_ping",
    RequestHeaders: { "User-Agent": "Docker-Client/20.10.24 (linux)" }
  },
  /** `docker run busybox true`: the create call. */
  create: withJson("POST", "/v1.41/containers/create", {
    Image: "busybox",
    Cmd: ["true"],
    HostConfig: { NetworkMode: "default", Binds: null, CapAdd: null, Privileged: false }
  }),
  /** `docker run --privileged -v /:/host busybox`: what a policy is most likely to deny. */
  dangerous: withJson("POST", "/v1.41/containers/create", dangerousBody),
  /**
   * The same create as the daemon reads it, in bodies a strict JSON parser reads differently: keys in lower case
   * (Go matches field names case-insensitively), and a stray `}` after the object (the daemon decodes the first
   * JSON value and, up to Engine 23, ignores what follows; later ones only refuse content that starts a new value).
   */
  dangerousLowerCase: withJson("POST", "/v1.41/containers/create", lowerKeys(dangerousBody)),
  dangerousTrailing: withJson("POST", "/v1.41/containers/create", dangerousBody, `${JSON.stringify(dangerousBody)}}\n`),
  /** A JSON create whose body the daemon did not forward (1 MiB or more). */
  withheld: {
    RequestMethod: "POST",
    RequestUri: "/v1.41/containers/create",
    RequestHeaders: { "Content-Type": "application/json", "User-Agent": "Docker-Client/20.10.24 (linux)" }
  },
  /** `docker cp FILE c:/tmp`: a tar upload, whose body is never forwarded. */
  copyIn: {
    RequestMethod: "PUT",
    RequestUri: "/v1.41/containers/c1/archive?noOverwriteDirNonDir=true&path=%2Ftmp",
    RequestHeaders: { "Content-Type": "application/x-tar", "User-Agent": "Docker-Client/20.10.24 (linux)" }
  },
  /** A request from a TLS client: user, method and certificate. */
  tlsUser: {
    User: "conformance-user",
    UserAuthNMethod: "TLS",
    RequestMethod: "GET",
    RequestUri: "/v1.41/containers/json",
    RequestHeaders: { "User-Agent": "Docker-Client/20.10.24 (linux)" },
    RequestPeerCertificates: [b64("-----BEGIN CERTIFICATE-----\nMIIBconformance\n-----END CERTIFICATE-----\n")]
  }
} satisfies Record<string, Authorization.AuthZRequest>

/**
 * A decision as the daemon reads it.
 *
 * @since 0.1.0
 */
export interface Decision {
  readonly allow: boolean
  readonly msg: string
}

/** The `AuthZRes` body of `requests.create` answered 201 with the new container's ID. */
const createdResponse: Authorization.AuthZResponseRequest = {
  ...requests.create,
  ResponseStatusCode: 201,
  ResponseHeaders: { "Api-Version": "1.41", "Content-Type": "application/json", Server: "Docker/20.10.24" },
  ResponseBody: b64('{"Id":"0123456789ab","Warnings":[]}\n')
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Expects a decision: status 200, a JSON object with a boolean `Allow`, an optional string `Msg`, and no error text
 * (the daemon ignores `Err` in a 200). `allowFailure` accepts a clean refusal (non-200 with `Err`) instead, and
 * answers `undefined` then.
 *
 * @since 0.1.0
 */
export const expectDecision = (
  exchange: PluginClient.Exchange,
  options: { readonly allowFailure?: boolean } = {}
): Effect.Effect<Decision | undefined, Conformance.CheckFailed> => {
  const { status, body } = exchange.response
  const name = exchange.request.path.slice(1)
  if (status !== 200) {
    if (options.allowFailure === true) {
      return isRecord(body) && typeof body.Err === "string" && body.Err !== ""
        ? Effect.succeed(undefined)
        : Conformance.fail(exchange, `${name} failed with status ${status} and no "Err" saying why`)
    }
    const err = isRecord(body) && typeof body.Err === "string" ? `: ${body.Err}` : ""
    return Conformance.fail(
      exchange,
      `${name} failed with status ${status}${err}; the daemon refuses the request (500) instead of deciding it`
    )
  }
  if (!isRecord(body)) return Conformance.fail(exchange, `${name} answered a body that is not a JSON object`)
  const errKey = Object.keys(body).find((k) => k.toLowerCase() === "err")
  const err = errKey === undefined ? undefined : body[errKey]
  if (typeof err === "string" && err !== "") {
    return Conformance.fail(
      exchange,
      body.Allow === true
        ? `${name} answered Allow: true with Err "${err}": the daemon ignores Err in a 200 and lets the request through; report a failure with a non-200 status`
        : `${name} answered 200 with Err "${err}": the daemon ignores it and the user sees no reason; deny with Msg, or fail with a non-200 status`
    )
  }
  if (typeof body.Allow !== "boolean") {
    return Conformance.fail(
      exchange,
      `${name} answered without a boolean "Allow" (exact spelling): ${exchange.response.text.trim().slice(0, 80)}`
    )
  }
  if (body.Msg !== undefined && typeof body.Msg !== "string") {
    return Conformance.fail(exchange, `${name} answered a "Msg" that is not a string`)
  }
  return Effect.succeed({ allow: body.Allow, msg: typeof body.Msg === "string" ? body.Msg : "" })
}

const decided = (context: Conformance.Context, request: Authorization.AuthZRequest) =>
  Effect.flatMap(Conformance.send(context, E.authZReq.path, request), (ex) =>
    Effect.map(expectDecision(ex), (decision) => ({ ex, decision: decision! }))
  )

const responseDecided = (context: Conformance.Context, request: Authorization.AuthZResponseRequest) =>
  Effect.asVoid(Effect.flatMap(Conformance.send(context, E.authZRes.path, request), (ex) => expectDecision(ex)))

/** A check that a request gets a decision. */
const decides = (name: string, why: string, request: Authorization.AuthZRequest) =>
  Conformance.check(name, { why }, (context) => Effect.asVoid(decided(context, request)))

/**
 * Every AuthZPlugin check (activation is checked by the generic suite every API gets).
 *
 * @since 0.1.0
 */
export const checks: ReadonlyArray<Conformance.Check> = [
  decides(
    "AuthZReq decides HEAD /_ping",
    "Every docker command starts with a ping; an answer other than a decision breaks every command.",
    requests.ping
  ),
  decides(
    "AuthZReq decides a container create with its JSON body",
    "docker run sends POST /vX.Y/containers/create with a base64 JSON body; the plugin must read it.",
    requests.create
  ),
  Conformance.check(
    "A denial carries a message",
    {
      why: "The user reads `authorization denied by plugin NAME: MSG`; an empty Msg leaves them with no reason. (The requests include a privileged container mounting /; allowing any of them is the policy's choice.)"
    },
    (context) =>
      Effect.gen(function* () {
        const { ex, decision } = yield* decided(context, requests.dangerous)
        if (!decision.allow && decision.msg.trim() === "") yield* Conformance.fail(ex, "denied with an empty Msg")
        // The others, where a default or fallback denial may have no message. An answer that is not a decision is
        // left to the check that sends that request.
        for (const request of [requests.ping, requests.create, requests.copyIn, requests.tlsUser]) {
          const other = yield* Conformance.send(context, E.authZReq.path, request)
          const { status, body } = other.response
          const msg = isRecord(body) && typeof body.Msg === "string" ? body.Msg : ""
          if (status === 200 && isRecord(body) && body.Allow === false && msg.trim() === "") {
            yield* Conformance.fail(other, `denied ${request.RequestMethod} ${request.RequestUri} with an empty Msg`)
          }
        }
      })
  ),
  Conformance.check(
    "AuthZReq never allows a container create whose body it could not see, unless it allows everything",
    {
      why: "The daemon does not forward JSON bodies of 1 MiB or more; a plugin that treats no body as an empty body lets a privileged container through. Denying or failing is safe."
    },
    (context) =>
      Effect.gen(function* () {
        const ex = yield* Conformance.send(context, E.authZReq.path, requests.withheld)
        const withheld = yield* expectDecision(ex, { allowFailure: true })
        if (withheld === undefined || !withheld.allow) return
        const dangerous = yield* decided(context, requests.dangerous)
        if (!dangerous.decision.allow) {
          yield* Conformance.fail(
            ex,
            "a create without its body was allowed, though the same plugin denies a privileged create: the body was read as empty, not as unknown"
          )
        }
      })
  ),
  Conformance.check(
    "AuthZReq reads a container create body as the daemon does (keys in any case, a stray } after it)",
    {
      why: "The daemon decodes the body with Go: field names match in any case, and a } after the JSON object is ignored. A plugin that denies a privileged create must deny it in those spellings too, or a client gets the same privileged container past it. Denying or failing is safe."
    },
    (context) =>
      Effect.gen(function* () {
        const dangerous = yield* decided(context, requests.dangerous)
        if (dangerous.decision.allow) return
        for (const [request, spelling] of [
          [requests.dangerousLowerCase, "with its keys in lower case"],
          [requests.dangerousTrailing, "followed by a stray }"]
        ] as const) {
          const ex = yield* Conformance.send(context, E.authZReq.path, request)
          const variant = yield* expectDecision(ex, { allowFailure: true })
          if (variant?.allow) {
            yield* Conformance.fail(
              ex,
              `a privileged create is denied, but allowed ${spelling}, which the daemon reads as the same privileged create`
            )
          }
        }
      })
  ),
  decides(
    "AuthZReq decides a tar upload (docker cp) without a body",
    "docker cp, docker load and docker build send non-JSON bodies the daemon never forwards; a plugin that fails on them breaks those commands.",
    requests.copyIn
  ),
  decides(
    "AuthZReq decides a request from a TLS user with a certificate",
    "With TLS client authentication the daemon adds User, UserAuthNMethod and RequestPeerCertificates.",
    requests.tlsUser
  ),
  decides(
    "AuthZReq tolerates fields it does not know",
    "Newer daemons may add fields; Go plugins ignore unknown keys.",
    { ...requests.ping, RequestFutureField: { x: 1 } } as never
  ),
  Conformance.check(
    "AuthZReq answers the same request the same way",
    {
      why: "The daemon asks again for every API call; a decision that flips without a policy change is a bug.",
      severity: "warning"
    },
    (context) =>
      Effect.gen(function* () {
        const first = yield* decided(context, requests.create)
        const second = yield* decided(context, requests.create)
        if (first.decision.allow !== second.decision.allow) {
          yield* Conformance.fail(second.ex, "the same create was allowed once and denied once")
        }
      })
  ),
  Conformance.check(
    "AuthZRes lets through the response of a container create that AuthZReq allowed",
    {
      why: "The daemon runs AuthZRes after the handler: the container already exists when its 201 answer is denied, and the user is told the create was refused while it was done. Deny in AuthZReq; AuthZRes may only hold back what a response shows. (A create AuthZReq denies is not judged.)"
    },
    (context) =>
      Effect.gen(function* () {
        const request = yield* decided(context, requests.create)
        if (!request.decision.allow) return
        const ex = yield* Conformance.send(context, E.authZRes.path, createdResponse)
        const response = yield* expectDecision(ex)
        if (response !== undefined && !response.allow) {
          yield* Conformance.fail(
            ex,
            `AuthZReq allowed a container create, then AuthZRes denied its 201 answer${response.msg === "" ? "" : ` ("${response.msg}")`}: the container exists, and the user is told it was refused`
          )
        }
      })
  ),
  Conformance.check(
    "AuthZRes decides a buffered JSON response",
    { why: "After handling a request the daemon sends its response (status, headers, base64 JSON body) to AuthZRes." },
    (context) => responseDecided(context, createdResponse)
  ),
  Conformance.check(
    "AuthZRes decides a streamed response without status or body",
    { why: "For streams (docker events, logs -f, attach) the response is flushed first: AuthZRes gets no status." },
    (context) =>
      responseDecided(context, {
        RequestMethod: "GET",
        RequestUri: "/v1.41/events",
        RequestHeaders: { "User-Agent": "Docker-Client/20.10.24 (linux)" }
      })
  )
]

/**
 * The suite.
 *
 * @since 0.1.0
 */
export const suite: Conformance.Suite = { api: Authorization.Api, checks }
