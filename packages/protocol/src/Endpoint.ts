/**
 * One declaration per plugin endpoint: path, request and response schemas and how each body travels.
 * Server routes, the typed client and JSON Schema documents are all derived from these values.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type * as Schema from "effect/Schema"
import type { BodyError, DriverFailure } from "./DriverError.ts"

/**
 * A schema that needs no services to decode or encode, which is what every wire schema is.
 *
 * @since 0.1.0
 */
export type WireSchema = Schema.Top & { readonly DecodingServices: never; readonly EncodingServices: never }

/**
 * A JSON request body. `emptyBody` marks calls the daemon sends with no body at all (`Content-Length: 0`);
 * the server accepts an empty body for every JSON endpoint anyway and decodes it as `{}`.
 *
 * @since 0.1.0
 */
export interface JsonRequest<S extends WireSchema = WireSchema> {
  readonly _tag: "Json"
  readonly schema: S
  readonly emptyBody: boolean
}

/**
 * A raw byte stream request body (e.g. the tar of `GraphDriver.ApplyDiff`), with parameters carried in the query
 * string and decoded by `query`.
 *
 * @since 0.1.0
 */
export interface StreamRequest<Q extends WireSchema = WireSchema> {
  readonly _tag: "Stream"
  readonly query: Q
  readonly contentType: string
}

/**
 * A JSON response body. On success the server encodes the driver's value with `schema`, which never contains the
 * error field. A failure is answered with a non-200 status and `{"Err": message}` (`Wire.ErrorResponse`), for every
 * API: on any status but 200 the daemon reads only `Err`. The endpoint's `errorField` names where a 200 answer
 * carries an error, which is what a client must read.
 *
 * @since 0.1.0
 */
export interface JsonResponse<S extends WireSchema = WireSchema> {
  readonly _tag: "Json"
  readonly schema: S
  /**
   * The daemon reads only the status of the answer: any 200, even with an empty body, is a success (the metrics
   * calls from Engine 28; the server still answers with the encoded schema).
   */
  readonly statusOnly?: boolean
}

/**
 * A raw byte stream response body (e.g. the tar of `GraphDriver.Diff`, the log entries of `LogDriver.ReadLogs`).
 * An error after the status line cannot be reported, so the server aborts the connection instead.
 *
 * @since 0.1.0
 */
export interface StreamResponse {
  readonly _tag: "Stream"
  readonly contentType: string
}

/**
 * What the server answers for an optional endpoint the driver does not implement: a fixed success body (the
 * daemon's default), 404 (which the daemon reads as "not implemented"), or a body derived from the methods the
 * driver does implement (e.g. `LogDriver.Capabilities` says `ReadLogs: true` only when `readLogs` is there).
 * A client that gets 404 for a `Derive` endpoint uses the body of a driver that implements nothing optional.
 *
 * @since 0.1.0
 */
export type WhenAbsent =
  | {
      readonly _tag: "Respond"
      /** The success body. */
      readonly body: unknown
    }
  | { readonly _tag: "NotFound" }
  | {
      readonly _tag: "Derive"
      /** The success body, given whether the driver has a method. */
      readonly body: (implemented: (key: string) => boolean) => unknown
    }

/**
 * The success body `whenAbsent` answers, given which driver methods exist; `undefined` for 404.
 *
 * @since 0.1.0
 */
export const absentBody = (whenAbsent: WhenAbsent, implemented: (key: string) => boolean): unknown =>
  whenAbsent._tag === "Respond"
    ? whenAbsent.body
    : whenAbsent._tag === "Derive"
      ? whenAbsent.body(implemented)
      : undefined

/**
 * Name of the field in which a 200 answer carries an error: `Err` everywhere except IPAM (`Error`). On any other
 * status the daemon reads `Err` only.
 *
 * @since 0.1.0
 */
export type ErrorField = "Err" | "Error"

/**
 * The server's default deadline of an endpoint that answers JSON: 2 minutes, the daemon's own longest per-call
 * timeout (`VolumeDriver.Create` and `Mount`).
 *
 * @since 0.1.0
 */
export const defaultDeadline: Duration.Duration = Duration.minutes(2)

/**
 * The declaration of one endpoint.
 *
 * @since 0.1.0
 */
export interface Endpoint<
  Key extends string = string,
  Req extends JsonRequest | StreamRequest = JsonRequest | StreamRequest,
  Res extends JsonResponse | StreamResponse = JsonResponse | StreamResponse,
  Optional extends boolean = boolean
> {
  /** Subsystem prefix of the path, e.g. `VolumeDriver`. */
  readonly api: string
  /** Method part of the path, e.g. `Create`. */
  readonly method: string
  /** Full path, e.g. `/VolumeDriver.Create`. */
  readonly path: `/${string}`
  /** Name of the driver method that serves it, e.g. `create`. */
  readonly key: Key
  readonly request: Req
  readonly response: Res
  readonly optional: Optional
  readonly whenAbsent: WhenAbsent
  /** One sentence for docs, `dpk schema` and JSON Schema `description`. */
  readonly description: string
  /** Field in which a 200 answer carries an error (`Err`, or `Error` for IPAM); the API's. */
  readonly errorField: ErrorField
  /** The daemon's own per-attempt timeout of this call; `undefined` when it waits as long as it takes. */
  readonly daemonTimeout: Duration.Duration | undefined
  /**
   * How long the server lets the driver take before answering `Err` (`Duration.infinity`: no deadline). Streamed
   * endpoints have none by default: a large layer or a long log must not fail at an arbitrary time.
   */
  readonly deadline: Duration.Duration
}

/**
 * Any endpoint.
 *
 * @since 0.1.0
 */
export type Any = Endpoint<string, JsonRequest | StreamRequest, JsonResponse | StreamResponse, boolean>

/**
 * What the driver method receives for an endpoint: the decoded JSON body, or the decoded query plus the byte stream.
 *
 * @since 0.1.0
 */
export type Input<E extends Any> =
  E["request"] extends JsonRequest<infer S>
    ? S["Type"]
    : E["request"] extends StreamRequest<infer Q>
      ? Q["Type"] & { readonly body: Stream.Stream<Uint8Array, BodyError> }
      : never

/**
 * What the driver method returns for an endpoint: the JSON body without the error field, or a byte stream.
 *
 * @since 0.1.0
 */
export type Output<E extends Any> =
  E["response"] extends JsonResponse<infer S>
    ? S["Type"]
    : E["response"] extends StreamResponse
      ? Stream.Stream<Uint8Array, DriverFailure>
      : never

/**
 * The driver method that serves an endpoint.
 *
 * @since 0.1.0
 */
export type Handler<E extends Any> = (request: Input<E>) => Effect.Effect<Output<E>, DriverFailure>

/**
 * Options shared by the endpoint builders.
 *
 * @since 0.1.0
 */
export interface Options<Optional extends boolean> {
  readonly description: string
  /** Marks the endpoint optional in the driver interface; `whenAbsent` says what the server answers then. */
  readonly optional?: Optional
  readonly whenAbsent?: WhenAbsent
  /** The daemon's per-attempt timeout of this call, when it differs from the API's. */
  readonly daemonTimeout?: Duration.Input
  /** The server's default deadline, when it differs from the API's (`"Infinity"` for none). */
  readonly deadline?: Duration.Input
}

/**
 * The facts `PluginApi.make` stamps onto each endpoint from the API declaration.
 *
 * @since 0.1.0
 */
export type Stamped = "api" | "path" | "key" | "errorField" | "daemonTimeout" | "deadline"

/**
 * An endpoint before `PluginApi.make` gives it its subsystem prefix and the API's facts; `daemonTimeout` and
 * `deadline` are present only when the endpoint overrides the API's.
 *
 * @since 0.1.0
 */
export type Spec<E extends Any> = Omit<E, Stamped> & {
  readonly daemonTimeout?: Duration.Duration | undefined
  readonly deadline?: Duration.Duration | undefined
}

/**
 * Whether either body of an endpoint is a byte stream.
 *
 * @since 0.1.0
 */
export const isStreamed = (endpoint: Pick<Any, "request" | "response">): boolean =>
  endpoint.request._tag === "Stream" || endpoint.response._tag === "Stream"

/**
 * A spec completed with the facts of its API.
 *
 * @since 0.1.0
 */
export type Completed<S, Api extends string, Key extends string> = Omit<S, "daemonTimeout" | "deadline"> & {
  readonly api: Api
  readonly path: `/${string}`
  readonly key: Key
  readonly errorField: ErrorField
  readonly daemonTimeout: Duration.Duration | undefined
  readonly deadline: Duration.Duration
}

/**
 * Completes a spec with the facts of its API: path, driver method name, error field, the daemon's timeout and the
 * server's deadline. An endpoint's own `daemonTimeout`/`deadline` win over the API's; a streamed endpoint gets no
 * deadline unless it declares one.
 *
 * @since 0.1.0
 */
export const complete = <S extends Spec<Any>, const Api extends string, const Key extends string>(
  spec: S,
  facts: {
    readonly api: Api
    readonly key: Key
    readonly errorField: ErrorField
    readonly daemonTimeout?: Duration.Input | undefined
    readonly deadline?: Duration.Input | undefined
  }
): Completed<S, Api, Key> => ({
  ...spec,
  api: facts.api,
  key: facts.key,
  path: `/${facts.api}.${spec.method}` as const,
  errorField: facts.errorField,
  daemonTimeout:
    spec.daemonTimeout ??
    (facts.daemonTimeout === undefined ? undefined : Duration.fromInputUnsafe(facts.daemonTimeout)),
  deadline:
    spec.deadline ??
    (isStreamed(spec)
      ? Duration.infinity
      : facts.deadline === undefined
        ? defaultDeadline
        : Duration.fromInputUnsafe(facts.deadline))
})

/** The fields every builder takes from its options the same way. */
const common = <Optional extends boolean>(options: Options<Optional>) => ({
  optional: (options.optional ?? false) as Optional,
  whenAbsent: options.whenAbsent ?? ({ _tag: "NotFound" } as const),
  description: options.description,
  ...(options.daemonTimeout === undefined ? {} : { daemonTimeout: Duration.fromInputUnsafe(options.daemonTimeout) }),
  ...(options.deadline === undefined ? {} : { deadline: Duration.fromInputUnsafe(options.deadline) })
})

/**
 * A JSON-in, JSON-out endpoint.
 *
 * @since 0.1.0
 */
export const json = <Req extends WireSchema, Res extends WireSchema, const Optional extends boolean = false>(
  method: string,
  request: Req,
  response: Res,
  options: Options<Optional> & { readonly emptyBody?: boolean; readonly statusOnly?: boolean }
): Spec<Endpoint<string, JsonRequest<Req>, JsonResponse<Res>, Optional>> => ({
  method,
  request: { _tag: "Json", schema: request, emptyBody: options.emptyBody ?? false },
  response: options.statusOnly
    ? { _tag: "Json", schema: response, statusOnly: true }
    : { _tag: "Json", schema: response },
  ...common(options)
})

/**
 * A JSON-in, byte-stream-out endpoint.
 *
 * @since 0.1.0
 */
export const jsonToStream = <Req extends WireSchema, const Optional extends boolean = false>(
  method: string,
  request: Req,
  contentType: string,
  options: Options<Optional>
): Spec<Endpoint<string, JsonRequest<Req>, StreamResponse, Optional>> => ({
  method,
  request: { _tag: "Json", schema: request, emptyBody: false },
  response: { _tag: "Stream", contentType },
  ...common(options)
})

/**
 * A byte-stream-in (parameters in the query string), JSON-out endpoint.
 *
 * @since 0.1.0
 */
export const streamToJson = <Query extends WireSchema, Res extends WireSchema, const Optional extends boolean = false>(
  method: string,
  query: Query,
  contentType: string,
  response: Res,
  options: Options<Optional>
): Spec<Endpoint<string, StreamRequest<Query>, JsonResponse<Res>, Optional>> => ({
  method,
  request: { _tag: "Stream", query, contentType },
  response: { _tag: "Json", schema: response },
  ...common(options)
})
