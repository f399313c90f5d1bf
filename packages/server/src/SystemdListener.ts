/**
 * A plugin serving the socket systemd passed to it (socket activation: `LISTEN_FDS`, `LISTEN_PID`, fd 3).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as HttpServer from "effect/http/HttpServer"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as NodeServer from "./internal/NodeServer.ts"
import { ListenError } from "./ListenError.ts"

/**
 * How an inherited socket whose path Node cannot tell is named in the server address: `fd:3`.
 *
 * @since 0.1.0
 */
export const systemdAddressPrefix = "fd:"

/**
 * The systemd socket-activation fd (`LISTEN_FDS`), if this process was given one.
 *
 * @since 0.1.0
 */
export const systemdFd = (env: NodeJS.ProcessEnv = process.env): number | undefined => {
  const fds = Number(env.LISTEN_FDS ?? "0")
  const pid = env.LISTEN_PID
  if (!(fds >= 1) || (pid !== undefined && pid !== String(process.pid))) return undefined
  return 3
}

/**
 * The HttpServer layer of the socket systemd passed, or a `ListenError` when this process was not socket-activated.
 *
 * @since 0.1.0
 */
export const layer = (env: NodeJS.ProcessEnv = process.env): Layer.Layer<HttpServer.HttpServer, ListenError> => {
  const fd = systemdFd(env)
  if (fd === undefined) {
    return Layer.effect(
      HttpServer.HttpServer,
      Effect.fail(
        new ListenError({
          address: "LISTEN_FDS",
          reason: "not set for this process: it was not socket-activated by systemd"
        })
      )
    )
  }
  const address = `${systemdAddressPrefix}${fd}`
  const create = (options: Http.ServerOptions) => {
    const server = Http.createServer(options)
    // Node cannot name an inherited Unix socket (address() is null), which the platform needs: name it by fd.
    const bound = server.address.bind(server)
    server.address = () => bound() ?? address
    return server
  }
  // `Server.listen` takes `{ fd }` as it takes a handle; the platform's option type does not list it.
  return NodeServer.layer(address, create, { fd } as Net.ListenOptions)
}
