/**
 * One declaration per plugin endpoint: path, request and response schemas and how each body travels.
 * Server routes, the typed client and JSON Schema documents are all derived from these values.
 *
 * @since 0.1.0
 */
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
 * A JSON response body. On success the server encodes the driver's value with `schema`; the error field (`Err`,
 * or `Error` for IPAM) is added by the server only when the driver fails.
 *
 * @since 0.1.0
 */
export interface JsonResponse<S extends WireSchema = WireSchema> {
  readonly _tag: "Json"
  readonly schema: S
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
 * daemon's default), or 404 (which the daemon reads as "not implemented").
 *
 * @since 0.1.0
 */
export type WhenAbsent = { readonly _tag: "Respond"; readonly body: unknown } | { readonly _tag: "NotFound" }

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
}

/**
 * An endpoint before `PluginApi.make` gives it its subsystem prefix.
 *
 * @since 0.1.0
 */
export type Spec<E extends Any> = Omit<E, "api" | "path" | "key">

/**
 * A JSON-in, JSON-out endpoint.
 *
 * @since 0.1.0
 */
export const json = <Req extends WireSchema, Res extends WireSchema, const Optional extends boolean = false>(
  method: string,
  request: Req,
  response: Res,
  options: Options<Optional> & { readonly emptyBody?: boolean }
): Spec<Endpoint<string, JsonRequest<Req>, JsonResponse<Res>, Optional>> => ({
  method,
  request: { _tag: "Json", schema: request, emptyBody: options.emptyBody ?? false },
  response: { _tag: "Json", schema: response },
  optional: (options.optional ?? false) as Optional,
  whenAbsent: options.whenAbsent ?? { _tag: "NotFound" },
  description: options.description
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
  optional: (options.optional ?? false) as Optional,
  whenAbsent: options.whenAbsent ?? { _tag: "NotFound" },
  description: options.description
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
  optional: (options.optional ?? false) as Optional,
  whenAbsent: options.whenAbsent ?? { _tag: "NotFound" },
  description: options.description
})
