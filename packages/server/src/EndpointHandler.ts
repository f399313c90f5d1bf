/**
 * Turns one endpoint declaration and the driver method behind it into an HTTP handler: decode the body with the
 * endpoint's schema, call the driver under a deadline, encode the answer, and map every failure to `{"Err"}`.
 *
 * The hot path is written with plain combinators (no generators, decoders built once) because small calls such as
 * `VolumeDriver.Get` are what the daemon sends most.
 *
 * @since 0.1.0
 */
import type { BodyError, DriverFailure, PluginApi } from "@docker-plugin-kit/protocol"
import { BodyError as BodyErrorClass, Endpoint, Wire, WireCodec } from "@docker-plugin-kit/protocol"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Formatter from "effect/Formatter"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerError from "effect/http/HttpServerError"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as BodyLimits from "./BodyLimits.ts"
import * as BodyGarbage from "./internal/BodyGarbage.ts"
import * as NodeFastPath from "./internal/NodeFastPath.ts"
import * as StreamStart from "./internal/StreamStart.ts"
import * as StreamTurns from "./internal/StreamTurns.ts"

/**
 * How calls are served.
 *
 * @since 0.1.0
 */
export interface CallOptions {
  /**
   * Every driver call must produce its answer within this time, or the server answers `Err`. A streamed answer is
   * produced when the driver returns its stream: the stream's chunks (its first included) are not bounded by it.
   */
  readonly deadline: Duration.Duration
  /**
   * Log every call (endpoint, duration, outcome, reason) at Info level, as the router applies `CallLog.logged` to
   * every route; otherwise only defects and deadline overruns are logged.
   */
  readonly verbose: boolean
}

/**
 * Default call options: a 2 minute deadline (the daemon's own longest per-call timeout), quiet logs.
 *
 * @since 0.1.0
 */
export const defaultCallOptions: CallOptions = { deadline: Duration.minutes(2), verbose: false }

/**
 * An HTTP handler as the router takes it.
 *
 * @since 0.1.0
 */
export type Handler = (
  request: HttpServerRequest.HttpServerRequest
) => Effect.Effect<HttpServerResponse.HttpServerResponse>

const contentType = Wire.ResponseContentType

/**
 * A JSON response with the plugin content type. `body` is already serialized.
 *
 * @since 0.1.0
 */
export const jsonText = (body: string, status = 200): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(body, { status, contentType })

/**
 * An error response `{"Err": message}` (`Wire.ErrorResponse`): every failure is answered with a non-200 status,
 * on which the daemon reads `Err` whatever the API's error field.
 *
 * @since 0.1.0
 */
export const errorResponse = (message: string, status: number): HttpServerResponse.HttpServerResponse =>
  jsonText(Wire.errorText(message), status)

class DeadlineExceeded extends Data.TaggedError("DeadlineExceeded")<{ readonly message: string }> {}

/**
 * A defect as text for `Err`. `JSON.stringify` throws for a cycle or a bigint (and the answer would then be a bare
 * 500 with no `Err`): those are written by `Formatter.format`, which never throws.
 */
const describeDefect = (defect: unknown): string => {
  if (defect instanceof Error) return defect.message
  if (typeof defect === "string") return defect
  try {
    // `undefined`, a function or a symbol have no JSON: `JSON.stringify` answers `undefined`, not a string, and
    // `Wire.errorText` would then throw (a bare 500 again).
    return JSON.stringify(defect) ?? Formatter.format(defect)
  } catch {
    return Formatter.format(defect)
  }
}

/**
 * Maps the cause of a failed driver call to the answer the daemon should see, logging what deserves it.
 */
const failureResponse =
  (endpoint: Endpoint.Any) =>
  (cause: Cause.Cause<DriverFailure | DeadlineExceeded>): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
    const failure = Cause.findErrorOption(cause)
    if (failure._tag === "Some") {
      const error = failure.value
      if (error instanceof DeadlineExceeded) {
        return Effect.as(Effect.logWarning(`${endpoint.path}: ${error.message}`), errorResponse(error.message, 500))
      }
      // A driver written without the types may fail with a string or a plain value: its text, not a bare 500.
      const message = typeof error?.message === "string" ? error.message : describeDefect(error)
      // The daemon reads an empty `Err` as no error message at all and shows the raw body: name the call instead.
      return Effect.succeed(
        errorResponse(message === "" ? `${endpoint.api}.${endpoint.method} failed without a message` : message, 500)
      )
    }
    if (Cause.hasInterruptsOnly(cause)) {
      return Effect.succeed(errorResponse(`${endpoint.path} was interrupted`, 503))
    }
    // A defect is a bug in the driver: log it with its stack, answer, and keep serving.
    const defect = Cause.squash(cause)
    return Effect.as(
      Effect.logError(`${endpoint.path}: driver defect`, cause),
      errorResponse(`internal error in ${endpoint.api}.${endpoint.method}: ${describeDefect(defect)}`, 500)
    )
  }

/**
 * Bounds driver calls by the deadline, as `Effect.timeoutOrElse` did, without racing every call against a timer.
 *
 * The call starts at once in a fiber of its own, as `Effect.raceFirst` starts its first contender. Most driver
 * methods answer without suspending: their exit is then used as it is, and no timer, race or second fiber is set up.
 * A call that suspends is awaited under `Effect.timeoutOrElse` (on the fiber's Clock, so TestClock still drives it);
 * when it is late, or when the request is interrupted, the call is interrupted and awaited before the answer, as the
 * race's loser was. An answer that is already an `Exit` is not forked at all.
 */
const withDeadline = (
  endpoint: Endpoint.Any,
  options: CallOptions
): (<A>(
  effect: Effect.Effect<A, DriverFailure>,
  parent: Fiber.Fiber<unknown, unknown>
) => Effect.Effect<A, DriverFailure | DeadlineExceeded>) => {
  if (Duration.toMillis(options.deadline) <= 0 || !Duration.isFinite(options.deadline)) return (effect) => effect
  const timeout = {
    duration: options.deadline,
    orElse: () =>
      Effect.fail(
        new DeadlineExceeded({
          message: `${endpoint.api}.${endpoint.method} did not answer within ${Duration.format(options.deadline)}`
        })
      )
  }
  return (effect, parent) => {
    if (Exit.isExit(effect)) return effect
    const call = Effect.runForkWith(parent.context)(effect)
    return call.pollUnsafe() ?? Effect.ensuring(Effect.timeoutOrElse(Fiber.join(call), timeout), Fiber.interrupt(call))
  }
}

/** Wire schemas are compiled before their codecs are built: the per-call check is generated code (WireCodec). */
const compiled: WireCodec.BuildOptions = { compiled: true }

const isTooLarge = (e: HttpServerError.HttpServerError): boolean =>
  e.reason._tag === "RequestParseError" && e.reason.reason === "BodyTooLarge"

/** The limit a body went over, as the platform's reader and the fast path both record it. */
const limitOf = (e: HttpServerError.HttpServerError): number => {
  const maxBytes = (e.reason.cause as { readonly maxBytes?: unknown } | undefined)?.maxBytes
  return typeof maxBytes === "number" ? maxBytes : BodyLimits.defaultMaxJsonBody
}

/**
 * Reads a JSON endpoint's input: the body as text, parsed and decoded, or the `Err` answer for a body that cannot be
 * read, parsed or decoded. What turns the text into the input depends only on the endpoint, so it is built once.
 */
const jsonInputReader = (endpoint: Endpoint.Any, decode: WireCodec.Decoder<unknown>) => {
  const fromText = {
    onFailure: (e: HttpServerError.HttpServerError) =>
      Result.fail(
        isTooLarge(e)
          ? errorResponse(BodyLimits.tooLargeMessage(endpoint.path, limitOf(e)), 413)
          : errorResponse(`${endpoint.path}: could not read the request body: ${e.message}`, 400)
      ),
    onSuccess: (text: string): Result.Result<unknown, HttpServerResponse.HttpServerResponse> => {
      const parsed = WireCodec.parseBody(text)
      if (Result.isFailure(parsed)) return Result.fail(errorResponse(`${endpoint.path}: ${parsed.failure}`, 400))
      const decoded = decode(parsed.success)
      return Result.isFailure(decoded)
        ? Result.fail(errorResponse(`${endpoint.path}: invalid request: ${decoded.failure}`, 400))
        : Result.succeed(decoded.success)
    }
  }
  return (
    request: HttpServerRequest.HttpServerRequest,
    fiber: Fiber.Fiber<unknown, unknown>
  ): Effect.Effect<Result.Result<unknown, HttpServerResponse.HttpServerResponse>> =>
    Effect.matchEager(NodeFastPath.bodyText(request, fiber), fromText)
}

const queryObject = (url: string): Record<string, string> => {
  const index = url.indexOf("?")
  const out: Record<string, string> = {}
  if (index < 0) return out
  for (const [k, v] of new URLSearchParams(url.slice(index + 1))) out[k] = v
  return out
}

/**
 * Reads a streamed endpoint's input: the query decoded into the input's fields, and the request body as a stream
 * for the driver, or the `Err` answer for a query that does not decode.
 */
const streamInputReader =
  (endpoint: Endpoint.Any, decode: WireCodec.Decoder<unknown>) =>
  (
    request: HttpServerRequest.HttpServerRequest
  ): Effect.Effect<Result.Result<unknown, HttpServerResponse.HttpServerResponse>> => {
    const decoded = decode(queryObject(request.url))
    if (Result.isFailure(decoded)) {
      return Effect.succeed(Result.fail(errorResponse(`${endpoint.path}: invalid query: ${decoded.failure}`, 400)))
    }
    const collected = BodyGarbage.counter()
    const body: Stream.Stream<Uint8Array, BodyError> = request.stream.pipe(
      Stream.mapArray((chunks) => {
        for (const chunk of chunks) collected(chunk.length)
        return chunks
      }),
      Stream.mapError((e) => new BodyErrorClass({ message: `request body broke: ${e.message}` }))
    )
    return Effect.succeed(Result.succeed({ ...(decoded.success as object), body }))
  }

/**
 * Calls a driver method. One that throws before it returns its effect (work done synchronously in the method, or a
 * driver written without the types) is a defect like any other: answered with `Err` and logged, where the throw
 * would otherwise escape the handler and leave the daemon a bare 500.
 */
const invoke = (
  method: (input: any) => Effect.Effect<unknown, DriverFailure>,
  input: unknown
): Effect.Effect<unknown, DriverFailure> => {
  try {
    return method(input)
  } catch (e) {
    return Effect.die(e)
  }
}

/**
 * Builds the handler of an endpoint served by `method`.
 *
 * @since 0.1.0
 */
export const make = (
  endpoint: Endpoint.Any,
  method: (input: any) => Effect.Effect<unknown, DriverFailure>,
  options: CallOptions
): Handler => {
  const read =
    endpoint.request._tag === "Json"
      ? jsonInputReader(endpoint, WireCodec.requestDecoder(endpoint.request.schema, compiled))
      : streamInputReader(endpoint, WireCodec.decoder(endpoint.request.query, compiled))
  const matchCall = {
    onFailure: failureResponse(endpoint),
    onSuccess: respondWith(endpoint)
  }
  const deadline = withDeadline(endpoint, options)
  // A streamed answer's first chunk is pulled once the driver answered: a stream that fails before it is answered as
  // a call that fails. Outside the deadline, which bounds the driver's call: a follow (`ReadLogs`) may wait for its
  // first line for as long as the container is quiet.
  const answered =
    endpoint.response._tag === "Stream"
      ? <E>(called: Effect.Effect<unknown, E>) => Effect.flatMap(called, StreamStart.startedAnswer)
      : <E>(called: Effect.Effect<unknown, E>) => called
  const call = (
    input: Result.Result<unknown, HttpServerResponse.HttpServerResponse>,
    fiber: Fiber.Fiber<unknown, unknown>
  ) =>
    Result.isFailure(input)
      ? Effect.succeed(input.failure)
      : Effect.matchCauseEffectEager(answered(deadline(invoke(method, input.success), fiber)), matchCall)
  // One `withFiber` keeps the handler lazy (nothing is read before the effect runs) and lets everything inside run
  // eagerly: for a buffered body and a driver that answers at once, no further fiber operation is needed.
  return (request) =>
    Effect.withFiber((fiber) => Effect.flatMapEager(read(request, fiber), (input) => call(input, fiber)))
}

const respondWith = (
  endpoint: Endpoint.Any
): ((output: unknown) => Effect.Effect<HttpServerResponse.HttpServerResponse>) => {
  const invalid = (reason: string) => {
    const message = `${endpoint.api}.${endpoint.method}: the driver returned an invalid response: ${reason}`
    return Effect.as(Effect.logError(message), errorResponse(message, 500))
  }
  if (endpoint.response._tag === "Stream") {
    const type = endpoint.response.contentType
    // The first chunk is already pulled (StreamStart): a failure before it was answered as the call's failure.
    // Stream.orDie is applied by the platform: a failure after the status line aborts the connection, so the
    // daemon sees a broken transfer instead of a truncated body that looks complete.
    // Anything else than a stream (a driver written without the types) would only fail once the platform runs it,
    // closing the connection without a status line: answer `Err` while that is still possible.
    return (output) =>
      Stream.isStream(output)
        ? Effect.succeed(
            HttpServerResponse.stream(StreamTurns.withTurns(output as Stream.Stream<Uint8Array, DriverFailure>), {
              contentType: type
            })
          )
        : invalid(`expected a stream of bytes, got ${Formatter.format(output)}`)
  }
  const encode = WireCodec.encoder(endpoint.response.schema, compiled)
  return (output) => {
    const encoded = encode(output)
    if (Result.isFailure(encoded)) return invalid(encoded.failure)
    // A field that holds any JSON value (a volume's `Status`) lets a bigint or a cycle through the schema, and
    // JSON.stringify throws on them: answer `Err` rather than a bare 500.
    let text: string
    try {
      text = JSON.stringify(encoded.success)
    } catch (e) {
      return invalid(describeDefect(e))
    }
    return Effect.succeed(jsonText(text))
  }
}

/**
 * The handler of any path that is no endpoint of the plugin: a JSON 404 naming it.
 *
 * @since 0.1.0
 */
export const unknown: Handler = (request) =>
  Effect.succeed(errorResponse(`unknown endpoint ${request.method} ${request.url}`, 404))

/**
 * The handler of every request no route took: a 405 for an endpoint's path called with another method than POST
 * (the only one the daemon uses), else `unknown`'s 404.
 *
 * @since 0.1.0
 */
export const unrouted =
  (paths: ReadonlySet<string>): Handler =>
  (request) => {
    const query = request.url.indexOf("?")
    const path = query === -1 ? request.url : request.url.slice(0, query)
    return paths.has(path)
      ? Effect.succeed(errorResponse(`${path} takes POST, not ${request.method}`, 405))
      : unknown(request)
  }

/**
 * The handler of an optional endpoint the driver does not implement; `implemented` says which driver methods exist
 * (for answers derived from them, such as `LogDriver.Capabilities`).
 *
 * @since 0.1.0
 */
export const absent = (endpoint: Endpoint.Any, implemented: (key: string) => boolean = () => false): Handler => {
  const body = Endpoint.absentBody(endpoint.whenAbsent, implemented)
  if (body === undefined) {
    const response = errorResponse(`${endpoint.path} is not implemented by this plugin`, 404)
    return () => Effect.succeed(response)
  }
  // The daemon's default is answered like any call: a request that does not decode still gets its 400.
  const answer = Effect.succeed(body)
  return make(endpoint, () => answer, defaultCallOptions)
}

/**
 * The method of a driver that serves an endpoint, if the driver has it.
 *
 * @since 0.1.0
 */
export const methodOf = (
  driver: PluginApi.Driver<PluginApi.Any>,
  endpoint: Endpoint.Any
): ((input: any) => Effect.Effect<unknown, DriverFailure>) | undefined => {
  const method = (driver as Record<string, unknown>)[endpoint.key]
  return typeof method === "function"
    ? (method as (input: any) => Effect.Effect<unknown, DriverFailure>).bind(driver)
    : undefined
}
