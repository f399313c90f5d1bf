/**
 * One HTTP round trip to a plugin, with the daemon's headers. Two implementations: `NodeTransport` (Unix socket,
 * TCP, TLS) and `fromFetch` (a fetch-style handler, for plugins served in-process). Everything above it (retries,
 * error model, typed calls) is shared.
 *
 * @since 0.1.0
 */
import { Wire } from "@docker-plugin-kit/protocol"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

/**
 * A request body: nothing (`Content-Length: 0`), bytes (`Content-Length: n`) or a stream (chunked).
 *
 * @since 0.1.0
 */
export type RequestBody =
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  | { readonly _tag: "Stream"; readonly stream: Stream.Stream<Uint8Array, unknown> }

/**
 * A request: always `POST`; `path` may carry a query string.
 *
 * @since 0.1.0
 */
export interface WireRequest {
  readonly path: string
  readonly body: RequestBody
}

/**
 * The response body broke after the status line (the plugin aborted a stream, the connection dropped).
 *
 * @since 0.1.0
 */
export class ResponseBodyError extends Data.TaggedError("ResponseBodyError")<{ readonly reason: string }> {
  override get message() {
    return `the response body broke: ${this.reason}`
  }
}

/**
 * A response: the status line arrived; the body is read on demand.
 *
 * @since 0.1.0
 */
export interface WireResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Stream.Stream<Uint8Array, ResponseBodyError>
}

/**
 * One attempt failed before any response arrived. `retryable` is false once a streamed request body started to
 * flow, because the stream cannot be replayed.
 *
 * @since 0.1.0
 */
export class AttemptFailed extends Data.TaggedError("AttemptFailed")<{
  readonly reason: string
  readonly retryable: boolean
}> {}

/**
 * A way to reach one plugin.
 *
 * @since 0.1.0
 */
export interface Transport {
  /** The address in URL form, for messages (`unix:///run/docker/plugins/x.sock`, `https://h:8443`). */
  readonly address: string
  /** One attempt: the response once its status line arrives, or why no response came. */
  readonly send: (request: WireRequest) => Effect.Effect<WireResponse, AttemptFailed>
}

/**
 * The headers the daemon sends with every call; no `Content-Type` (observed from dockerd 20.10.24).
 *
 * @since 0.1.0
 */
export const daemonHeaders: Readonly<Record<string, string>> = {
  Accept: Wire.DaemonAccept,
  "User-Agent": "Go-http-client/1.1"
}

/**
 * The largest body `readText` reads: far above any JSON answer of a plugin API, and far below what makes a string
 * Node cannot create (512 MiB) or a process the machine cannot hold.
 *
 * @since 0.1.0
 */
export const maxTextBytes = 64 * 1024 * 1024

/**
 * Reads a whole body as text; a body longer than `limit` bytes fails with `ResponseBodyError` as soon as it is,
 * instead of being held in memory (and, past 512 MiB, crashing the process).
 *
 * @since 0.1.0
 */
export const readText = (
  body: Stream.Stream<Uint8Array, ResponseBodyError>,
  limit: number = maxTextBytes
): Effect.Effect<string, ResponseBodyError> =>
  Effect.map(
    Stream.runFoldEffect(
      body,
      () => ({ chunks: [] as Array<Uint8Array>, size: 0 }),
      (acc, chunk) => {
        acc.chunks.push(chunk)
        acc.size += chunk.length
        return acc.size > limit
          ? Effect.fail(new ResponseBodyError({ reason: `the answer is larger than ${limit} bytes` }))
          : Effect.succeed(acc)
      }
    ),
    (acc) => Buffer.concat(acc.chunks).toString("utf8")
  )

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/**
 * A transport over a fetch-style handler (e.g. `HttpRouter.toWebHandler`): the real router and wire encoding,
 * no socket.
 *
 * @since 0.1.0
 */
export const fromFetch = (handler: (request: Request) => Promise<Response>, address = "in-process"): Transport => ({
  address,
  send: (request) =>
    Effect.tryPromise({
      try: async (signal) => {
        const body = request.body
        const init: RequestInit & { duplex?: "half" } = {
          method: "POST",
          headers: daemonHeaders,
          signal,
          // A Uint8Array body adds no Content-Type, unlike a string.
          ...(body._tag === "Bytes"
            ? { body: body.bytes as Uint8Array<ArrayBuffer> }
            : body._tag === "Stream"
              ? { body: Stream.toReadableStream(body.stream), duplex: "half" }
              : {})
        }
        const response = await handler(new Request(`http://plugin${request.path}`, init))
        const headers: Record<string, string> = {}
        response.headers.forEach((value, key) => {
          headers[key] = value
        })
        const stream = response.body
        return {
          status: response.status,
          headers,
          body:
            stream === null
              ? Stream.empty
              : Stream.fromReadableStream({
                  evaluate: () => stream,
                  onError: (e) => new ResponseBodyError({ reason: describe(e) })
                })
        } satisfies WireResponse
      },
      catch: (e) => new AttemptFailed({ reason: describe(e), retryable: replayable(request) })
    })
})

/** A streamed body may have been consumed by a failed attempt, so only byte bodies are sent again. */
const replayable = (request: WireRequest) => request.body._tag !== "Stream"
