/**
 * Conformance checks: what the daemon relies on, written once as Effects over a daemon-side client, so the same
 * suite runs against a driver Layer in-process, over a real socket, or against any running plugin. Each check
 * passes or fails with the offending request and response.
 *
 * Responses are judged strictly with the protocol Schemas (exact field names), even where the daemon is lenient:
 * a plugin that only works thanks to Go's case-insensitive decoding is one typo away from breaking.
 *
 * @since 0.1.0
 */
import type { PluginClient } from "@docker-plugin-kit/client"
import { type Endpoint, type PluginApi, WireCodec } from "@docker-plugin-kit/protocol"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"

/**
 * A check that failed; `exchange` is the offending request and what came back (no response when the plugin hung
 * up or never answered).
 *
 * @since 0.1.0
 */
export class CheckFailed extends Data.TaggedError("CheckFailed")<{
  readonly reason: string
  readonly request?: PluginClient.Exchange["request"]
  readonly response?: PluginClient.Exchange["response"]
}> {
  override get message() {
    return this.reason
  }
}

/**
 * What a check gets to work with.
 *
 * @since 0.1.0
 */
export interface Context {
  readonly client: PluginClient.PluginClient
  /** A fresh name for this run (`dpk-conformance-<run>-<label>`), so checks never collide with real data. */
  readonly unique: (label: string) => string
  readonly options: Options
}

/**
 * What the user tells the checks about the plugin under test, for checks that need real data of its own.
 *
 * @since 0.1.0
 */
export interface Options {
  /**
   * A secret the SecretProvider holds (`dpk probe --secret-name NAME`): its value is then judged, and failing to
   * answer it fails. Without it, the check asks for a fresh name, and a provider that fails that is not judged.
   */
  readonly secretName?: string | undefined
}

/**
 * How bad a failed check is: `error` fails the suite; `warning` is reported but does not.
 *
 * @since 0.1.0
 */
export type Severity = "error" | "warning"

/**
 * One check.
 *
 * @since 0.1.0
 */
export interface Check {
  readonly name: string
  readonly severity: Severity
  /** Why the daemon cares, shown with a failure. */
  readonly why: string
  /** The check itself: it fails with what the plugin got wrong. */
  readonly run: (context: Context) => Effect.Effect<void, CheckFailed, Scope.Scope>
}

/**
 * The checks of one plugin API.
 *
 * @since 0.1.0
 */
export interface Suite {
  readonly api: PluginApi.Any
  /** What kind of suite: `generic` (derived from the declarations) or, by default, the API's semantic suite. */
  readonly name?: string
  readonly checks: ReadonlyArray<Check>
}

/**
 * The outcome of one check.
 *
 * @since 0.1.0
 */
export interface Outcome {
  readonly check: string
  readonly status: "pass" | "fail" | "warn"
  readonly why: string
  readonly reason?: string
  readonly request?: PluginClient.Exchange["request"]
  readonly response?: PluginClient.Exchange["response"]
  readonly durationMs: number
}

/**
 * The outcomes of a suite against one plugin.
 *
 * @since 0.1.0
 */
export interface Report {
  readonly subsystem: string
  /** The suite's `name` (`generic`), absent for a semantic suite. */
  readonly suite?: string
  readonly target: string
  readonly outcomes: ReadonlyArray<Outcome>
  /** No check of severity `error` failed. */
  readonly passed: boolean
}

/**
 * Declares a check.
 *
 * @since 0.1.0
 */
export const check = (
  name: string,
  options: { readonly why: string; readonly severity?: Severity },
  run: Check["run"]
): Check => ({ name, why: options.why, severity: options.severity ?? "error", run })

/**
 * Sends a raw request to a path or an endpoint; a transport failure (hang-up, timeout) becomes a failed check
 * naming the request.
 *
 * @since 0.1.0
 */
export const send = (
  context: Context,
  path: string | Endpoint.Any,
  body?: unknown
): Effect.Effect<PluginClient.Exchange, CheckFailed> =>
  Effect.mapError(
    context.client.exchange(path, body),
    (e) =>
      new CheckFailed({
        reason: e._tag === "CallTimeout" ? `no answer within ${e.timeoutMs / 1000}s` : `no answer: ${e.reason}`,
        request: {
          path: typeof path === "string" ? path : path.path,
          body: body === undefined ? "" : typeof body === "string" ? body : `${JSON.stringify(body)}\n`
        }
      })
  )

/**
 * Fails the check with the exchange attached.
 *
 * @since 0.1.0
 */
export const fail = (exchange: PluginClient.Exchange, reason: string): Effect.Effect<never, CheckFailed> =>
  Effect.fail(new CheckFailed({ reason, request: exchange.request, response: exchange.response }))

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const decoders = new WeakMap<Endpoint.WireSchema, WireCodec.Decoder<unknown>>()
const decoderOf = (schema: Endpoint.WireSchema): WireCodec.Decoder<unknown> => {
  const hit = decoders.get(schema)
  if (hit !== undefined) return hit
  const decode = WireCodec.decoder(schema) as WireCodec.Decoder<unknown>
  decoders.set(schema, decode)
  return decode
}

const method = (endpoint: Endpoint.Any) => `${endpoint.api}.${endpoint.method}`

/** The other error field: the one the daemon does not read in a 200 answer of this endpoint. */
const otherField = (field: PluginApi.ErrorField): PluginApi.ErrorField => (field === "Err" ? "Error" : "Err")

/**
 * Expects a success: status 200, a JSON object, no error in the endpoint's error field (nor in the other one, which
 * the daemon would ignore), and a body that decodes with the endpoint's response schema. Returns the decoded body.
 *
 * @since 0.1.0
 */
export const expectSuccess = <E extends Endpoint.Any>(
  exchange: PluginClient.Exchange,
  endpoint: E,
  errorField: PluginApi.ErrorField = endpoint.errorField
): Effect.Effect<Endpoint.Output<E>, CheckFailed> => {
  const { status, body, text } = exchange.response
  const name = method(endpoint)
  if (status !== 200) {
    const err = isRecord(body) && typeof body[errorField] === "string" ? `: ${body[errorField]}` : ""
    return fail(exchange, `${name} failed with status ${status}${err}`)
  }
  // The daemon reads only the status (Engine 28+; see MetricsCollector): any 200 body, even an empty one, is fine.
  if (endpoint.response._tag === "Json" && endpoint.response.statusOnly === true) {
    return Effect.succeed({} as Endpoint.Output<E>)
  }
  if (!isRecord(body)) {
    return fail(exchange, `${name} answered ${text === "" ? "an empty body" : "a body that is not a JSON object"}`)
  }
  const err = body[errorField]
  if (typeof err === "string" && err !== "") return fail(exchange, `${name} failed: ${errorField} "${err}"`)
  const misplaced = wrongErrorField(exchange, endpoint, errorField)
  if (misplaced !== undefined) return misplaced
  if (endpoint.response._tag !== "Json") return Effect.succeed(body as Endpoint.Output<E>)
  const decoded = decoderOf(endpoint.response.schema)(body)
  return Result.isFailure(decoded)
    ? fail(exchange, `${name} answered a body that does not match the protocol: ${decoded.failure}`)
    : Effect.succeed(decoded.success as Endpoint.Output<E>)
}

/**
 * A failed check when a 200 answer carries a non-empty error in the field the daemon does not read for this
 * endpoint (`Err` from an IPAM plugin, `Error` from any other): the daemon takes it for a success.
 *
 * @since 0.1.0
 */
export const wrongErrorField = (
  exchange: PluginClient.Exchange,
  endpoint: Endpoint.Any,
  errorField: PluginApi.ErrorField = endpoint.errorField
): Effect.Effect<never, CheckFailed> | undefined => {
  const { status, body } = exchange.response
  const other = otherField(errorField)
  if (status !== 200 || !isRecord(body) || typeof body[other] !== "string" || body[other] === "") return undefined
  return fail(
    exchange,
    `${method(endpoint)} answered 200 with its error in "${other}", which the daemon ignores for ${endpoint.api} (a 200 answer carries errors in "${errorField}", any other status in "Err")`
  )
}

/**
 * Expects a clean failure as the daemon reads one: a 200 answer with a non-empty string in the endpoint's error
 * field (`Err`, or `Error` for IPAM), or any other status with a non-empty `Err` (the only field the daemon reads
 * then). `acceptAlso` may accept another answer (e.g. `{"Volume": null}` for Get).
 *
 * @since 0.1.0
 */
export const expectCleanFailure = (
  exchange: PluginClient.Exchange,
  endpoint: Endpoint.Any,
  options: { readonly errorField?: PluginApi.ErrorField; readonly acceptAlso?: (body: unknown) => boolean } = {}
): Effect.Effect<void, CheckFailed> => {
  const { status, body, text } = exchange.response
  const field = status === 200 ? (options.errorField ?? endpoint.errorField) : "Err"
  const name = method(endpoint)
  if (isRecord(body) && typeof body[field] === "string" && body[field] !== "") return Effect.void
  if (status === 200 && options.acceptAlso?.(body)) return Effect.void
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text
  if (status === 200) {
    return (
      wrongErrorField(exchange, endpoint, field) ??
      fail(exchange, `${name} should fail with ${field}, but answered success: ${shown || "(empty body)"}`)
    )
  }
  if (isRecord(body) && Object.keys(body).some((k) => k.toLowerCase() === field.toLowerCase())) {
    return fail(exchange, `${name} failed with status ${status} but its "${field}" is empty or misspelt: ${shown}`)
  }
  return fail(
    exchange,
    `${name} failed with status ${status} and no "${field}" in the body: ${shown || "(empty body)"}`
  )
}

/**
 * Runs one check with a fresh scope.
 *
 * @since 0.1.0
 */
export const runCheck = (check: Check, context: Context): Effect.Effect<Outcome> =>
  Effect.suspend(() => {
    const started = performance.now()
    return Effect.scoped(check.run(context)).pipe(
      Effect.match({
        onSuccess: (): Outcome => ({ check: check.name, status: "pass", why: check.why, durationMs: 0 }),
        onFailure: (e): Outcome => ({
          check: check.name,
          status: check.severity === "error" ? "fail" : "warn",
          why: check.why,
          reason: e.reason,
          ...(e.request === undefined ? {} : { request: e.request }),
          ...(e.response === undefined ? {} : { response: e.response }),
          durationMs: 0
        })
      }),
      Effect.map((o) => ({ ...o, durationMs: Math.round(performance.now() - started) }))
    )
  })

/**
 * A context over a client, with names unique to this run.
 *
 * @since 0.1.0
 */
export const context = (client: PluginClient.PluginClient, options: Options = {}): Context => {
  const run = Math.random().toString(36).slice(2, 8)
  let n = 0
  return { client, unique: (label) => `dpk-conformance-${run}-${label}-${++n}`, options }
}

/**
 * Runs every check of a suite, one after the other, against a client.
 *
 * @since 0.1.0
 */
export const run = (suite: Suite, client: PluginClient.PluginClient, options: Options = {}): Effect.Effect<Report> => {
  const ctx = context(client, options)
  return Effect.map(
    Effect.forEach(suite.checks, (c) => runCheck(c, ctx)),
    (outcomes) => ({
      subsystem: suite.api.subsystem,
      ...(suite.name === undefined ? {} : { suite: suite.name }),
      target: client.address,
      outcomes,
      passed: outcomes.every((o) => o.status !== "fail")
    })
  )
}
