/**
 * A fake Docker daemon for authorization plugins: replays the hooks dockerd 20.10.24 runs around every Engine API
 * request (protocol/authorization.md, "Flow per Engine API request"): `AuthZReq` to each plugin of the chain in
 * order, the handler, then `AuthZRes` to each. It forwards bodies by the daemon's rules (JSON under 1 MiB only,
 * never for `/auth`; sensitive headers removed), reads answers as the daemon does (a 200 `Err` is ignored), and
 * reports what the user would see: the handler's status, 403 `authorization denied by plugin NAME: MSG`, or 500
 * `plugin NAME failed with error: ...`. No Docker needed.
 *
 * @since 0.1.0
 */
import { type CallError, PluginClient } from "@docker-plugin-kit/client"
import { Authorization } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type { Call } from "./FakeDaemon.ts"

const E = Authorization.Api.endpoints

/**
 * An Engine API request as a client sends it.
 *
 * @since 0.1.0
 */
export interface ApiRequest {
  readonly method: string
  /** With the version prefix and query, e.g. `/v1.41/containers/create`. */
  readonly uri: string
  readonly headers?: Readonly<Record<string, string>>
  /** A JSON body (sent as `application/json`), or raw bytes under their own content type. */
  readonly body?:
    | { readonly _tag: "Json"; readonly value: unknown }
    | { readonly _tag: "Raw"; readonly contentType: string; readonly bytes: Uint8Array }
  /** The TLS client's common name and certificates (PEM), when the client authenticated. */
  readonly tls?: { readonly user: string; readonly certificates?: ReadonlyArray<string> }
}

/**
 * What the daemon's handler answered (before `AuthZRes`).
 *
 * @since 0.1.0
 */
export interface ApiResponse {
  readonly status: number
  readonly contentType?: string
  readonly body?: string
  /** A streamed or hijacked response (events, logs -f, attach): flushed before AuthZRes, which sees no status. */
  readonly streamed?: boolean
}

/**
 * What one API request came to.
 *
 * @since 0.1.0
 */
export interface Outcome {
  readonly request: ApiRequest
  /** The status the client got: the handler's, 403 (denied) or 500 (a plugin failed). */
  readonly status: number
  /** What the client shows, for 403 and 500. */
  readonly error?: string
  readonly calls: ReadonlyArray<Call & { readonly plugin: string }>
}

/**
 * What one CLI command came to: its requests in order, up to the first refused one.
 *
 * @since 0.1.0
 */
export interface CommandOutcome {
  readonly command: string
  readonly outcomes: ReadonlyArray<Outcome>
  /** The first refusal, as the CLI prints it (`Error response from daemon: ...`). */
  readonly error?: string
}

/**
 * One plugin of the chain.
 *
 * @since 0.1.0
 */
export interface ChainedPlugin {
  readonly name: string
  readonly client: PluginClient.PluginClient
}

/**
 * A fake daemon with an authorization chain.
 *
 * @since 0.1.0
 */
export interface AuthzDaemon {
  /** Daemon start: every plugin is activated and must implement `authz` (the real daemon refuses to start). */
  readonly start: Effect.Effect<{ readonly error?: string }>
  /** One API request through the chain; `response` is what the handler would answer (default 200 `{}`). */
  readonly call: (request: ApiRequest, response?: ApiResponse) => Effect.Effect<Outcome>
  /** A command as a sequence of requests, stopping at the first one refused. */
  readonly command: (
    name: string,
    steps: ReadonlyArray<readonly [ApiRequest, ApiResponse?]>
  ) => Effect.Effect<CommandOutcome>
}

/** The largest body the daemon forwards is one byte under 1 MiB. */
const maxForwardedBody = 1024 * 1024

const removedHeaders = new Set(["authorization", "x-registry-auth", "x-registry-config"])

const isJson = (contentType: string | undefined) =>
  contentType !== undefined && contentType.split(";")[0]!.trim().toLowerCase() === "application/json"

const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString("base64")

/**
 * The `AuthZReq` body the daemon builds for a request.
 *
 * @since 0.1.0
 */
export const authZRequestOf = (request: ApiRequest): Authorization.AuthZRequest => {
  const headers: Record<string, string> = {}
  const bytes =
    request.body === undefined
      ? undefined
      : request.body._tag === "Json"
        ? Buffer.from(`${JSON.stringify(request.body.value)}\n`)
        : request.body.bytes
  const contentType =
    request.body === undefined
      ? undefined
      : request.body._tag === "Json"
        ? "application/json"
        : request.body.contentType
  if (contentType !== undefined) headers["Content-Type"] = contentType
  if (bytes !== undefined) headers["Content-Length"] = String(bytes.length)
  headers["User-Agent"] = "Docker-Client/20.10.24 (linux)"
  for (const [k, v] of Object.entries(request.headers ?? {})) if (!removedHeaders.has(k.toLowerCase())) headers[k] = v
  const path = request.uri.split("?")[0]!
  const forward =
    bytes !== undefined &&
    isJson(contentType) &&
    bytes.length > 0 &&
    bytes.length < maxForwardedBody &&
    !/^(\/v[0-9.]+)?\/auth$/.test(path)
  return {
    ...(request.tls === undefined ? {} : { User: request.tls.user, UserAuthNMethod: "TLS" }),
    RequestMethod: request.method,
    RequestUri: request.uri,
    ...(forward ? { RequestBody: b64(bytes) } : {}),
    RequestHeaders: headers,
    ...(request.tls?.certificates === undefined || request.tls.certificates.length === 0
      ? {}
      : { RequestPeerCertificates: request.tls.certificates.map(b64) })
  }
}

/**
 * The `AuthZRes` body the daemon builds for a request and its handler's response.
 *
 * @since 0.1.0
 */
export const authZResponseRequestOf = (
  request: ApiRequest,
  response: ApiResponse
): Authorization.AuthZResponseRequest => {
  const base = authZRequestOf(request)
  if (response.streamed === true) return base
  const contentType = response.contentType ?? "application/json"
  return {
    ...base,
    ResponseStatusCode: response.status,
    ...(isJson(contentType) && response.body !== undefined && response.body !== ""
      ? { ResponseBody: b64(response.body) }
      : {}),
    ResponseHeaders: { "Api-Version": "1.41", "Content-Type": contentType, Server: "Docker/20.10.24 (linux)" }
  }
}

/**
 * The message a denial shows.
 *
 * @since 0.1.0
 */
export const deniedMessage = (plugin: string, msg: string): string => `authorization denied by plugin ${plugin}: ${msg}`

/**
 * The message a failed plugin call shows.
 *
 * @since 0.1.0
 */
export const failedMessage = (plugin: string, error: CallError): string =>
  `plugin ${plugin} failed with error: ${error.message}`

/**
 * A fake daemon whose authorization chain is `plugins`, in order.
 *
 * @since 0.1.0
 */
export const make = (plugins: ReadonlyArray<ChainedPlugin>): Effect.Effect<AuthzDaemon> =>
  Effect.sync(() => {
    /** One hook call, read like the daemon: a decision, or the error that refuses the request. */
    const hook = (plugin: ChainedPlugin, step: "AuthZReq" | "AuthZRes", body: unknown) => {
      const endpoint = step === "AuthZReq" ? E.authZReq : E.authZRes
      return Effect.match(plugin.client.exchange(endpoint.path, body), {
        onFailure: (error) => ({
          call: {
            plugin: plugin.name,
            step,
            request: { path: endpoint.path, body: `${JSON.stringify(body)}\n` },
            outcome: `error: ${error.message}`
          },
          result: Result.fail(error) as Result.Result<Authorization.AuthZResponse, CallError>
        }),
        onSuccess: (exchange) => {
          const result = PluginClient.interpretJson(
            endpoint.path,
            exchange.response.status,
            exchange.response.text,
            Authorization.AuthZResponse,
            "Err"
          ) as Result.Result<Authorization.AuthZResponse, CallError>
          return {
            call: {
              plugin: plugin.name,
              step,
              request: exchange.request,
              response: exchange.response,
              outcome: Result.isSuccess(result)
                ? result.success.Allow
                  ? "allow"
                  : `deny: ${result.success.Msg ?? ""}`
                : `error: ${result.failure.message}`
            },
            result
          }
        }
      })
    }

    /** Runs one phase through the chain; the first refusal ends it. */
    const phase = (step: "AuthZReq" | "AuthZRes", body: unknown, calls: Array<Outcome["calls"][number]>) =>
      Effect.gen(function* () {
        for (const plugin of plugins) {
          const { call, result } = yield* hook(plugin, step, body)
          calls.push(call)
          if (Result.isFailure(result)) return { status: 500, error: failedMessage(plugin.name, result.failure) }
          if (!result.success.Allow) return { status: 403, error: deniedMessage(plugin.name, result.success.Msg ?? "") }
        }
        return undefined
      })

    const call = (request: ApiRequest, response: ApiResponse = { status: 200, body: "{}" }): Effect.Effect<Outcome> =>
      Effect.gen(function* () {
        const calls: Array<Outcome["calls"][number]> = []
        const refused =
          (yield* phase("AuthZReq", authZRequestOf(request), calls)) ??
          (yield* phase("AuthZRes", authZResponseRequestOf(request, response), calls))
        // A streamed response already reached the client: AuthZRes can no longer hold it back.
        if (refused !== undefined && !(response.streamed === true && calls.at(-1)?.step === "AuthZRes")) {
          return { request, calls, ...refused }
        }
        return { request, calls, status: response.status }
      })

    const command = (name: string, steps: ReadonlyArray<readonly [ApiRequest, ApiResponse?]>) =>
      Effect.gen(function* () {
        const outcomes: Array<Outcome> = []
        for (const [request, response] of steps) {
          const outcome = yield* call(request, response)
          outcomes.push(outcome)
          if (outcome.error !== undefined) {
            return { command: name, outcomes, error: `Error response from daemon: ${outcome.error}` }
          }
        }
        return { command: name, outcomes }
      })

    const start = Effect.gen(function* () {
      for (const plugin of plugins) {
        const activated = yield* Effect.result(plugin.client.activate)
        if (Result.isFailure(activated)) return { error: `plugin ${plugin.name} failed: ${activated.failure.message}` }
        if (!(activated.success.Implements ?? []).includes("authz")) {
          return { error: `plugin ${plugin.name} does not implement authz` }
        }
      }
      return {}
    })

    return { start, call, command }
  })

/**
 * The requests of common commands, as the 20.10 CLI sends them (after its `HEAD /_ping`).
 *
 * @since 0.1.0
 */
export const commands = {
  ping: [
    [
      { method: "HEAD", uri: "/_ping" },
      { status: 200, contentType: "text/plain", body: "OK" }
    ]
  ],
  /** `docker run [HOSTCONFIG] IMAGE`: create, then start. */
  run: (image: string, hostConfig: Record<string, unknown> = {}) => [
    [
      { method: "HEAD", uri: "/_ping" },
      { status: 200, contentType: "text/plain" }
    ],
    [
      {
        method: "POST",
        uri: "/v1.41/containers/create",
        body: { _tag: "Json", value: { Image: image, HostConfig: hostConfig } }
      },
      { status: 201, body: '{"Id":"c0ffee","Warnings":[]}' }
    ],
    [
      { method: "POST", uri: "/v1.41/containers/c0ffee/start" },
      { status: 204, contentType: "text/plain" }
    ]
  ],
  /** `docker cp FILE CONTAINER:/tmp`: stat the target, then upload a tar. */
  copyIn: (container: string, tar: Uint8Array) => [
    [{ method: "HEAD", uri: `/v1.41/containers/${container}/archive?path=%2Ftmp` }, { status: 200 }],
    [
      {
        method: "PUT",
        uri: `/v1.41/containers/${container}/archive?noOverwriteDirNonDir=true&path=%2Ftmp`,
        body: { _tag: "Raw", contentType: "application/x-tar", bytes: tar }
      },
      { status: 200, contentType: "text/plain" }
    ]
  ],
  /** `docker events`: a stream. */
  events: [
    [
      { method: "GET", uri: "/v1.41/events" },
      { status: 200, streamed: true }
    ]
  ],
  /** `docker load`: a tar upload. */
  load: (tar: Uint8Array) => [
    [
      {
        method: "POST",
        uri: "/v1.41/images/load?quiet=1",
        body: { _tag: "Raw", contentType: "application/x-tar", bytes: tar }
      },
      { status: 200, streamed: true }
    ]
  ]
} satisfies Record<
  string,
  | ReadonlyArray<readonly [ApiRequest, ApiResponse?]>
  | ((...args: ReadonlyArray<any>) => ReadonlyArray<readonly [ApiRequest, ApiResponse?]>)
>
