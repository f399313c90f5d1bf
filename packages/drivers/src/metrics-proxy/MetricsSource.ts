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
 * Bounds on one read of the metrics socket: the whole answer must arrive within `timeoutMillis` (default 10 s,
 * Prometheus's default scrape timeout) and be at most `maxBytes` (default 16 MiB, far above the engine's few
 * hundred KiB).
 *
 * @since 0.1.0
 */
export interface SocketOptions {
  readonly timeoutMillis?: number | undefined
  readonly maxBytes?: number | undefined
}

/**
 * The daemon's metrics socket.
 *
 * @since 0.1.0
 */
export const layerSocket = (socketPath: string, options: SocketOptions = {}): Layer.Layer<MetricsSource> => {
  const timeoutMillis = options.timeoutMillis ?? 10_000
  const maxBytes = options.maxBytes ?? 16 * 1024 * 1024
  const failed = (reason: string) => new ScrapeFailed({ source: socketPath, reason })
  const read = Effect.callback<string, ScrapeFailed>((resume) => {
    const fail = (reason: string) => resume(Effect.fail(failed(reason)))
    const request = Http.get({ socketPath, path: "/metrics" }, (response) => {
      const chunks: Array<Buffer> = []
      let size = 0
      response.on("data", (chunk: Buffer) => {
        size += chunk.length
        // Stop reading instead of holding whatever the socket sends: memory stays bounded per scrape.
        if (size > maxBytes) request.destroy(new Error(`the answer is over ${maxBytes} bytes`))
        else chunks.push(chunk)
      })
      response.on("end", () =>
        response.statusCode === 200
          ? resume(Effect.succeed(Buffer.concat(chunks).toString("utf8")))
          : fail(`status ${response.statusCode}`)
      )
      response.on("error", (e) => fail(e.message))
    })
    request.on("error", (e) => fail(e.message))
    return Effect.sync(() => request.destroy())
  })
  return Layer.succeed(MetricsSource, {
    // A deadline on the whole answer, not on each pause: a socket that trickles bytes would otherwise hold the
    // scrape (and its connection) forever.
    scrape: Effect.timeoutOrElse(read, {
      duration: timeoutMillis,
      orElse: () => Effect.fail(failed(`no complete answer within ${timeoutMillis} ms`))
    })
  })
}

/**
 * A fixed text, for tests.
 *
 * @since 0.1.0
 */
export const layerFixed = (text: string): Layer.Layer<MetricsSource> =>
  Layer.succeed(MetricsSource, { scrape: Effect.succeed(text) })
