/**
 * The daemon's side of the conversation with one plugin: the `/Plugin.Activate` handshake (cached once it
 * succeeds), typed calls derived from the endpoint declarations, the daemon's retries and per-call timeouts, and
 * its error model (only 200 is success, `Err` read case-insensitively, `Method: Err-or-body` otherwise).
 *
 * @since 0.1.0
 */
import { Endpoint, Manifest, type PluginApi, WireCodec } from "@docker-plugin-kit/protocol"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import {
  BadResponse,
  type CallError,
  CallTimeout,
  NotImplemented,
  PluginUnreachable,
  RemoteError,
  StatusError
} from "./ClientError.ts"
import * as DaemonText from "./DaemonText.ts"
import * as GoJson from "./GoJson.ts"
import * as DaemonDefaults from "./internal/daemonDefaults.ts"
import * as Retry from "./Retry.ts"
import * as Timeouts from "./Timeouts.ts"
import {
  AttemptFailed,
  readText,
  type RequestBody,
  type ResponseBodyError,
  type Transport,
  type WireResponse
} from "./Transport.ts"

/**
 * How a client behaves.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Plugin name used in messages (default: the address). */
  readonly name?: string
  /** Retries of failed round trips (default: the daemon's 1-2-4-8 s within 30 s). */
  readonly retry?: Retry.Policy
  /** Per-attempt timeouts (default: the daemon's, 1-2 min for volume calls, none otherwise). */
  readonly timeouts?: Timeouts.Timeouts
}

/**
 * One request and its response, as they went over the wire.
 *
 * @since 0.1.0
 */
export interface Exchange {
  readonly request: { readonly path: string; readonly body: string }
  readonly response: {
    readonly status: number
    readonly text: string
    /** The first JSON value of the body, or `undefined` when it is not JSON. */
    readonly body: unknown
  }
}

/**
 * A client of one plugin.
 *
 * @since 0.1.0
 */
export interface PluginClient {
  readonly name: string
  readonly address: string
  /** `POST /Plugin.Activate` with an empty body; the first success is cached, failures are not. */
  readonly activate: Effect.Effect<Manifest.Manifest, CallError>
  /** Activates and checks that the manifest lists `subsystem`. */
  readonly require: (subsystem: string) => Effect.Effect<Manifest.Manifest, CallError | NotImplemented>
  /** A typed call of one endpoint; errors are read from its declared error field unless `errorField` says. */
  readonly call: <E extends Endpoint.Any>(
    endpoint: E,
    input: Endpoint.Input<E>,
    options?: { readonly errorField?: PluginApi.ErrorField }
  ) => Effect.Effect<Endpoint.Output<E>, CallError>
  /**
   * A raw call, for conformance checks: a string body is sent verbatim, any other value JSON-encoded with the
   * daemon's trailing newline, no body as an empty request. Only transport failures fail. Given an endpoint
   * rather than a path, the call has that endpoint's timeout.
   */
  readonly exchange: (
    path: string | Endpoint.Any,
    body?: unknown
  ) => Effect.Effect<Exchange, PluginUnreachable | CallTimeout>
  /** The driver interface of `api`, every method a call to this plugin. */
  readonly driver: <A extends PluginApi.Any>(api: A) => PluginApi.Driver<A>
}

const memo = <K extends object, V>(make: (key: K) => V): ((key: K) => V) => {
  const cache = new WeakMap<K, V>()
  return (key) => {
    const hit = cache.get(key)
    if (hit !== undefined) return hit
    const value = make(key)
    cache.set(key, value)
    return value
  }
}
// Codecs are built once per schema, not per call.
const encoderOf = memo((schema: Endpoint.WireSchema) => WireCodec.encoder(schema) as WireCodec.Encoder<unknown>)
const decoderOf = memo((schema: Endpoint.WireSchema) => WireCodec.decoder(schema) as WireCodec.Decoder<unknown>)

const utf8 = new TextEncoder()

/** The method string the daemon prefixes its errors with (`DaemonText.method`). */
const methodOf = DaemonText.method

/**
 * How the daemon reads a non-200 answer: `Err` of a JSON object (any key case) when it is a non-empty string,
 * otherwise the raw body.
 *
 * @since 0.1.0
 */
export const statusDetail = (text: string): string => {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return text
  }
  const err = GoJson.field(body, "Err")
  return typeof err === "string" && err !== "" ? err : text
}

/**
 * Interprets a JSON answer like the daemon: status, error field (not for `AuthZPlugin.*`, whose 200 `Err` the
 * daemon ignores, nor for `Plugin.Activate`, whose Manifest has none), then the endpoint's schema (keys matched case-insensitively, `null` read as an all-zero answer).
 * With `statusOnly` (the metrics calls) any 200 is a success, whatever its body, even an empty one.
 *
 * @since 0.1.0
 */
export const interpretJson = (
  path: string,
  status: number,
  text: string,
  schema: Endpoint.WireSchema,
  errorField: PluginApi.ErrorField,
  statusOnly = false
): Result.Result<unknown, RemoteError | StatusError | BadResponse> => {
  const method = methodOf(path)
  if (status !== 200) return Result.fail(new StatusError({ method, status, detail: statusDetail(text) }))
  // Engine 28+ never reads the body of these calls (20.10-27 read StartMetrics' Err, and log an empty body as
  // `EOF`; either way the daemon only logs the outcome): any 200 is a success.
  if (statusOnly) return Result.succeed({})
  const parsed = GoJson.firstValue(text)
  if (Result.isFailure(parsed)) return Result.fail(new BadResponse({ method, reason: parsed.failure, body: text }))
  const body = parsed.success === null ? {} : parsed.success
  // The daemon decodes an activation into its Manifest, which has no `Err`: `{"Implements": [...], "Err": "x"}`
  // activates, and an `Err` of any type is ignored.
  const err = path === "/Plugin.Activate" ? undefined : GoJson.field(body, errorField)
  if (err !== undefined && err !== null && typeof err !== "string") {
    return Result.fail(
      new BadResponse({ method, reason: `${errorField}: expected a string, got ${typeof err}`, body: text })
    )
  }
  // The daemon never reads `Err` of a 200 authorization answer: `{"Allow": true, "Err": "x"}` is an allow.
  if (typeof err === "string" && err !== "" && !path.startsWith("/AuthZPlugin.")) {
    return Result.fail(new RemoteError({ method, err }))
  }
  const decoded = decoderOf(schema)(DaemonDefaults.adjust(path, GoJson.normalize(schema.ast, body)))
  return Result.mapError(
    decoded,
    (reason) => new BadResponse({ method, reason: `unexpected response: ${reason}`, body: text })
  )
}

/**
 * A client over `transport`.
 *
 * @since 0.1.0
 */
export const make = (transport: Transport, options: Options = {}): Effect.Effect<PluginClient> =>
  Effect.map(Semaphore.make(1), (activation) => {
    const name = options.name ?? transport.address
    const policy = options.retry ?? Retry.daemon
    const timeouts = options.timeouts ?? Timeouts.daemon

    /** One round trip with retries; `read` runs under the same timeout (JSON bodies are read in full). */
    const roundTrip = <A>(
      path: string,
      endpoint: Endpoint.Any | undefined,
      body: RequestBody,
      read: (response: WireResponse) => Effect.Effect<A, ResponseBodyError>
    ): Effect.Effect<A, PluginUnreachable | CallTimeout | BadResponse> => {
      const method = methodOf(path)
      const timeout = timeouts(endpoint)
      const once = Effect.flatMap(transport.send({ path, body }), read)
      const attempt =
        timeout === undefined || !Duration.isFinite(timeout)
          ? once
          : Effect.timeoutOrElse(once, {
              duration: timeout,
              // Never resent, as by the daemon (whose timed-out context fails every retry at once): the plugin may
              // have received the call and be acting on it (a Create sent again is a second Create), and a streamed
              // body may have been read in full or cannot be replayed.
              orElse: () => Effect.fail(new AttemptFailed({ reason: "timeout", retryable: false }))
            })
      return Retry.retry(
        attempt,
        policy,
        (e) => e._tag === "AttemptFailed" && e.retryable,
        (e, delay) =>
          Effect.logWarning(
            `Unable to connect to plugin: ${transport.address}${path}: ${e._tag === "AttemptFailed" ? e.reason : e.message}, retrying in ${delay / 1000}s`
          )
      ).pipe(
        Effect.mapError(({ error, attempts, elapsedMs }) =>
          error._tag === "ResponseBodyError"
            ? new BadResponse({ method, reason: error.message, body: "" })
            : error.reason === "timeout" && timeout !== undefined
              ? new CallTimeout({ method, address: transport.address, timeoutMs: Duration.toMillis(timeout) })
              : new PluginUnreachable({ method, address: transport.address, reason: error.reason, attempts, elapsedMs })
        )
      )
    }

    const readAll = (response: WireResponse) =>
      Effect.map(readText(response.body), (text) => ({ status: response.status, text }))

    const call = <E extends Endpoint.Any>(
      endpoint: E,
      input: Endpoint.Input<E>,
      callOptions?: { readonly errorField?: PluginApi.ErrorField }
    ): Effect.Effect<Endpoint.Output<E>, CallError> =>
      Effect.suspend(() => {
        const errorField = callOptions?.errorField ?? endpoint.errorField
        let path: string = endpoint.path
        let body: RequestBody
        if (endpoint.request._tag === "Json") {
          if (endpoint.request.emptyBody) body = { _tag: "Empty" }
          else {
            const encoded = encoderOf(endpoint.request.schema)(input)
            if (Result.isFailure(encoded))
              return Effect.die(new Error(`${endpoint.path}: invalid input: ${encoded.failure}`))
            body = { _tag: "Bytes", bytes: utf8.encode(GoJson.stringify(endpoint.request.schema.ast, encoded.success)) }
          }
        } else {
          const { body: stream, ...query } = input as { readonly body: Stream.Stream<Uint8Array, unknown> }
          const encoded = encoderOf(endpoint.request.query)(query)
          if (Result.isFailure(encoded))
            return Effect.die(new Error(`${endpoint.path}: invalid query: ${encoded.failure}`))
          const params = new URLSearchParams()
          for (const [k, v] of Object.entries(encoded.success as Record<string, unknown>)) {
            if (v !== undefined && v !== null) params.set(k, String(v))
          }
          const search = params.toString()
          path = search === "" ? endpoint.path : `${endpoint.path}?${search}`
          body = { _tag: "Stream", stream }
        }
        const response = endpoint.response
        if (response._tag === "Stream") {
          const method = methodOf(path)
          return Effect.flatMap(
            roundTrip(path, endpoint, body, (r) =>
              r.status === 200
                ? Effect.succeed({ status: 200, text: "", stream: r.body })
                : Effect.map(readText(r.body), (text) => ({ status: r.status, text, stream: Stream.empty }))
            ),
            (r) =>
              r.status === 200
                ? Effect.succeed(r.stream as unknown as Endpoint.Output<E>)
                : Effect.fail(new StatusError({ method, status: r.status, detail: statusDetail(r.text) }))
          )
        }
        return Effect.flatMap(roundTrip(path, endpoint, body, readAll), ({ status, text }) =>
          Effect.fromResult(
            interpretJson(path, status, text, response.schema, errorField, response.statusOnly) as Result.Result<
              Endpoint.Output<E>,
              RemoteError | StatusError | BadResponse
            >
          )
        )
      })

    let manifest: Manifest.Manifest | undefined
    // Serialised like the daemon's activation: concurrent callers wait for the one handshake in flight.
    const activate: Effect.Effect<Manifest.Manifest, CallError> = activation.withPermit(
      Effect.suspend(() =>
        manifest !== undefined
          ? Effect.succeed(manifest)
          : Effect.tap(
              Effect.map(call(Manifest.Activate, {}), (m) => ({ Implements: m.Implements ?? [] })),
              (m) =>
                Effect.sync(() => {
                  manifest = m
                })
            )
      )
    )

    const require = (subsystem: string) =>
      Effect.flatMap(activate, (m) =>
        (m.Implements ?? []).includes(subsystem)
          ? Effect.succeed(m)
          : Effect.fail(new NotImplemented({ plugin: name, subsystem, implements: [...(m.Implements ?? [])] }))
      )

    const exchange = (target: string | Endpoint.Any, value?: unknown) => {
      const [path, endpoint] = typeof target === "string" ? [target, undefined] : [target.path, target]
      const text =
        value === undefined ? "" : typeof value === "string" ? value : `${GoJson.escapeHtml(JSON.stringify(value))}\n`
      const body: RequestBody = text === "" ? { _tag: "Empty" } : { _tag: "Bytes", bytes: utf8.encode(text) }
      return Effect.map(roundTrip(path, endpoint, body, readAll), ({ status, text: responseText }): Exchange => {
        const parsed = GoJson.firstValue(responseText)
        return {
          request: { path, body: text },
          response: {
            status,
            text: responseText,
            body: Result.isSuccess(parsed) ? parsed.success : undefined
          }
        }
      }).pipe(
        // A broken body still tells the caller something happened on the wire; report it as unreachable.
        Effect.catchTag("BadResponse", (e) =>
          Effect.fail(
            new PluginUnreachable({
              method: e.method,
              address: transport.address,
              reason: e.reason,
              attempts: 1,
              elapsedMs: 0
            })
          )
        )
      )
    }

    const driver = <A extends PluginApi.Any>(api: A): PluginApi.Driver<A> => {
      const methods: Record<string, (input: any) => Effect.Effect<unknown, CallError>> = {}
      for (const endpoint of Object.values(api.endpoints) as ReadonlyArray<Endpoint.Any>) {
        // What the daemon assumes when an optional endpoint answers 404 (e.g. Capabilities → local); a derived
        // answer is the one of a plugin that implements nothing optional.
        const absent = Endpoint.absentBody(endpoint.whenAbsent, () => false)
        methods[endpoint.key] = (input) => {
          const result: Effect.Effect<unknown, CallError> = call(endpoint, input as never)
          // The daemon falls back to a default when an optional endpoint answers 404 (e.g. Capabilities → local),
          // and for some capability calls when it fails in any way.
          const anyFailure = DaemonDefaults.failureMeansDefault(endpoint.path)
          return endpoint.optional && absent !== undefined && endpoint.response._tag === "Json"
            ? Effect.catchIf(
                result,
                (e) => anyFailure || (e._tag === "StatusError" && e.status === 404),
                () => Effect.succeed(absent)
              )
            : result
        }
      }
      return methods as unknown as PluginApi.Driver<A>
    }

    return { name, address: transport.address, activate, require, call, exchange, driver }
  })
