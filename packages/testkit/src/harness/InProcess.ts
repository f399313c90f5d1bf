/**
 * Call a driver Layer through the real router and the real wire encoding, in-process, without a socket.
 *
 * @since 0.1.0
 */
import { PluginClient, Transport } from "@docker-plugin-kit/client"
import type { PluginApi } from "@docker-plugin-kit/protocol"
import { PluginServer } from "@docker-plugin-kit/server"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as HttpEffect from "effect/http/HttpEffect"
import * as HttpRouter from "effect/http/HttpRouter"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"

/**
 * A response as the daemon would receive it.
 *
 * @since 0.1.0
 */
export interface PluginResponse {
  readonly status: number
  readonly contentType: string | null
  readonly text: string
  /** The parsed JSON body, or `undefined` when the body is not JSON. */
  readonly body: unknown
}

/**
 * A plugin served in-process.
 *
 * @since 0.1.0
 */
export interface InProcessPlugin {
  /**
   * POSTs to `path`. A string body is sent verbatim (to test malformed input); any other value is JSON-encoded
   * with the trailing newline the daemon adds; no body sends an empty request like the daemon's argument-less calls.
   */
  readonly call: (path: string, body?: unknown) => Effect.Effect<PluginResponse>
  /** The fetch-style handler behind `call`, for streaming tests. */
  readonly fetch: (request: Request) => Promise<Response>
  /** A daemon-side client over the same handler (activation, typed calls, the daemon's error model). */
  readonly client: PluginClient.PluginClient
  /** The typed driver of `api`, every method a call through the router. */
  readonly driver: <A extends PluginApi.Any>(api: A) => PluginApi.Driver<A>
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * Serves `drivers` (a Layer of driver services only) in-process for the life of the scope. The drivers and the
 * router are built before this succeeds, so a driver Layer's error (`E`) or a start-up error of the server (no
 * driver, a missing method) fails here rather than on the first call. Calls run with the caller's services, so a
 * `TestClock` drives deadlines.
 *
 * @since 0.1.0
 */
export const make = <ROut extends PluginApi.AnyDriverService, E>(
  drivers: Layer.Layer<ROut, E>,
  options: Parameters<typeof PluginServer.router>[0] = {}
): Effect.Effect<InProcessPlugin, E | PluginServer.StartError, Scope.Scope> =>
  Effect.gen(function* () {
    const app = yield* HttpRouter.toHttpEffect(PluginServer.router(options).pipe(Layer.provide(drivers)))
    // Each call runs with the caller's services (its Clock, its Logger) under the request's own ones.
    const captured = yield* Effect.context<never>()
    const handler = HttpEffect.toWebHandler(
      Effect.updateContext(app as Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, never>, (request) =>
        Context.merge(captured, request)
      ) as Effect.Effect<
        HttpServerResponse.HttpServerResponse,
        unknown,
        HttpServerRequest.HttpServerRequest | Scope.Scope
      >
    )
    const fetch = (request: Request) => handler(request)
    const client = yield* PluginClient.make(Transport.fromFetch(fetch), { name: "in-process" })
    return {
      fetch,
      client,
      driver: client.driver,
      call: (path, body) =>
        Effect.promise(async () => {
          const payload = body === undefined ? undefined : typeof body === "string" ? body : `${JSON.stringify(body)}\n`
          const response = await fetch(
            new Request(`http://plugin${path}`, {
              method: "POST",
              headers: { accept: "application/vnd.docker.plugins.v1.2+json" },
              ...(payload === undefined ? {} : { body: payload })
            })
          )
          const text = await response.text()
          return {
            status: response.status,
            contentType: response.headers.get("content-type"),
            text,
            body: parseJson(text)
          }
        })
    } satisfies InProcessPlugin
  })
