/**
 * Closes connections whose request body stopped arriving. Node's own limits do not cover it: `headersTimeout` ends
 * with the headers, and `requestTimeout` (the whole request) is off so that a multi-gigabyte layer upload is not cut
 * off. Without this, a client that announces a `Content-Length` and never sends the body holds its connection, and
 * the call waiting for that body, forever.
 *
 * Nothing runs per request: one timer per server sweeps the open connections, and a connection is only looked at
 * while its current request's body is incomplete. A body counts as progressing while bytes keep arriving on the
 * connection, or while the server itself is not reading it (the driver consumes a stream slower than it arrives,
 * so the request's buffer is full): only the client can stall it.
 *
 * @since 0.1.0
 */
import type * as Http from "node:http"
import type * as Net from "node:net"
import type * as Tls from "node:tls"
import * as RawAnswer from "./RawAnswer.ts"

/** The Node internal that links a connection to the response in progress; @types/node does not list it. */
interface SocketInternals {
  readonly _httpMessage?: (Http.ServerResponse & { readonly req?: Http.IncomingMessage }) | null
}

interface Progress {
  bytes: number
  since: number
}

/**
 * How often connections are checked for a timeout of `timeoutMs`: a quarter of it, at most once a second.
 *
 * @since 0.1.0
 */
export const sweepInterval = (timeoutMs: number): number => Math.max(1, Math.min(1_000, Math.floor(timeoutMs / 4)))

const formatSeconds = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`)

/** The answer to a stalled body: `{"Err"}` saying what was waited for, and the connection closed after it. */
const stalledAnswer = (request: Http.IncomingMessage, timeoutMs: number): string => {
  const path = (request.url ?? "/").replace(/\?.*$/, "")
  const announced = request.headers["content-length"]
  const length = announced === undefined ? "" : ` (Content-Length ${announced})`
  return RawAnswer.text(
    408,
    `${path}: the request body stalled: nothing received for ${formatSeconds(timeoutMs)}${length}`
  )
}

/**
 * The check of one server's request bodies, run by `sweep`.
 *
 * @since 0.1.0
 */
export interface Watcher {
  /** Looks at every connection once: answers and closes those whose body has been stalled for the timeout. */
  readonly sweep: () => void
}

/**
 * Tracks the connections of `server` for `sweep` (nothing runs by itself; `watch` runs it on a timer). A body that
 * receives nothing for `timeoutMs` while the server waits for it gets a `408` whose `Err` says so (unless an answer
 * has already started), and its connection is closed. `now` is the clock the timeout is measured on.
 *
 * @since 0.1.0
 */
export const make = (server: Net.Server, timeoutMs: number, now: () => number = Date.now): Watcher => {
  const connections = new Map<Net.Socket, Progress>()
  const track = (socket: Net.Socket) => {
    connections.set(socket, { bytes: socket.bytesRead, since: now() })
    socket.once("close", () => connections.delete(socket))
  }
  // An HTTPS server speaks HTTP on the TLS sockets it hands out once the handshake is done. It is recognised by a
  // method of TLS servers, not by `instanceof Tls.Server`: that would load `node:tls` (~10 ms) at the start of
  // every bundled plugin, Unix-socket ones included (`dpk build` loads built-ins when first used).
  const secure = typeof (server as Partial<Tls.Server>).setSecureContext === "function"
  server.on(secure ? "secureConnection" : "connection", track)
  const sweep = () => {
    const time = now()
    for (const [socket, progress] of connections) {
      const response = (socket as Net.Socket & SocketInternals)._httpMessage
      const request = response?.req
      const waiting =
        request !== undefined &&
        !request.complete &&
        !request.destroyed &&
        // A full buffer means the server is not reading: the driver is behind, the client is not stalled.
        request.readableLength < request.readableHighWaterMark
      if (!waiting || socket.bytesRead !== progress.bytes) {
        progress.bytes = socket.bytesRead
        progress.since = time
        continue
      }
      if (time - progress.since < timeoutMs) continue
      connections.delete(socket)
      if (socket.writable && !response!.headersSent) socket.write(stalledAnswer(request, timeoutMs))
      socket.destroySoon()
    }
  }
  return { sweep }
}

/**
 * Watches the request bodies of `server` (see `make`), sweeping every `sweepInterval(timeoutMs)` while it listens.
 * A timeout of 0 or less, or not finite, watches nothing.
 *
 * @since 0.1.0
 */
export const watch = <S extends Net.Server>(server: S, timeoutMs: number): S => {
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) return server
  const { sweep } = make(server, timeoutMs)
  let timer: NodeJS.Timeout | undefined
  server.on("listening", () => {
    if (timer !== undefined) return
    timer = setInterval(sweep, sweepInterval(timeoutMs))
    timer.unref()
  })
  server.on("close", () => {
    if (timer !== undefined) clearInterval(timer)
    timer = undefined
  })
  return server
}
