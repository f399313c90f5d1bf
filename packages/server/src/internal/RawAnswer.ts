/**
 * An `{"Err"}` answer written on a connection itself, outside Node's response objects: for a request whose body
 * stalled (`BodyStall`) and for one Node could not read (`ClientErrors`). It has the plugin content type every other answer has and closes
 * the connection, as Node's own `400` and `408` do.
 *
 * @since 0.1.0
 */
import { Wire } from "@docker-plugin-kit/protocol"

const reasons: Readonly<Record<number, string>> = {
  400: "Bad Request",
  408: "Request Timeout",
  413: "Payload Too Large",
  431: "Request Header Fields Too Large"
}

/**
 * The bytes of the answer: status line, headers and `{"Err": err}`.
 *
 * @since 0.1.0
 */
export const text = (status: number, err: string): string => {
  const body = `${Wire.errorText(err)}\n`
  return (
    `HTTP/1.1 ${status} ${reasons[status] ?? "Error"}\r\n` +
    `Content-Type: ${Wire.ResponseContentType}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    "Connection: close\r\n\r\n" +
    body
  )
}
