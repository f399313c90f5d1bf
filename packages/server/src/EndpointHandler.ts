/**
 * Turns one endpoint declaration and the driver method behind it into an HTTP handler: decode the body with the
 * endpoint's schema, call the driver under a deadline, encode the answer, and map every failure to `{"Err"}`.
 *
 * The hot path is written with plain combinators (no generators, decoders built once) because small calls such as
 * `VolumeDriver.Get` are what the daemon sends most.
 *
 * @since 0.1.0
 */
import type { BodyError, DriverFailure, Endpoint, PluginApi } from "@docker-plugin-kit/protocol"
import { BodyError as BodyErrorClass, Wire, WireCodec } from "@docker-plugin-kit/protocol"
import { Cause, Data, Duration, Effect, Result, Stream } from "effect"
import type { HttpServerRequest } from "effect/http"
import { HttpServerResponse } from "effect/http"

/**
 * How calls are served.
 *
 * @since 0.1.0
 */
export interface CallOptions {
  /** Every driver call must produce its answer within this time, or the server answers `Err`. */
  readonly deadline: Duration.Duration
  /** Log every call (endpoint, duration, outcome) at Info level; otherwise only defects are logged. */
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
 * An error response `{"Err": message}`.
 *
 * @since 0.1.0
 */
export const errorResponse = (message: string, status: number): HttpServerResponse.HttpServerResponse =>
  jsonText(JSON.stringify({ Err: message }), status)

class DeadlineExceeded extends Data.TaggedError("DeadlineExceeded")<{ readonly message: string }> {}

const describeDefect = (defect: unknown): string =>
  defect instanceof Error ? defect.message : typeof defect === "string" ? defect : JSON.stringify(defect)

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
      return Effect.succeed(errorResponse(error.message, 500))
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

const withDeadline = <A>(
  endpoint: Endpoint.Any,
  options: CallOptions,
  effect: Effect.Effect<A, DriverFailure>
): Effect.Effect<A, DriverFailure | DeadlineExceeded> =>
  Duration.toMillis(options.deadline) <= 0 || !Duration.isFinite(options.deadline)
    ? effect
    : Effect.timeoutOrElse(effect, {
        duration: options.deadline,
        orElse: () =>
          Effect.fail(
            new DeadlineExceeded({
              message: `${endpoint.api}.${endpoint.method} did not answer within ${Duration.format(options.deadline)}`
            })
          )
      })

const withCallLog = (endpoint: Endpoint.Any, options: CallOptions) => {
  if (!options.verbose) return (effect: Effect.Effect<HttpServerResponse.HttpServerResponse>) => effect
  return (effect: Effect.Effect<HttpServerResponse.HttpServerResponse>) =>
    Effect.suspend(() => {
      const started = performance.now()
      return Effect.tap(effect, (response) =>
        Effect.logInfo("plugin call").pipe(
          Effect.annotateLogs({
            endpoint: endpoint.path,
            status: response.status,
            outcome: response.status === 200 ? "ok" : "error",
            durationMs: Math.round((performance.now() - started) * 1000) / 1000
          })
        )
      )
    })
}

const readJsonInput = (
  endpoint: Endpoint.Any,
  request: HttpServerRequest.HttpServerRequest,
  decode: WireCodec.Decoder<unknown>
): Effect.Effect<Result.Result<unknown, HttpServerResponse.HttpServerResponse>> =>
  Effect.matchEager(request.text, {
    onFailure: (e) =>
      Result.fail(errorResponse(`${endpoint.path}: could not read the request body: ${e.message}`, 400)),
    onSuccess: (text) => {
      const parsed = WireCodec.parseBody(text)
      if (Result.isFailure(parsed)) return Result.fail(errorResponse(`${endpoint.path}: ${parsed.failure}`, 400))
      const decoded = decode(parsed.success)
      return Result.isFailure(decoded)
        ? Result.fail(errorResponse(`${endpoint.path}: invalid request: ${decoded.failure}`, 400))
        : Result.succeed(decoded.success)
    }
  })

const queryObject = (url: string): Record<string, string> => {
  const index = url.indexOf("?")
  const out: Record<string, string> = {}
  if (index < 0) return out
  for (const [k, v] of new URLSearchParams(url.slice(index + 1))) out[k] = v
  return out
}

const readStreamInput = (
  endpoint: Endpoint.Any,
  request: HttpServerRequest.HttpServerRequest,
  decode: WireCodec.Decoder<unknown>
): Effect.Effect<Result.Result<unknown, HttpServerResponse.HttpServerResponse>> => {
  const decoded = decode(queryObject(request.url))
  if (Result.isFailure(decoded)) {
    return Effect.succeed(Result.fail(errorResponse(`${endpoint.path}: invalid query: ${decoded.failure}`, 400)))
  }
  const body: Stream.Stream<Uint8Array, BodyError> = Stream.mapError(
    request.stream,
    (e) => new BodyErrorClass({ message: `request body broke: ${e.message}` })
  )
  return Effect.succeed(Result.succeed({ ...(decoded.success as object), body }))
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
      ? (
          (decode) => (request: HttpServerRequest.HttpServerRequest) =>
            readJsonInput(endpoint, request, decode)
        )(WireCodec.decoder(endpoint.request.schema))
      : (
          (decode) => (request: HttpServerRequest.HttpServerRequest) =>
            readStreamInput(endpoint, request, decode)
        )(WireCodec.decoder(endpoint.request.query))
  const onFailure = failureResponse(endpoint)
  const respond = respondWith(endpoint)
  const logged = withCallLog(endpoint, options)
  return (request) =>
    logged(
      Effect.flatMap(read(request), (input) =>
        Result.isFailure(input)
          ? Effect.succeed(input.failure)
          : Effect.matchCauseEffect(withDeadline(endpoint, options, method(input.success)), {
              onFailure,
              onSuccess: respond
            })
      )
    )
}

const respondWith = (
  endpoint: Endpoint.Any
): ((output: unknown) => Effect.Effect<HttpServerResponse.HttpServerResponse>) => {
  if (endpoint.response._tag === "Stream") {
    const type = endpoint.response.contentType
    // Stream.orDie is applied by the platform: a failure after the status line aborts the connection, so the
    // daemon sees a broken transfer instead of a truncated body that looks complete.
    return (output) =>
      Effect.succeed(
        HttpServerResponse.stream(output as Stream.Stream<Uint8Array, DriverFailure>, { contentType: type })
      )
  }
  const encode = WireCodec.encoder(endpoint.response.schema)
  return (output) => {
    const encoded = encode(output)
    if (Result.isFailure(encoded)) {
      const message = `${endpoint.api}.${endpoint.method}: the driver returned an invalid response: ${encoded.failure}`
      return Effect.as(Effect.logError(message), errorResponse(message, 500))
    }
    return Effect.succeed(jsonText(JSON.stringify(encoded.success)))
  }
}

/**
 * The handler of an optional endpoint the driver does not implement.
 *
 * @since 0.1.0
 */
export const absent = (endpoint: Endpoint.Any): Handler => {
  const response =
    endpoint.whenAbsent._tag === "Respond"
      ? jsonText(JSON.stringify(endpoint.whenAbsent.body))
      : errorResponse(`${endpoint.path} is not implemented by this plugin`, 404)
  return () => Effect.succeed(response)
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
