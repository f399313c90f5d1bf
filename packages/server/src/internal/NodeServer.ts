/**
 * What every listener kind shares: the Node server options tuned for the daemon, the shutdown timeout, the fast
 * paths of `NodeFastPath`, `{"Err"}` answers to requests Node or the router cannot read (`ClientErrors`,
 * `MalformedPaths`), and failures reported as one `ListenError`.
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as HttpServer from "effect/http/HttpServer"
import type * as Http from "node:http"
import type * as Net from "node:net"
import * as BodyLimits from "../BodyLimits.ts"
import { ListenError } from "../ListenError.ts"
import * as BodyStall from "./BodyStall.ts"
import * as ClientErrors from "./ClientErrors.ts"
import * as MalformedPaths from "./MalformedPaths.ts"
import * as NodeFastPath from "./NodeFastPath.ts"

/**
 * How long a shutdown waits for in-flight calls before closing their connections.
 *
 * @since 0.1.0
 */
export const gracefulShutdownTimeout = Duration.seconds(10)

/**
 * How long a client may take to send a request's headers (the daemon sends them at once); checked every second.
 *
 * @since 0.1.0
 */
export const headersTimeoutMs = 10_000

/**
 * Node HTTP server options tuned for the daemon: keep-alive is kept short enough that a shutdown is not held up by
 * idle daemon connections; a client that trickles its headers is closed after `headersTimeoutMs`; and there is no
 * limit on the time to receive a whole request (Node's default is 5 minutes), so a multi-gigabyte layer upload is
 * not cut off: the endpoints' own deadlines bound the calls instead, and `BodyStall` closes a connection whose body
 * stops arriving (`BodyLimits.IdleTimeout`). An HTTP/1.1 request without a `Host` header is served: nothing reads
 * it, and Node's refusal of it is a bare `400` with no `Err`, which the caller cannot tell from any other.
 */
const daemonOptions: Http.ServerOptions = {
  keepAliveTimeout: 2_000,
  noDelay: true,
  headersTimeout: headersTimeoutMs,
  requestTimeout: 0,
  connectionsCheckingInterval: 1_000,
  requireHostHeader: false
}

/**
 * A client that half-closes its side after writing its requests still gets every answer (Node's default aborts
 * the requests still in progress).
 *
 * The daemon never half-closes: it closes the connection when it gives up on a call. Both look the same to the
 * server (the client's side ends), so a call still running would run on, its answer written to nobody. On a Unix
 * socket the two differ once the server writes: a write to a closed connection fails (EPIPE), and only then does
 * Node close the request, which interrupts its handler (and with it the driver call). So when the client's side
 * ends while the connection can still answer, an empty write probes it: it costs a half-closing client nothing.
 * Over TCP an empty write sends nothing and cannot tell the two apart; there a call runs on until it answers.
 */
const answerHalfClosed = (server: Http.Server): Http.Server => {
  // A public property of Node's http.Server that its type declarations leave out.
  ;(server as Http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true
  server.on("connection", (socket: Net.Socket) => {
    // Read while the client is connected: a Unix socket has no peer family, a TCP one always has.
    if (socket.remoteFamily === undefined) socket.on("end", () => probeClosed(socket))
  })
  return server
}

const nothing = Buffer.alloc(0)

/** Fails, and so closes `socket`, when its client closed the connection instead of half-closing it. */
const probeClosed = (socket: Net.Socket): void => {
  // Not writable: Node ended it already, having no answer left to write.
  if (socket.writable) socket.write(nothing)
}

/**
 * The HttpServer layer of a Node server made by `create` (given the server options to use) and bound as `listen`
 * says, its request bodies watched for stalls; failures become `ListenError`s naming `address`.
 *
 * @since 0.1.0
 */
export const layer = (
  address: string,
  create: (options: Http.ServerOptions) => Http.Server,
  listen: Omit<NodeHttpServer.Options, "gracefulShutdownTimeout">
): Layer.Layer<HttpServer.HttpServer, ListenError> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const fast = yield* NodeFastPath.Enabled
      const idle = yield* BodyLimits.IdleTimeout
      const idleMs = Duration.isFinite(idle) ? Duration.toMillis(idle) : 0
      // Created here rather than by the platform, which would turn what `create` throws (a TLS certificate file
      // that is missing, not PEM, or not the key's pair) into a defect instead of a `ListenError`.
      const server = yield* Effect.try({
        try: () =>
          BodyStall.watch(
            ClientErrors.answer(
              MalformedPaths.answer(
                answerHalfClosed(NodeFastPath.prepare(create(NodeFastPath.serverOptions(daemonOptions, fast)), fast))
              )
            ),
            idleMs
          ),
        catch: (e) => new ListenError({ address, reason: reasonOf(e) })
      })
      return NodeHttpServer.layer(() => server, { ...listen, gracefulShutdownTimeout })
    })
  ).pipe(asListenError(address))

/**
 * Every failure of a listener layer, as one `ListenError` naming the address.
 *
 * @since 0.1.0
 */
export const asListenError =
  (address: string) =>
  <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, ListenError, R> =>
    Layer.catchCause(layer, (cause) =>
      Layer.effectDiscard(
        Effect.failCause(
          Cause.map(cause, (e) => (e instanceof ListenError ? e : new ListenError({ address, reason: reasonOf(e) })))
        )
      )
    ) as Layer.Layer<A, ListenError, R>

/** The platform wraps the Node error (`EADDRINUSE`, `EACCES`) in a `ServeError`: name the Node one. */
const reasonOf = (e: unknown): string => {
  const cause = (e as { cause?: unknown }).cause
  return cause instanceof Error ? cause.message : e instanceof Error ? e.message : String(e)
}
