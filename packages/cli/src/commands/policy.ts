/**
 * `dpk policy`: an `authz-policy` policy file checked and tried without a daemon or a plugin.
 *
 * - `dpk policy check FILE...` reads and validates each file as the plugin loads it (same reader, same limits, same
 *   messages), for a CI step before a policy is deployed: a policy the plugin would refuse keeps the old one there,
 *   and only its log says why.
 * - `dpk policy decide FILE --method M --uri U [--body JSON] [--user NAME]` prints what the policy answers one Engine
 *   API request and which rule decided; `--request FILE` replays an `AuthZReq` body as the daemon sends it, and
 *   `--expect allow|deny` makes a mismatch fail, so a policy's intent can be tested in CI.
 *
 * @since 0.1.0
 */
import type { Policy as PolicyModule } from "@docker-plugin-kit/drivers"
import type { Authorization } from "@docker-plugin-kit/protocol"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Fs from "node:fs"

/**
 * A policy file did not pass `check`, or a policy did not decide what `decide --expect` said.
 *
 * @since 0.1.0
 */
export class PolicyCheckFailed extends Data.TaggedError("PolicyCheckFailed")<{ readonly summary: string }> {
  override get message() {
    return this.summary
  }
}

/**
 * The request given to `dpk policy decide` could not be built.
 *
 * @since 0.1.0
 */
export class BadRequest extends Data.TaggedError("BadRequest")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

const drivers = Effect.promise(() => import("@docker-plugin-kit/drivers"))

/**
 * Reads and parses one policy file as `dpk serve authz-policy` does.
 *
 * @since 0.1.0
 */
export const load = (file: string): Effect.Effect<PolicyModule.Policy, Error> =>
  Effect.flatMap(drivers, ({ Policy, PolicySourceNode }) => {
    const source = PolicySourceNode.make(file, { quiet: 0, watch: false })
    return Effect.flatMap(source.read, (text) => Effect.fromResult(Policy.parse(text, source.location)))
  })

/**
 * One line about a loaded policy.
 *
 * @since 0.1.0
 */
export const summary = (file: string, policy: PolicyModule.Policy): string => {
  const rules = policy.rules.length
  return `${file}: valid, ${rules} rule${rules === 1 ? "" : "s"}, default ${policy.default}`
}

const check = Command.make(
  "check",
  {
    files: Argument.String("file").pipe(Argument.withDescription("A policy file (YAML or JSON)"), Argument.atLeast(1))
  },
  ({ files }) =>
    Effect.gen(function* () {
      let invalid = 0
      for (const file of files) {
        const loaded = yield* Effect.result(load(file))
        if (loaded._tag === "Success") yield* Console.log(summary(file, loaded.success))
        else {
          invalid++
          yield* Console.error(`${file}: ${loaded.failure.message}`)
        }
      }
      if (invalid > 0) {
        return yield* new PolicyCheckFailed({ summary: `${invalid} of ${files.length} policy files invalid` })
      }
    })
).pipe(Command.withDescription("Validate policy files as authz-policy loads them; exits non-zero if any is invalid"))

/**
 * What `decide` is asked about: a request captured from the daemon, or one described by flags.
 *
 * @since 0.1.0
 */
export interface RequestInput {
  readonly request?: string | undefined
  /** Default `GET`. */
  readonly method?: string | undefined
  readonly uri?: string | undefined
  readonly body?: string | undefined
  readonly user?: string | undefined
}

/**
 * The `AuthZReq` body the daemon would send for `input`: read from `input.request` (a file, `-` for standard
 * input; no other field may be given then), or built from the method, URI, JSON body and user as the daemon builds
 * it for a request of the Docker CLI (the body base64 with its JSON content type and length, an empty body's length
 * on a POST, PUT or PATCH, the user with `TLS` as its authentication method).
 *
 * @since 0.1.0
 */
export const requestOf = (input: RequestInput): Effect.Effect<Authorization.AuthZRequest, BadRequest> =>
  Effect.gen(function* () {
    if (input.request !== undefined) {
      // The file is the whole request: a flag beside it would describe another one, and be ignored.
      const described = (["method", "uri", "body", "user"] as const).filter((key) => input[key] !== undefined)
      if (described.length > 0) {
        return yield* new BadRequest({
          reason: `--request gives the whole request: drop ${described.map((key) => `--${key}`).join(", ")}, or --request`
        })
      }
      const path = input.request === "-" ? 0 : input.request
      const text = yield* Effect.try({
        try: () => Fs.readFileSync(path, "utf8"),
        catch: (e) => new BadRequest({ reason: `cannot read --request ${input.request}: ${(e as Error).message}` })
      })
      const { Authorization, WireCodec } = yield* Effect.promise(() => import("@docker-plugin-kit/protocol"))
      const parsed = WireCodec.parseBody(text)
      if (parsed._tag === "Failure") return yield* new BadRequest({ reason: `--request: ${parsed.failure}` })
      const decoded = WireCodec.decoder(Authorization.AuthZRequest)(parsed.success)
      if (decoded._tag === "Failure") {
        return yield* new BadRequest({ reason: `--request is not an AuthZReq body: ${decoded.failure}` })
      }
      return decoded.success
    }
    if (input.uri === undefined) return yield* new BadRequest({ reason: "give --uri (or --request FILE)" })
    if (!input.uri.startsWith("/")) {
      return yield* new BadRequest({
        reason: `--uri must be a path such as /v1.41/containers/create, not ${input.uri}`
      })
    }
    if (input.body !== undefined) {
      try {
        JSON.parse(input.body)
      } catch (e) {
        return yield* new BadRequest({ reason: `--body is not JSON (${(e as Error).message})` })
      }
    }
    const method = (input.method ?? "GET").toUpperCase()
    // Go's HTTP client, the CLI's, declares an empty body on the methods that take one, and the daemon forwards the
    // headers: rules reading a body tell "none" from "not forwarded" by them.
    const headers: Record<string, string> | undefined =
      input.body !== undefined
        ? { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(input.body, "utf8")) }
        : method === "POST" || method === "PUT" || method === "PATCH"
          ? { "Content-Length": "0" }
          : undefined
    return {
      RequestMethod: method,
      RequestUri: input.uri,
      ...(input.user === undefined ? {} : { User: input.user, UserAuthNMethod: "TLS" }),
      ...(input.body === undefined ? {} : { RequestBody: Buffer.from(input.body, "utf8").toString("base64") }),
      ...(headers === undefined ? {} : { RequestHeaders: headers })
    }
  })

/**
 * A decision as `decide` prints it.
 *
 * @since 0.1.0
 */
export interface Decision {
  readonly decision: "allow" | "deny"
  readonly rule: string
  readonly message?: string
  /** The route the request matched, as rules name routes (`containers/create`), or its path when none. */
  readonly route: string
}

/**
 * What `policy` answers `raw`.
 *
 * @since 0.1.0
 */
export const decide = (policy: PolicyModule.Policy, raw: Authorization.AuthZRequest): Effect.Effect<Decision> =>
  Effect.gen(function* () {
    const { PolicyEval } = yield* drivers
    const { AuthzRequest } = yield* Effect.promise(() => import("@docker-plugin-kit/helpers"))
    const request = AuthzRequest.fromRequest(raw)
    const verdict = PolicyEval.decide(policy, request)
    return {
      decision: verdict.allow ? "allow" : "deny",
      rule: verdict.rule,
      ...(verdict.message === undefined ? {} : { message: verdict.message }),
      route: request.route.template ?? request.route.path
    }
  })

/**
 * A decision as one line of text.
 *
 * @since 0.1.0
 */
export const describe = (d: Decision): string =>
  `${d.decision} (route ${d.route}, rule ${d.rule})${d.message === undefined ? "" : `: ${d.message}`}`

const decideCommand = Command.make(
  "decide",
  {
    file: Argument.String("file").pipe(Argument.withDescription("The policy file (YAML or JSON)")),
    request: Flag.String("request").pipe(
      Flag.withDescription("An AuthZReq body as the daemon sends it, in a file (- for standard input)"),
      Flag.optional
    ),
    method: Flag.String("method").pipe(Flag.withDescription("The request's HTTP method (default GET)"), Flag.optional),
    uri: Flag.String("uri").pipe(
      Flag.withDescription("The request's path and query, as the daemon gets it: /v1.41/containers/create?name=x"),
      Flag.optional
    ),
    body: Flag.String("body").pipe(Flag.withDescription("The request's JSON body"), Flag.optional),
    user: Flag.String("user").pipe(
      Flag.withDescription("The user (a TLS client certificate's common name); none by default"),
      Flag.optional
    ),
    expect: Flag.Literals("expect", ["allow", "deny"]).pipe(
      Flag.withDescription("Fail (exit non-zero) unless the policy decides this"),
      Flag.optional
    ),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON"), Flag.withDefault(false))
  },
  (values) =>
    Effect.gen(function* () {
      const raw = yield* requestOf({
        request: Option.getOrUndefined(values.request),
        method: Option.getOrUndefined(values.method),
        uri: Option.getOrUndefined(values.uri),
        body: Option.getOrUndefined(values.body),
        user: Option.getOrUndefined(values.user)
      })
      const policy = yield* load(values.file)
      const decision = yield* decide(policy, raw)
      yield* Console.log(values.json ? JSON.stringify(decision) : describe(decision))
      if (Option.isSome(values.expect) && values.expect.value !== decision.decision) {
        return yield* new PolicyCheckFailed({
          summary: `expected ${values.expect.value}, the policy says ${decision.decision}`
        })
      }
    })
).pipe(Command.withDescription("Print what a policy answers one Engine API request, and which rule decided"))

/**
 * The command.
 *
 * @since 0.1.0
 */
export const command = Command.make("policy").pipe(
  Command.withDescription("Check authz-policy policy files, and try them on requests, without a daemon"),
  Command.withSubcommands([check, decideCommand])
)
