/**
 * A request whose path holds a malformed percent escape (`/VolumeDriver.%ZZ`, a lone `%`) is answered 400 with an
 * `{"Err"}` naming the path, as Go's server refuses such a request line. The router cannot decode the path at all,
 * so it finds no route, not even the catch-all one, and the platform would answer a bare 404 with no body.
 *
 * Only a path holding `%` is checked: the daemon's paths never do, so its calls pay one `indexOf`.
 *
 * @since 0.1.0
 */
import { Wire } from "@docker-plugin-kit/protocol"
import type * as Http from "node:http"

/**
 * Why the path of `url` cannot be decoded, or `undefined` when it can (the query string is not looked at: a bad
 * escape there reaches the handler, which ignores what it does not use).
 *
 * @since 0.1.0
 */
export const problem = (url: string): string | undefined => {
  const query = url.indexOf("?")
  const path = query < 0 ? url : url.slice(0, query)
  if (path.indexOf("%") < 0) return undefined
  try {
    decodeURI(path)
    return undefined
  } catch {
    return `the request path ${JSON.stringify(path)} holds a malformed percent escape`
  }
}

/**
 * Answers the requests of `server` whose path cannot be decoded, before anything else sees them.
 *
 * @since 0.1.0
 */
export const answer = <S extends Http.Server>(server: S): S => {
  const emit = server.emit
  server.emit = function (this: S, event: string | symbol, request?: unknown, response?: unknown): boolean {
    if (event === "request") {
      const why = problem((request as Http.IncomingMessage).url ?? "")
      if (why !== undefined) {
        const body = `${Wire.errorText(why)}\n`
        ;(response as Http.ServerResponse)
          .writeHead(400, { "Content-Type": Wire.ResponseContentType, "Content-Length": Buffer.byteLength(body) })
          .end(body)
        return true
      }
    }
    // biome-ignore lint/complexity/noArguments: forwards every argument of every event untouched
    return Reflect.apply(emit, this, arguments)
  }
  return server
}
