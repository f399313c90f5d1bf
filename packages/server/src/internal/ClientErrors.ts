/**
 * Requests Node cannot read (a chunked body with a bad chunk size, a body that ends before its `Content-Length`,
 * headers too large or too slow) are answered with `{"Err"}` saying what was wrong, in the plugin content type.
 * Node's default answer is a bare `400` with no body, which the daemon reports without a reason.
 *
 * @since 0.1.0
 */
import type * as Http from "node:http"
import type * as Net from "node:net"
import * as RawAnswer from "./RawAnswer.ts"

/** What Node's HTTP parser attaches to the errors it reports. */
interface ParseError extends Error {
  readonly code?: string
  readonly reason?: string
}

/** The status Node itself would answer for `code`. */
const statusOf = (code: string | undefined): number =>
  code === "HPE_HEADER_OVERFLOW" ? 431 : code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400

/**
 * The `Err` text for a request Node could not read.
 *
 * @since 0.1.0
 */
export const describe = (error: ParseError): string => {
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") return "the request's headers did not arrive in time"
  if (error.code === "HPE_INVALID_EOF_STATE") return "the request ended before its body was complete"
  const what = (error.reason ?? error.message).replace(/^Parse Error: /, "")
  return `the request could not be read: ${what}${error.code === undefined ? "" : ` (${error.code})`}`
}

/**
 * Answers the requests `server` cannot read with `{"Err"}` and closes their connections. A connection that is gone,
 * or whose answer has started already, is only closed.
 *
 * @since 0.1.0
 */
export const answer = <S extends Http.Server>(server: S): S => {
  server.on("clientError", (error: ParseError, socket: Net.Socket) => {
    const started = (socket as Net.Socket & { _httpMessage?: Http.ServerResponse })._httpMessage?.headersSent
    if (error.code === "ECONNRESET" || !socket.writable || started === true) {
      socket.destroy()
      return
    }
    socket.end(RawAnswer.text(statusOf(error.code), describe(error)))
  })
  return server
}
