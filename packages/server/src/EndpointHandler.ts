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
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as ByteSize from "effect/ByteSize"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import * as SchemaAST from "effect/SchemaAST"
import * as Stream from "effect/Stream"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as HttpServerError from "effect/http/HttpServerError"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as SchemaJITCompiler from "effect/schema/SchemaJITCompiler"
import * as Http from "node:http"

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
 * An error response `{"Err": message}` (`Wire.ErrorResponse`): every failure is answered with a non-200 status,
 * on which the daemon reads `Err` whatever the API's error field.
 *
 * @since 0.1.0
 */
export const errorResponse = (message: string, status: number): HttpServerResponse.HttpServerResponse =>
  jsonText(Wire.errorText(message), status)

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

/** The BOM a `TextDecoder` drops, as the platform's `request.text` does. */
const byteOrderMark = 0xfeff

const requestParseError = (request: HttpServerRequest.HttpServerRequest, cause: unknown) =>
  new HttpServerError.HttpServerError({
    reason: new HttpServerError.RequestParseError({ request, reason: "Parse", cause })
  })

const bodyTooLarge = (request: HttpServerRequest.HttpServerRequest, maxBytes: number) =>
  new HttpServerError.HttpServerError({
    reason: new HttpServerError.RequestParseError({
      request,
      reason: "BodyTooLarge",
      cause: new NodeStream.MaxBytesError(maxBytes)
    })
  })

/** The fiber's `HttpIncomingMessage.MaxBodySize` in bytes, read as the platform's body reader reads it. */
const maxBodyBytes = (fiber: Fiber.Fiber<unknown, unknown>): number | undefined => {
  const limit = fiber.getRef(HttpIncomingMessage.MaxBodySize) as ByteSize.Input | undefined
  return limit === undefined || limit === Infinity ? undefined : Number(ByteSize.fromInputUnsafe(limit))
}

/**
 * The Node request behind `request`, when its body can be read straight from it: a Node HTTP/1 request whose body
 * nobody has touched yet and that does not wait for a `100 Continue` (the platform's reader sends that one).
 */
const untouchedNodeBody = (request: HttpServerRequest.HttpServerRequest): Http.IncomingMessage | undefined => {
  const source = (request as { readonly source?: unknown }).source
  return source instanceof Http.IncomingMessage &&
    !source.readableDidRead &&
    source.listenerCount("data") === 0 &&
    source.headers.expect === undefined
    ? source
    : undefined
}

/**
 * Reads a small body straight from the Node request: `data` and `end` listeners and one `toString`, where the
 * platform's `request.text` caches the read in a fiber of its own, waits with `stream.finished` and copies the
 * bytes into an `ArrayBuffer` before decoding them. Same result, same limit (`HttpIncomingMessage.MaxBodySize`,
 * draining the rest), same errors.
 */
const readNodeBody = (
  request: HttpServerRequest.HttpServerRequest,
  source: Http.IncomingMessage,
  maxBytes: number | undefined
): Effect.Effect<string, HttpServerError.HttpServerError> =>
  Effect.callback<string, HttpServerError.HttpServerError>((resume) => {
    let first: Buffer | undefined
    let rest: Array<Buffer> | undefined
    let size = 0
    const cleanup = () => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError)
      source.off("close", onClose)
    }
    function onData(chunk: Buffer) {
      size += chunk.length
      if (maxBytes !== undefined && size > maxBytes) {
        cleanup()
        // Keep the connection usable: discard the rest of the body instead of destroying the request.
        source.on("error", () => {})
        source.resume()
        return resume(Effect.fail(bodyTooLarge(request, maxBytes)))
      }
      if (first === undefined) first = chunk
      else if (rest === undefined) rest = [first, chunk]
      else rest.push(chunk)
    }
    function onEnd() {
      cleanup()
      resume(Effect.succeed(decodeText(rest === undefined ? (first ?? null) : Buffer.concat(rest, size))))
    }
    function onError(error: Error) {
      cleanup()
      resume(Effect.fail(requestParseError(request, error)))
    }
    function onClose() {
      cleanup()
      resume(Effect.fail(requestParseError(request, new Error("the request closed before its body ended"))))
    }
    source.on("data", onData)
    source.on("end", onEnd)
    source.on("error", onError)
    source.on("close", onClose)
    return Effect.sync(cleanup)
  })

const decodeText = (bytes: Buffer | null): string => {
  const text = bytes === null ? "" : bytes.toString("utf8")
  return text.charCodeAt(0) === byteOrderMark ? text.slice(1) : text
}

/** The Node internal that says a request's body is being read; declared here because @types/node does not list it. */
interface RequestInternals {
  _consuming: boolean
}

/**
 * The body, when all of it is already buffered in the Node request: the parser has seen the end of the message
 * (`complete`), so every byte of it, whatever its framing, waits in the stream's buffer. One synchronous `read()`,
 * no suspension. The listener starts handlers once the packet is parsed, so this is the usual case for the
 * daemon's small calls. `complete` covers chunked bodies too, and no header has to be parsed per call.
 *
 * The request is then marked as being consumed, as a `data` listener would have marked it. A `read()` of an ended
 * stream does not mark it, and Node then "dumps" the request after the response (drops its `data` listeners,
 * resumes it, and reads it again in a later tick) to pull off the wire a body that was already read. Once marked,
 * only a read ends the request, so an empty body is read too.
 */
const bufferedBody = (source: Http.IncomingMessage, maxBytes: number | undefined): string | undefined => {
  if (!source.complete) return undefined
  const length = source.readableLength
  // Over the limit: the reader below fails and drains as the platform does.
  if (maxBytes !== undefined && length > maxBytes) return undefined
  ;(source as unknown as RequestInternals)._consuming = true
  // Read even when empty: the read that finds the stream ended is what ends the request (`end`, then `close`).
  return decodeText(source.read() as Buffer | null)
}

/** The body as text. Called while the request's fiber runs (the Node fast paths consume the body). */
const bodyText = (
  request: HttpServerRequest.HttpServerRequest,
  fiber: Fiber.Fiber<unknown, unknown>
): Effect.Effect<string, HttpServerError.HttpServerError> => {
  const source = untouchedNodeBody(request)
  if (source === undefined) return request.text
  const maxBytes = maxBodyBytes(fiber)
  const buffered = bufferedBody(source, maxBytes)
  return buffered === undefined ? readNodeBody(request, source, maxBytes) : Effect.succeed(buffered)
}

/**
 * Has Schema generate the parsing code of a wire schema (`SchemaJITCompiler`) before its decoder or encoder is
 * built, so the per-request work is a compiled check instead of the AST interpreter run in a fiber of its own:
 * about 4x faster for `VolumeDriver.Get` (see bench/README.md). Only the first issue is found by the compiled
 * code; invalid input falls back to the interpreter, so the messages (every issue, by field) are the same. Where
 * code generation is unavailable (a runtime that forbids `new Function`), the interpreter is kept.
 */
const compiled = <S extends Endpoint.WireSchema>(schema: S, direction: "decode" | "encode"): S => {
  try {
    SchemaJITCompiler.enable(direction === "decode" ? schema.ast : SchemaAST.flip(schema.ast))
  } catch {
    // The interpreter stays in place.
  }
  return schema
}

/**
 * Reads a JSON endpoint's input: the body as text, parsed and decoded, or the `Err` answer for a body that cannot be
 * read, parsed or decoded. What turns the text into the input depends only on the endpoint, so it is built once.
 */
const jsonInputReader = (endpoint: Endpoint.Any, decode: WireCodec.Decoder<unknown>) => {
  const fromText = {
    onFailure: (e: HttpServerError.HttpServerError) =>
      Result.fail(errorResponse(`${endpoint.path}: could not read the request body: ${e.message}`, 400)),
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
    Effect.matchEager(bodyText(request, fiber), fromText)
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
      ? jsonInputReader(endpoint, WireCodec.decoder(compiled(endpoint.request.schema, "decode")))
      : streamInputReader(endpoint, WireCodec.decoder(compiled(endpoint.request.query, "decode")))
  const matchCall = {
    onFailure: failureResponse(endpoint),
    onSuccess: respondWith(endpoint)
  }
  const deadline = withDeadline(endpoint, options)
  const call = (
    input: Result.Result<unknown, HttpServerResponse.HttpServerResponse>,
    fiber: Fiber.Fiber<unknown, unknown>
  ) =>
    Result.isFailure(input)
      ? Effect.succeed(input.failure)
      : Effect.matchCauseEffectEager(deadline(method(input.success), fiber), matchCall)
  const logged = withCallLog(endpoint, options)
  // One `withFiber` keeps the handler lazy (nothing is read before the effect runs) and lets everything inside run
  // eagerly: for a buffered body and a driver that answers at once, no further fiber operation is needed.
  return (request) =>
    logged(Effect.withFiber((fiber) => Effect.flatMapEager(read(request, fiber), (input) => call(input, fiber))))
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
  const encode = WireCodec.encoder(compiled(endpoint.response.schema, "encode"))
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
 * The handler of an optional endpoint the driver does not implement; `implemented` says which driver methods exist
 * (for answers derived from them, such as `LogDriver.Capabilities`).
 *
 * @since 0.1.0
 */
export const absent = (endpoint: Endpoint.Any, implemented: (key: string) => boolean = () => false): Handler => {
  const body = Endpoint.absentBody(endpoint.whenAbsent, implemented)
  const response =
    body === undefined
      ? errorResponse(`${endpoint.path} is not implemented by this plugin`, 404)
      : jsonText(JSON.stringify(body))
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
