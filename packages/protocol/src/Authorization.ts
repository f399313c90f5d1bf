/**
 * The authorization plugin API (`/AuthZPlugin.*`, manifest entry `authz`): the daemon asks before handling each
 * Engine API request (`AuthZReq`) and again before sending its response (`AuthZRes`).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import * as Endpoint from "./Endpoint.ts"
import * as PluginApi from "./PluginApi.ts"

/**
 * A Go `[]byte` as JSON carries it: standard, padded base64.
 *
 * @since 0.1.0
 */
export const Base64 = Schema.String.check(Schema.isBase64())

/**
 * HTTP headers flattened to their last value, Go-canonical names.
 *
 * @since 0.1.0
 */
export const Headers = Schema.Record(Schema.String, Schema.String)

const requestFields = {
  /** Common name of the client's TLS certificate; absent without TLS client authentication. */
  User: Schema.optionalKey(Schema.String),
  /** `TLS` when `User` is set. */
  UserAuthNMethod: Schema.optionalKey(Schema.String),
  RequestMethod: Schema.optionalKey(Schema.String),
  /** Request target with API version and query string, e.g. `/v1.41/containers/json?all=1` (note the spelling). */
  RequestUri: Schema.optionalKey(Schema.String),
  /** Base64 of the request body: only for `application/json` bodies under 1 MiB, never for `/auth`. */
  RequestBody: Schema.optionalKey(Base64),
  /** `Authorization`, `X-Registry-Auth` and `X-Registry-Config` are removed. */
  RequestHeaders: Schema.optionalKey(Headers),
  /** One entry per client certificate: base64 of its PEM text. */
  RequestPeerCertificates: Schema.optionalKey(Schema.Array(Base64))
}

/**
 * `AuthZReq` request: the Engine API request about to be handled. Every field is absent when empty.
 *
 * @since 0.1.0
 */
export const AuthZRequest = Schema.Struct(requestFields)

/**
 * @since 0.1.0
 */
export type AuthZRequest = typeof AuthZRequest.Type

/**
 * `AuthZRes` request: the same request fields plus the response the daemon produced (buffered up to 64 KiB;
 * `ResponseBody` only for `application/json` responses). Every field is absent when empty.
 *
 * @since 0.1.0
 */
export const AuthZResponseRequest = Schema.Struct({
  ...requestFields,
  ResponseStatusCode: Schema.optionalKey(Schema.Int),
  ResponseBody: Schema.optionalKey(Base64),
  ResponseHeaders: Schema.optionalKey(Headers)
})

/**
 * @since 0.1.0
 */
export type AuthZResponseRequest = typeof AuthZResponseRequest.Type

/**
 * The decision, for both endpoints: `Allow: false` makes the daemon answer 403 with `Msg` appended. `Err` in a
 * 200 answer is ignored by the daemon, so a failure must be reported as a failed call.
 *
 * @since 0.1.0
 */
export const AuthZResponse = Schema.Struct({
  Allow: Schema.Boolean,
  Msg: Schema.optionalKey(Schema.String)
})

/**
 * @since 0.1.0
 */
export type AuthZResponse = typeof AuthZResponse.Type

/**
 * The authorization API declaration.
 *
 * @since 0.1.0
 */
export const Api = PluginApi.make({
  prefix: "AuthZPlugin",
  subsystem: "authz",
  interfaceType: "docker.authz/1.0",
  endpoints: {
    authZReq: Endpoint.json("AuthZReq", AuthZRequest, AuthZResponse, {
      description: "Allow or deny an Engine API request before the daemon handles it."
    }),
    authZRes: Endpoint.json("AuthZRes", AuthZResponseRequest, AuthZResponse, {
      description: "Allow or deny sending the daemon's response to an Engine API request."
    })
  }
})

/**
 * The driver interface an authorization plugin implements.
 *
 * @since 0.1.0
 */
export type Driver = PluginApi.Driver<typeof Api>

/**
 * The service through which an authorization driver is provided to the server.
 *
 * @since 0.1.0
 */
export class Authorization extends Context.Service<Authorization, Driver>()(Api.serviceKey) {}

/**
 * Builds a Authorization driver from exactly its methods: an unknown or misspelt method does not compile.
 *
 * @since 0.1.0
 */
export const make = PluginApi.driverConstructor(Api)
