/**
 * `metrics-proxy` for the CLI: `dpk serve metrics-proxy [--listen HOST:PORT] [--metrics-socket PATH]`; as a managed
 * plugin, `dpk package metrics-proxy --name N`.
 *
 * @since 0.1.0
 */
import { MetricsCollector } from "@docker-plugin-kit/protocol"
import * as Flag from "effect/cli/Flag"
import * as Layer from "effect/Layer"
import * as Descriptor from "../Descriptor.ts"
import type * as MetricsProxy from "./MetricsProxy.ts"

const hostPort = (value: string): MetricsProxy.Options => {
  const at = value.lastIndexOf(":")
  return { host: value.slice(0, at) || "127.0.0.1", port: Number(value.slice(at + 1)) }
}

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
    Descriptor.load(
      () => Promise.all([import("./MetricsProxy.ts"), import("./MetricsSource.ts")]),
      ([MetricsProxy, MetricsSource]) =>
        MetricsProxy.layer(hostPort(listen)).pipe(Layer.provide(MetricsSource.layerSocket(metricsSocket)))
    ),
  // The engine bind-mounts its metrics socket under /run/docker after the rootfs is prepared: a propagated
  // /run/docker makes it appear; the host network lets Prometheus reach the address.
  managed: { network: "host", propagatedMount: "/run/docker" }
})
