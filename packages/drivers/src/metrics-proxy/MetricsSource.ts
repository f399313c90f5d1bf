/**
 * Where a metrics collector reads the engine's metrics: the daemon's metrics socket (`GET /metrics`, Prometheus
 * text), or a fixed text for tests.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Http from "node:http"

/**
 * The metrics could not be read.
 *
 * @since 0.1.0
 */
export class ScrapeFailed extends Data.TaggedError("ScrapeFailed")<{
  readonly source: string
  readonly reason: string
}> {
  override get message() {
    return `cannot read the engine's metrics from ${this.source}: ${this.reason}`
  }
}

/**
 * The source.
 *
 * @since 0.1.0
 */
export class MetricsSource extends Context.Service<
  MetricsSource,
  { readonly scrape: Effect.Effect<string, ScrapeFailed> }
>()("@docker-plugin-kit/drivers/MetricsSource") {}

/**
 * The daemon's metrics socket.
 *
 * @since 0.1.0
 */
export const layerSocket = (socketPath: string): Layer.Layer<MetricsSource> =>
  Layer.succeed(MetricsSource, {
    scrape: Effect.callback<string, ScrapeFailed>((resume) => {
      const fail = (reason: string) => resume(Effect.fail(new ScrapeFailed({ source: socketPath, reason })))
      const request = Http.get({ socketPath, path: "/metrics", timeout: 10_000 }, (response) => {
        let text = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => {
          text += chunk
        })
        response.on("end", () =>
          response.statusCode === 200 ? resume(Effect.succeed(text)) : fail(`status ${response.statusCode}`)
        )
        response.on("error", (e) => fail(e.message))
      })
      request.on("timeout", () => request.destroy(new Error("no answer within 10 s")))
      request.on("error", (e) => fail(e.message))
      return Effect.sync(() => request.destroy())
    })
  })

/**
 * A fixed text, for tests.
 *
 * @since 0.1.0
 */
export const layerFixed = (text: string): Layer.Layer<MetricsSource> =>
  Layer.succeed(MetricsSource, { scrape: Effect.succeed(text) })
