/**
 * The request of `AuthZPlugin.AuthZReq` / `AuthZRes` as a plugin wants it: method, matched Engine API route,
 * the JSON body decoded (or why there is none), user and authentication method, peer certificates as PEM text.
 *
 * A missing body is not an empty body: the daemon forwards a request body only when it is `application/json`
 * and smaller than 1 MiB, so "no `RequestBody`" under a JSON content type means "unknown" (`Withheld`), and a
 * decision that depends on the body must then deny.
 *
 * @since 0.1.0
 */
import type { Authorization } from "@docker-plugin-kit/protocol"
import * as EngineRoute from "./EngineRoute.ts"
import * as GoJson from "./internal/goJson.ts"

/**
 * What is known of a body.
 *
 * - `Json`: the daemon forwarded it and it parsed.
 * - `NotJson`: not forwarded, and its content type is not `application/json` (or there is none): GETs, tar uploads
 *   of `docker cp` and `docker load`, build contexts. The content type seen is the last one sent while the daemon
 *   goes by the first, so a request that sends two may still have a JSON body the daemon reads.
 * - `Empty`: declared `application/json` with a `Content-Length` of 0: there was no body to forward (the daemon
 *   drops `Content-Length` from a chunked request, whose body it does not forward either: that one is `Withheld`).
 * - `Withheld`: declared `application/json` but not forwarded (1 MiB or more, or its length unknown).
 * - `Unreadable`: forwarded, but not base64 or not JSON.
 *
 * @since 0.1.0
 */
export type Body =
  | { readonly _tag: "Json"; readonly value: unknown }
  | { readonly _tag: "NotJson"; readonly contentType: string | undefined }
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Withheld"; readonly reason: string }
  | { readonly _tag: "Unreadable"; readonly reason: string }

/**
 * The daemon's response, for `AuthZRes`.
 *
 * @since 0.1.0
 */
export interface Response {
  /** Absent when the handler had not set it before the response was flushed (streams, hijacked connections). */
  readonly status: number | undefined
  readonly headers: Readonly<Record<string, string>>
  readonly body: Body
}

/**
 * An authorization request.
 *
 * @since 0.1.0
 */
export interface AuthzRequest {
  /** Upper-case HTTP method; empty when the daemon sent none. */
  readonly method: string
  /** The `RequestUri` as sent, e.g. `/v1.41/containers/json?all=1`. */
  readonly uri: string
  readonly route: EngineRoute.EngineRoute
  readonly headers: Readonly<Record<string, string>>
  readonly body: Body
  /** Common name of the client's TLS certificate; `undefined` without TLS client authentication. */
  readonly user: string | undefined
  /** `TLS` when `user` is set. */
  readonly authMethod: string | undefined
  /** The client's certificates as PEM text (`-----BEGIN CERTIFICATE-----…`). */
  readonly peerCertificates: ReadonlyArray<string>
  /** Only for `AuthZRes`. */
  readonly response?: Response
}

/**
 * A header value looked up case-insensitively (the daemon sends Go-canonical names, proxies may not).
 *
 * @since 0.1.0
 */
export const header = (headers: Readonly<Record<string, string>> | undefined, name: string): string | undefined => {
  if (headers === undefined) return undefined
  const lower = name.toLowerCase()
  for (const key of Object.keys(headers)) if (key.toLowerCase() === lower) return headers[key]
  return undefined
}

/**
 * The media type of a `Content-Type`, as Go's `mime.ParseMediaType` reads it: in lower case, parameters such as
 * `charset` left out.
 *
 * @since 0.1.0
 */
export const mediaType = (contentType: string): string => contentType.split(";")[0]!.trim().toLowerCase()

/**
 * Whether a `Content-Type` is JSON as the daemon decides it: media type exactly `application/json`, parameters
 * such as `charset` ignored.
 *
 * @since 0.1.0
 */
export const isJsonContentType = (contentType: string | undefined): boolean =>
  contentType !== undefined && mediaType(contentType) === "application/json"

const strictBase64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * Decodes a Go `[]byte` (standard padded base64); `undefined` when it is not valid base64.
 *
 * @since 0.1.0
 */
export const decodeBase64 = (text: string): Buffer | undefined =>
  strictBase64.test(text) ? Buffer.from(text, "base64") : undefined

/**
 * Reads a forwarded body under its content type and its `Content-Length` header (when the daemon sent one). A
 * forwarded body is read as JSON whatever content type is shown: the daemon forwards only bodies whose first
 * `Content-Type` is JSON, and shows the last one (`Content-Type` sent twice, `application/json` then `text/plain`).
 *
 * @since 0.1.0
 */
export const readBody = (
  encoded: string | undefined,
  contentType: string | undefined,
  contentLength?: string | undefined
): Body => {
  if (encoded === undefined || encoded === "") {
    if (!isJsonContentType(contentType)) return { _tag: "NotJson", contentType }
    if (contentLength?.trim() === "0") return { _tag: "Empty" }
    return {
      _tag: "Withheld",
      reason: "the daemon did not forward the JSON body (it forwards only bodies under 1 MiB with a known length)"
    }
  }
  const bytes = decodeBase64(encoded)
  if (bytes === undefined) return { _tag: "Unreadable", reason: "the body is not valid base64" }
  const text = bytes.toString("utf8")
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    return { _tag: "Unreadable", reason: `the body is not valid JSON: ${(e as Error).message}` }
  }
  const repeated = GoJson.repeatedKey(text)
  if (repeated !== undefined) {
    return {
      _tag: "Unreadable",
      reason: `the body repeats the key "${repeated}" in one object, which the daemon's Go decoder reads otherwise than JSON.parse`
    }
  }
  return { _tag: "Json", value }
}

const pemOf = (encoded: string): string => decodeBase64(encoded)?.toString("utf8") ?? ""

/**
 * The request of `AuthZReq`.
 *
 * @since 0.1.0
 */
export const fromRequest = (request: Authorization.AuthZRequest): AuthzRequest => {
  const method = (request.RequestMethod ?? "").toUpperCase()
  const uri = request.RequestUri ?? ""
  const headers = request.RequestHeaders ?? {}
  return {
    method,
    uri,
    route: EngineRoute.match(method === "" ? undefined : method, uri),
    headers,
    body: readBody(request.RequestBody, header(headers, "Content-Type"), header(headers, "Content-Length")),
    user: request.User === undefined || request.User === "" ? undefined : request.User,
    authMethod:
      request.UserAuthNMethod === undefined || request.UserAuthNMethod === "" ? undefined : request.UserAuthNMethod,
    peerCertificates: (request.RequestPeerCertificates ?? []).map(pemOf)
  }
}

/**
 * The request of `AuthZRes`: the same fields plus the daemon's response.
 *
 * @since 0.1.0
 */
export const fromResponseRequest = (
  request: Authorization.AuthZResponseRequest
): AuthzRequest & { readonly response: Response } => {
  const headers = request.ResponseHeaders ?? {}
  return {
    ...fromRequest(request),
    response: {
      status: request.ResponseStatusCode,
      headers,
      body: readBody(request.ResponseBody, header(headers, "Content-Type"), header(headers, "Content-Length"))
    }
  }
}

/**
 * A short description for logs and messages: `POST containers/create (user alice)`.
 *
 * @since 0.1.0
 */
export const describe = (request: AuthzRequest): string =>
  `${request.method || "?"} ${request.route.template ?? request.route.path}${request.user === undefined ? "" : ` (user ${request.user})`}`
