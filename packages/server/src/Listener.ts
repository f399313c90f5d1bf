/**
 * Where a plugin listens: a Unix socket in the daemon's discovery folder (`UnixListener`), a TCP port announced by
 * a spec file (`TcpListener`), or a socket inherited from systemd (`SystemdListener`). Each listener prepares its
 * address before the server binds and cleans up after it closes.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as HttpServer from "effect/http/HttpServer"
import * as NodeServer from "./internal/NodeServer.ts"
import { ListenError } from "./ListenError.ts"
import * as PluginName from "./PluginName.ts"
import * as SystemdListener from "./SystemdListener.ts"
import * as TcpListener from "./TcpListener.ts"
import * as UnixListener from "./UnixListener.ts"

export {
  /**
   * The listener could not be prepared or bound.
   *
   * @since 0.1.0
   */
  ListenError
} from "./ListenError.ts"

/**
 * The daemon's socket discovery folder.
 *
 * @since 0.1.0
 */
export const defaultSocketDir = UnixListener.defaultSocketDir

/**
 * The first spec-file discovery folder.
 *
 * @since 0.1.0
 */
export const defaultSpecDir = TcpListener.defaultSpecDir

/**
 * TLS settings of a TCP listener (PEM file paths).
 *
 * @since 0.1.0
 */
export type TlsFiles = TcpListener.TlsFiles

/**
 * A listener description.
 *
 * @since 0.1.0
 */
export type Listen =
  | ({ readonly _tag: "Unix" } & UnixListener.Options)
  | ({ readonly _tag: "Tcp" } & TcpListener.Options)
  | { readonly _tag: "Systemd" }

/**
 * The default Unix socket of a plugin: `/run/docker/plugins/NAME.sock`.
 *
 * @since 0.1.0
 */
export const unix = (
  name: string,
  options: { readonly path?: string | undefined; readonly group?: number | string | undefined } = {}
): Listen => ({ _tag: "Unix", ...UnixListener.options(name, options) })

/**
 * How long a shutdown waits for in-flight calls before closing their connections.
 *
 * @since 0.1.0
 */
export const gracefulShutdownTimeout = NodeServer.gracefulShutdownTimeout

/**
 * How an inherited socket whose path Node cannot tell is named in the server address: `fd:3`.
 *
 * @since 0.1.0
 */
export const systemdAddressPrefix = SystemdListener.systemdAddressPrefix

/**
 * The HttpServer layer of a listener, with its preparation and clean-up.
 *
 * @since 0.1.0
 */
export const layer = (name: string, listen: Listen): Layer.Layer<HttpServer.HttpServer, ListenError> => {
  const invalid = PluginName.check(name)
  if (invalid !== undefined) {
    return Layer.unwrap(
      Effect.fail(new ListenError({ address: `plugin name ${JSON.stringify(name)}`, reason: invalid }))
    )
  }
  switch (listen._tag) {
    case "Unix":
      return UnixListener.layer(listen)
    case "Tcp":
      return TcpListener.layer(name, listen)
    case "Systemd":
      return SystemdListener.layer()
  }
}
