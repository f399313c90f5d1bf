/**
 * Serve any driver Layer on a temporary Unix socket for the life of a Scope, and hand back a daemon-side client
 * for it: the real server, the real socket, the real wire. The socket and its folder are removed afterwards.
 *
 * @since 0.1.0
 */
import { type PluginClient, Target } from "@docker-plugin-kit/client"
import type { PluginApi } from "@docker-plugin-kit/protocol"
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/**
 * A plugin served on a temporary socket.
 *
 * @since 0.1.0
 */
export interface Harness {
  readonly socketPath: string
  /** A client of the socket (activation, typed calls, raw exchanges). */
  readonly client: PluginClient.PluginClient
  /** The typed driver of `api`, every method a call over the socket. */
  readonly driver: <A extends PluginApi.Any>(api: A) => PluginApi.Driver<A>
  /**
   * Stops the plugin as SIGTERM would (a graceful shutdown), before the scope ends; the client and its
   * connections stay, as the daemon's do.
   */
  readonly stop: Effect.Effect<void>
}

/**
 * Options of a harness.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Plugin name (the socket is `NAME.sock`); default `plugin`. */
  readonly name?: string
  /** Server options (deadline, verbose logs, APIs). */
  readonly server?: Omit<PluginServer.Options, "name" | "listen">
  /** Client options (retries, timeouts). */
  readonly client?: PluginClient.Options
}

/**
 * A fresh temporary folder (short, so socket paths stay well under the 108-byte limit), removed with the scope.
 *
 * @since 0.1.0
 */
export const tempFolder: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/**
 * Serves `drivers` (a Layer of driver services only) on a temporary socket until the scope closes.
 *
 * @since 0.1.0
 */
export const make = <ROut extends PluginApi.AnyDriverService, E>(
  drivers: Layer.Layer<ROut, E>,
  options: Options = {}
): Effect.Effect<Harness, E | PluginServer.StartError, Scope.Scope> =>
  Effect.gen(function* () {
    const name = options.name ?? "plugin"
    const socketPath = Path.join(yield* tempFolder, `${name}.sock`)
    // In a scope of its own, so that `stop` ends the server without the client.
    const serverScope = yield* Scope.fork(yield* Effect.scope)
    yield* Layer.buildWithScope(
      PluginServer.layer({ ...options.server, name, listen: Listener.unix(name, { path: socketPath }) }, drivers),
      serverScope
    )
    // The socket exists once the layer is built, so no discovery wait is needed.
    const client = yield* Effect.orDie(Target.connect(Target.socket(socketPath), { name, ...options.client }))
    return { socketPath, client, driver: client.driver, stop: Scope.close(serverScope, Exit.void) }
  })
