/**
 * Serve the drivers of a Layer as a Docker plugin: router, listener, call options and clean shutdown in one layer.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { type PluginApi, Shutdown } from "@docker-plugin-kit/protocol"
import * as ByteSize from "effect/ByteSize"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import type * as NetAddress from "effect/net/NetAddress"
import { flushCompileCache } from "node:module"
import * as BodyLimits from "./BodyLimits.ts"
import * as ClosedOutput from "./ClosedOutput.ts"
import * as ExitCode from "./ExitCode.ts"
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
  /**
   * Deadline of every driver call of an endpoint declared with one (default: the declaration's, 2 minutes). Streamed
   * endpoints (`GraphDriver.ApplyDiff`, `Diff`, `LogDriver.ReadLogs`) have none unless `deadlines` names them.
   */
  readonly deadline?: Duration.Input
  /** Deadlines by API (`GraphDriver`) or endpoint (`GraphDriver.ApplyDiff`), streamed ones included. */
  readonly deadlines?: PluginRouter.Deadlines
  /** Log every call. */
  readonly verbose?: boolean
  /** The APIs to look drivers up for (default: all of them). */
  readonly apis?: ReadonlyArray<PluginApi.Any>
  /**
   * Size limit of a JSON request body (default: `HttpIncomingMessage.MaxBodySize` when provided, else 16 MiB); a
   * longer body is answered `413`. Streamed bodies have none.
   */
  readonly maxBodySize?: ByteSize.Input
  /**
   * How long a request body may receive nothing before it is answered `408` and its connection closed (default
   * 30 s; 0 turns the check off). A slow upload that keeps sending is never cut off. See `BodyLimits`.
   */
  readonly bodyIdleTimeout?: Duration.Input
}

/**
 * Errors that stop a server from starting.
 *
 * @since 0.1.0
 */
export type StartError = Listener.ListenError | PluginRouter.NoDriverProvided | PluginRouter.MissingDriverMethod

/**
 * The router of a plugin, without a listener (for in-process use and custom servers).
 *
 * @since 0.1.0
 */
export const router = (options: Omit<Options, "name" | "listen"> = {}) => PluginRouter.layer(options)

/**
 * A running plugin server; it exposes the bound `HttpServer` (for its address). Given `drivers` (a Layer of driver
 * services only), their build errors are part of its type; without, provide the driver layers to it.
 *
 * @since 0.1.0
 */
export function layer(options: Options): Layer.Layer<HttpServer.HttpServer, StartError>
export function layer<ROut extends PluginApi.AnyDriverService, E, RIn>(
  options: Options,
  drivers: Layer.Layer<ROut, E, RIn>
): Layer.Layer<HttpServer.HttpServer, StartError | E, RIn>
export function layer<E, RIn>(
  options: Options,
  drivers?: Layer.Layer<PluginApi.AnyDriverService, E, RIn>
): Layer.Layer<HttpServer.HttpServer, StartError | E, RIn> {
  const served = HttpRouter.serve(router(options), { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provideMerge(Listener.layer(options.name, options.listen ?? Listener.unix(options.name)))
  )
  // The options win over the same settings provided with the drivers.
  const server = Layer.provide(
    served.pipe(signalsShutdown),
    Layer.mergeAll(
      options.maxBodySize === undefined
        ? Layer.empty
        : Layer.succeed(HttpIncomingMessage.MaxBodySize, ByteSize.fromInputUnsafe(options.maxBodySize)),
      options.bodyIdleTimeout === undefined
        ? Layer.empty
        : Layer.succeed(BodyLimits.IdleTimeout, Duration.fromInputUnsafe(options.bodyIdleTimeout))
    )
  )
  return drivers === undefined ? server : Layer.provide(server, drivers)
}

/**
 * Gives the calls of `served` the `Shutdown.Started` signal, completed when its scope starts to close: before the
 * server stops listening and waits for the calls in flight, so that answers ended by it (`Shutdown.endsAtShutdown`)
 * are not part of that wait.
 */
const signalsShutdown = <E, R>(
  served: Layer.Layer<HttpServer.HttpServer, E, R>
): Layer.Layer<HttpServer.HttpServer, E, R> =>
  Layer.unwrap(
    Effect.map(Deferred.make<void>(), (started) =>
      // Built after the server, so its finalizer runs before the server's.
      Layer.effectDiscard(Effect.addFinalizer(() => Deferred.succeed(started, undefined))).pipe(
        Layer.provideMerge(served),
        Layer.provide(Layer.succeed(Shutdown.Started, Deferred.await(started)))
      )
    )
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
 * when it failed, to start or while shutting down (`ExitCode.teardown`).
 *
 * @since 0.1.0
 */
export const teardown = ExitCode.teardown

/**
 * Prints `line(address)` once the server listens. It also writes Node's compile cache to disk then, when
 * `NODE_COMPILE_CACHE` turned it on (as in a plugin packaged by `dpk package`): everything the plugin runs is loaded
 * by that time, and Node would otherwise write the cache only at a clean exit, which a killed plugin never reaches.
 *
 * @since 0.1.0
 */
export const announce = (line: (address: string) => string): Layer.Layer<never, never, HttpServer.HttpServer> =>
  Layer.effectDiscard(
    Effect.flatMap(HttpServer.HttpServer, (server) =>
      Effect.sync(() => {
        console.log(line(describeAddress(server.address)))
        flushCompileCache()
      })
    )
  )

/**
 * Serves `drivers` until SIGINT/SIGTERM, printing one line once the server listens (`announce`). The process exits (0)
 * after the in-flight calls finish and the socket (or spec file) is removed. Logs go out as logfmt lines (`logger`);
 * once nobody reads them (a closed stdout), they are dropped and the plugin keeps serving (`ClosedOutput`).
 *
 * @since 0.1.0
 */
export const launch = <ROut extends PluginApi.AnyDriverService, E>(
  options: Options,
  drivers: Layer.Layer<ROut, E>
): void => {
  ClosedOutput.tolerate()
  Layer.launch(
    announce((address) => `${options.name}: listening on ${address}`).pipe(
      Layer.provideMerge(layer(options, drivers)),
      Layer.provide(logger)
    )
  ).pipe(NodeRuntime.runMain({ teardown }))
}
