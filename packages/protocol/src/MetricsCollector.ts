/**
 * The MetricsCollector plugin API (`/MetricsCollector.*`): for managed plugins, which find the daemon's Prometheus
 * metrics socket bind-mounted at `/run/docker/metrics.sock` and are told when to start and stop scraping it.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Endpoint from "./Endpoint.ts"
import * as PluginApi from "./PluginApi.ts"
import { Empty } from "./Wire.ts"

/**
 * Path of the daemon's metrics socket inside a managed plugin (serving `GET /metrics`).
 *
 * @since 0.1.0
 */
export const MetricsSocketPath = "/run/docker/metrics.sock"

/**
 * The MetricsCollector API declaration.
 *
 * @since 0.1.0
 */
export const Api = PluginApi.make({
  prefix: "MetricsCollector",
  subsystem: "MetricsCollector",
  interfaceType: "docker.metricscollector/1.0",
  endpoints: {
    startMetrics: Endpoint.json("StartMetrics", Empty, Empty, {
      description:
        "The metrics socket is available. Engine 28+ reads only the status (an empty 200 is fine); 20.10-27 also read the body's Err and log an empty body as EOF. The daemon only logs a failure.",
      emptyBody: true,
      statusOnly: true
    }),
    stopMetrics: Endpoint.json("StopMetrics", Empty, Empty, {
      description: "Daemon shutdown: stop scraping. Every engine reads only the status; a failure is only logged.",
      emptyBody: true,
      statusOnly: true
    })
  }
})

/**
 * The driver interface a metrics collector plugin implements.
 *
 * @since 0.1.0
 */
export type Driver = PluginApi.Driver<typeof Api>

/**
 * The service through which a metrics collector is provided to the server.
 *
 * @since 0.1.0
 */
export class MetricsCollector extends Context.Service<MetricsCollector, Driver>()(Api.serviceKey) {}

/**
 * Builds a MetricsCollector driver from exactly its methods: an unknown or misspelt method does not compile.
 *
 * @since 0.1.0
 */
export const make = PluginApi.driverConstructor(Api)
