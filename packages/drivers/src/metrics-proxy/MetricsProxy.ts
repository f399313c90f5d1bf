/**
 * `metrics-proxy`: a MetricsCollector that serves the engine's metrics on an address of its own once the daemon
 * says they are available (`StartMetrics`), until it says to stop. The engine only starts metrics collectors as
 * managed plugins, whose metrics socket it bind-mounts; a host network lets Prometheus reach the address.
 *
 * @since 0.1.0
 */
import { MetricsCollector } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Http from "node:http"
import { MetricsSource } from "./MetricsSource.ts"

/**
 * Where the metrics are served.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly host: string
  readonly port: number
  /** How long a scraper has to send its whole request once connected (default 10 s). */
  readonly requestTimeoutMillis?: number | undefined
  /** How long a connection may pass nothing either way, an answer the scraper does not read included (default 30 s). */
  readonly idleTimeoutMillis?: number | undefined
}

/**
 * What `GET /metrics` answers, from whether collection is on and what a scrape gave: a pure decision.
 *
 * @since 0.1.0
 */
export const answer = (
  collecting: boolean,
  scraped: { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: string } | undefined
): { readonly status: number; readonly body: string } =>
  !collecting || scraped === undefined
    ? { status: 503, body: "metrics collection has not been started by the engine (StartMetrics)\n" }
    : scraped.ok
      ? { status: 200, body: scraped.text }
      : { status: 502, body: `${scraped.reason}\n` }

/**
 * The driver, and the metrics endpoint it serves while the Layer lives.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<MetricsCollector.MetricsCollector, Error, MetricsSource> =>
  Layer.effect(
    MetricsCollector.MetricsCollector,
    Effect.gen(function* () {
      const source = yield* MetricsSource
      const collecting = yield* Ref.make(false)
      // Scrapes that arrive while one is reading the engine's socket share its answer (nothing is kept after it):
      // however many connections a scraper opens, the engine is read once at a time. The read is interrupted
      // once every scrape waiting on it has left.
      const scrape = yield* Effect.cachedWithTTL(source.scrape, 0)
      const serve = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
        // A query string is the scraper's (Prometheus sends a job's `params:` there) and means nothing here; HEAD
        // is a GET without the body, which Node leaves out itself.
        const path = (request.url ?? "").split("?", 1)[0]
        if ((request.method !== "GET" && request.method !== "HEAD") || path !== "/metrics") {
          response.writeHead(404).end("only GET /metrics\n")
          return
        }
        const decide = Effect.gen(function* () {
          if (!(yield* Ref.get(collecting))) return answer(false, undefined)
          const scraped = yield* Effect.match(scrape, {
            onFailure: (e) => ({ ok: false as const, reason: e.message }),
            onSuccess: (text) => ({ ok: true as const, text })
          })
          return answer(true, scraped)
        })
        // A scraper that leaves (or a server closing its connections) interrupts its scrape, and so releases the
        // connection to the engine's socket, instead of leaving it to run out.
        const left = new AbortController()
        response.once("close", () => left.abort())
        Effect.runPromise(decide, { signal: left.signal }).then(
          ({ status, body }) => response.writeHead(status, { "Content-Type": "text/plain; version=0.0.4" }).end(body),
          () => response.destroy()
        )
      }
      yield* Effect.acquireRelease(
        Effect.callback<Http.Server, Error>((resume) => {
          // Node's defaults let a connection that sends nothing, or half a request, stay open for good: a local
          // process could hold connections (and file descriptors) without end. Such a one gets a 408 and is closed.
          const timeout = options.requestTimeoutMillis ?? 10_000
          const server = Http.createServer(
            { headersTimeout: timeout, requestTimeout: timeout, connectionsCheckingInterval: Math.min(timeout, 1_000) },
            serve
          )
          // Nor does Node close a connection whose scraper stops reading the answer: it would hold the socket and the
          // unsent part of the answer for good. Longer than a read of the engine's socket, which passes nothing.
          server.setTimeout(options.idleTimeoutMillis ?? 30_000)
          const failed = (e: Error) =>
            resume(Effect.fail(new Error(`cannot serve metrics on ${options.host}:${options.port}: ${e.message}`)))
          server.once("error", failed)
          // Node throws at once for a port it refuses (out of range, not a number), instead of emitting "error".
          try {
            server.listen(options.port, options.host, () => resume(Effect.succeed(server)))
          } catch (e) {
            failed(e as Error)
          }
        }),
        // close() waits for every connection to end: a scraper that connects and stays silent, or sends half a
        // request, would hold the shutdown for as long as it likes. Cut them all (scrapes in flight too).
        (server) =>
          Effect.callback<void>((resume) => {
            server.close(() => resume(Effect.void))
            server.closeAllConnections()
          })
      )
      return MetricsCollector.make({
        startMetrics: () => Effect.as(Ref.set(collecting, true), {}),
        stopMetrics: () => Effect.as(Ref.set(collecting, false), {})
      })
    })
  )
