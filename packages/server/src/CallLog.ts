/**
 * The record of each call a verbose server logs: one Info line per answer, with the endpoint, the status, the
 * outcome, the duration and, for an answer that is not a success, the reason the daemon was given. Every route is
 * logged the same way: endpoints, `/Plugin.Activate`, optional endpoints answered by default, unknown paths.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import type { Handler } from "./EndpointHandler.ts"

/**
 * The error message of an answer that is not a success: the one string field of `{"Err": …}` (or of the API's own
 * error field), or the status alone for an answer without one.
 *
 * @since 0.1.0
 */
export const reasonOf = (response: HttpServerResponse.HttpServerResponse): string | undefined => {
  const body = response.body
  if (body._tag !== "Uint8Array" || body.text === undefined) return undefined
  try {
    const value: unknown = JSON.parse(body.text)
    const field = typeof value === "object" && value !== null ? Object.values(value)[0] : undefined
    return typeof field === "string" ? field : undefined
  } catch {
    return undefined
  }
}

/**
 * `handler`, logging every call when `verbose` is on; `handler` itself (no per-call work at all) when it is off.
 * `path` names the endpoint in the record; without it, the request's URL does.
 *
 * @since 0.1.0
 */
export const logged = (verbose: boolean, path: string | undefined, handler: Handler): Handler => {
  if (!verbose) return handler
  return (request) =>
    Effect.suspend(() => {
      const started = performance.now()
      return Effect.tap(handler(request), (response) => {
        const ok = response.status === 200
        const reason = ok ? undefined : reasonOf(response)
        return Effect.logInfo("plugin call").pipe(
          Effect.annotateLogs({
            endpoint: path ?? request.url,
            status: response.status,
            outcome: ok ? "ok" : "error",
            durationMs: Math.round((performance.now() - started) * 1000) / 1000,
            ...(reason === undefined ? {} : { reason })
          })
        )
      })
    })
}
