/**
 * `metrics-proxy` for the CLI: `dpk serve metrics-proxy [--listen HOST:PORT] [--metrics-socket PATH]`; as a managed
 * plugin, `dpk package metrics-proxy --name N`.
 *
 * @since 0.1.0
 */
import { MetricsCollector } from "@docker-plugin-kit/protocol"
import * as Flag from "effect/cli/Flag"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Descriptor from "../Descriptor.ts"
import * as HostPort from "../shared/HostPort.ts"
import type * as MetricsProxy from "./MetricsProxy.ts"

/**
 * A `--listen` value that is not `HOST:PORT`.
 *
 * @since 0.1.0
 */
export class InvalidListen extends Data.TaggedError("InvalidListen")<{
  readonly value: string
  readonly reason: string
}> {
  override get message() {
    return `--listen ${JSON.stringify(this.value)}: ${this.reason}`
  }
}

/**
 * Reads `--listen` (`HostPort.parse`).
 *
 * @since 0.1.0
 */
export const parseListen = (value: string): Result.Result<MetricsProxy.Options, InvalidListen> =>
  Result.mapError(HostPort.parse(value), (reason) => new InvalidListen({ value, reason }))

/**
 * An empty `--metrics-socket`.
 *
 * @since 0.1.0
 */
export class InvalidMetricsSocket extends Data.TaggedError("InvalidMetricsSocket")<{
  readonly value: string
  readonly reason: string
}> {
  override get message() {
    return `--metrics-socket ${JSON.stringify(this.value)}: ${this.reason}`
  }
}

/**
 * Reads `--metrics-socket`: any path but an empty one, which Node takes for no socket at all, reading
 * `http://127.0.0.1:80/metrics` instead (whatever a local process serves there would pass for the engine's metrics).
 *
 * @since 0.1.0
 */
export const parseMetricsSocket = (value: string): Result.Result<string, InvalidMetricsSocket> =>
  value === "" ? Result.fail(new InvalidMetricsSocket({ value, reason: "expects a path" })) : Result.succeed(value)

/**
 * The descriptor.
 *
 * @since 0.1.0
 */
export const descriptor = Descriptor.make({
  name: "metrics-proxy",
  description: "A MetricsCollector serving the engine's Prometheus metrics on an address of its own",
  apis: [MetricsCollector.Api],
  flags: {
    listen: Flag.String("listen").pipe(
      Flag.withDescription("HOST:PORT where GET /metrics is served (default 127.0.0.1:9323)"),
      Flag.withDefault("127.0.0.1:9323")
    ),
    metricsSocket: Flag.String("metrics-socket").pipe(
      Flag.withDescription(`The engine's metrics socket (default ${MetricsCollector.MetricsSocketPath}, as mounted)`),
      Flag.withDefault(MetricsCollector.MetricsSocketPath)
    )
  },
  layer: ({ listen, metricsSocket }) =>
    Layer.unwrap(
      Effect.map(
        Effect.all([Effect.fromResult(parseListen(listen)), Effect.fromResult(parseMetricsSocket(metricsSocket))]),
        ([options, metricsSocket]) =>
          Descriptor.load(
            () => Promise.all([import("./MetricsProxy.ts"), import("./MetricsSource.ts")]),
            ([MetricsProxy, MetricsSource]) =>
              MetricsProxy.layer(options).pipe(Layer.provide(MetricsSource.layerSocket(metricsSocket)))
          )
      )
    ),
  // The engine bind-mounts its metrics socket under /run/docker after the rootfs is prepared: a propagated
  // /run/docker makes it appear; the host network lets Prometheus reach the address.
  managed: { network: "host", propagatedMount: "/run/docker" }
})
