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
      const serve = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
        if (request.method !== "GET" || request.url !== "/metrics") {
          response.writeHead(404).end("only GET /metrics\n")
          return
        }
        const decide = Effect.gen(function* () {
          if (!(yield* Ref.get(collecting))) return answer(false, undefined)
          const scraped = yield* Effect.match(source.scrape, {
            onFailure: (e) => ({ ok: false as const, reason: e.message }),
            onSuccess: (text) => ({ ok: true as const, text })
          })
          return answer(true, scraped)
        })
        Effect.runPromise(decide).then(({ status, body }) =>
          response.writeHead(status, { "Content-Type": "text/plain; version=0.0.4" }).end(body)
        )
      }
      yield* Effect.acquireRelease(
        Effect.callback<Http.Server, Error>((resume) => {
          const server = Http.createServer(serve)
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
        (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
      )
      return MetricsCollector.make({
        startMetrics: () => Effect.as(Ref.set(collecting, true), {}),
        stopMetrics: () => Effect.as(Ref.set(collecting, false), {})
      })
    })
  )
