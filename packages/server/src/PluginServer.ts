/**
 * Serve the drivers of a Layer as a Docker plugin: router, listener, call options and clean shutdown in one layer.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type { PluginApi } from "@docker-plugin-kit/protocol"
import type * as Duration from "effect/Duration"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Runtime from "effect/Runtime"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import type * as NetAddress from "effect/net/NetAddress"
import * as Listener from "./Listener.ts"
import * as PluginRouter from "./PluginRouter.ts"

/**
 * Options of a plugin server.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Plugin name: the socket is `NAME.sock`, the spec file `NAME.spec`. */
  readonly name: string
  /** Where to listen; defaults to `/run/docker/plugins/NAME.sock`. */
  readonly listen?: Listener.Listen
  /** Deadline of every driver call (default 2 minutes; the daemon itself sets none). */
  readonly deadline?: Duration.Input
  /** Log every call. */
  readonly verbose?: boolean
  /** The APIs to look drivers up for (default: all of them). */
  readonly apis?: ReadonlyArray<PluginApi.Any>
}

/**
 * Errors that stop a server from starting.
 *
 * @since 0.1.0
 */
export type StartError = Listener.ListenError | PluginRouter.NoDriverProvided

/**
 * The router of a plugin, without a listener (for in-process use and custom servers).
 *
 * @since 0.1.0
 */
export const router = (options: Omit<Options, "name" | "listen"> = {}) => PluginRouter.layer(options)

/**
 * A running plugin server. Provide the driver layers to it; it exposes the bound `HttpServer` (for its address).
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<HttpServer.HttpServer, StartError> =>
  HttpRouter.serve(router(options), { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provideMerge(Listener.layer(options.name, options.listen ?? Listener.unix(options.name)))
  )

/**
 * A human-readable description of where a server listens.
 *
 * @since 0.1.0
 */
export const describeAddress = (address: NetAddress.SocketAddress): string =>
  address._tag !== "UnixPathAddress"
    ? HttpServer.formatAddress(address)
    : address.path.startsWith(Listener.systemdAddressPrefix)
      ? `the socket systemd passed as ${address.path}`
      : `unix://${address.path}`

/**
 * How a plugin process logs: one logfmt line per record (`level=INFO … message="plugin call" endpoint=…`), easy to
 * grep and what journald and log shippers expect. `launch` and `dpk serve` log through it.
 *
 * @since 0.1.0
 */
export const logger: Layer.Layer<never> = Logger.layer([Logger.consoleLogFmt])

/**
 * The exit code of a plugin process: 0 when it was stopped (SIGINT/SIGTERM interrupt it) and shut down cleanly, 1
 * when it failed, to start or while shutting down.
 *
 * @since 0.1.0
 */
export const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause) ? Runtime.defaultTeardown(exit, onExit) : onExit(0)

/**
 * Serves `drivers` until SIGINT/SIGTERM, printing one line once the server listens. The process exits (0) after the
 * in-flight calls finish and the socket (or spec file) is removed. Logs go out as logfmt lines (`logger`).
 *
 * @since 0.1.0
 */
export const launch = <E>(options: Options, drivers: Layer.Layer<any, E>): void =>
  Layer.launch(
    Layer.effectDiscard(
      Effect.flatMap(HttpServer.HttpServer, (server) =>
        Effect.sync(() => console.log(`${options.name}: listening on ${describeAddress(server.address)}`))
      )
    ).pipe(Layer.provideMerge(layer(options)), Layer.provide(drivers), Layer.provide(logger))
  ).pipe(NodeRuntime.runMain({ teardown }))
