/**
 * The one place where the server reaches into Node's HTTP internals for speed (bench/README.md, steps 1, 2, 5
 * and 7). Everything else in the server speaks to the platform (`HttpServerRequest`, `NodeHttpServer`) only.
 *
 * The fast paths are chosen once, when a listener creates its Node server (`serverOptions` and `prepare`): such a
 * server makes its requests with this module's `IncomingMessage` class, which is how `bodyText` recognises a
 * request it may read straight from Node. With `Enabled` set to `false` a listener creates a plain Node server,
 * and every request then takes the platform's own path; tests use that to check that both paths give the daemon
 * the same bytes. No per-request work decides between the two.
 *
 * @since 0.1.0
 */
import { ReusableChunk } from "@docker-plugin-kit/protocol"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as ByteSize from "effect/ByteSize"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as HttpServerError from "effect/http/HttpServerError"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as BodyLimits from "../BodyLimits.ts"

/**
 * Whether listeners create their Node servers with the fast paths (default `true`). Read when a listener's layer
 * is built, never per request.
 *
 * @since 0.1.0
 */
export const Enabled = Context.Reference<boolean>("@docker-plugin-kit/server/NodeFastPath/Enabled", {
  defaultValue: () => true
})

/**
 * The request class of a fast-path server. It adds nothing to Node's: being one is what tells `bodyText` that the
 * request came from a server whose handlers start after the packet is parsed.
 *
 * @since 0.1.0
 */
export class IncomingMessage extends Http.IncomingMessage {}

/** The Node internals `ServerResponse.end` reads; declared here because @types/node does not list them. */
interface ResponseInternals {
  readonly _headerSent: boolean
  readonly _contentLength: number | null
}

/** How many bytes of a streamed body may wait for the socket while the next chunk is produced. */
const streamAheadBytes = 1024 * 1024

/**
 * Node's `ServerResponse` with its single-write path restored for complete bodies.
 *
 * The platform turns `strictContentLength` on for every response. With it on, Node's `end(body)` skips its fast
 * path: instead of one write of headers and body with `finish` attached, it queues an extra empty chunk and flushes
 * both with `writev`, then schedules `finish` separately. For the small JSON answers the daemon asks for most, that
 * doubled the time spent in the socket write (see bench/README.md).
 *
 * When nothing has been sent yet and the final chunk is exactly the declared `Content-Length`, the strict check
 * cannot fail, so it is lifted for that call only; every other case (a chunk that does not match, a body written
 * in several parts, streams) goes through Node unchanged and is still checked.
 *
 * A chunk of a streamed body marked reusable (`ReusableChunk`) is released to its producer once Node has written
 * it to the socket (the write's callback without an error): from then on Node holds no reference to its memory.
 * Such a body is asked for its next chunk while less than `streamAheadBytes` wait for the socket, so producing it
 * (reading a layer's next files) overlaps the previous chunks' way to the client (Diff of 620 MiB: 1.12 s against
 * 1.21 s, medians of 16).
 */
class ServerResponse<Request extends Http.IncomingMessage = Http.IncomingMessage> extends Http.ServerResponse<Request> {
  override write(chunk: any, encoding?: any, callback?: any): boolean {
    if (!ReusableChunk.isReusable(chunk)) return super.write(chunk, encoding, callback)
    const then = typeof encoding === "function" ? encoding : callback
    const written = (error?: Error | null) => {
      if (error == null) ReusableChunk.release(chunk)
      if (typeof then === "function") then(error)
    }
    const accepted =
      typeof encoding === "string"
        ? super.write(chunk, encoding as BufferEncoding, written)
        : super.write(chunk, written)
    // The stream's writer waits for `drain` when this answers false: with Node's 64 KiB mark, a chunk of 256 KiB
    // always did, so the next chunk was produced (files read) only once the client had taken the whole previous one.
    return accepted || this.writableLength < streamAheadBytes
  }

  override end(chunk?: any, encoding?: any, callback?: any): this {
    if (this.strictContentLength && (typeof chunk === "string" || chunk instanceof Uint8Array)) {
      const internals = this as unknown as ResponseInternals
      const length =
        typeof chunk === "string"
          ? Buffer.byteLength(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8")
          : chunk.byteLength
      if (!internals._headerSent && internals._contentLength === length) {
        this.strictContentLength = false
        try {
          return super.end(chunk, encoding, callback)
        } finally {
          this.strictContentLength = true
        }
      }
    }
    return super.end(chunk, encoding, callback)
  }
}

const fastClasses: Http.ServerOptions = {
  IncomingMessage: IncomingMessage,
  ServerResponse: ServerResponse as typeof Http.ServerResponse
}

/**
 * The Node server options that select the fast paths (the request and response classes), merged into `base`.
 *
 * @since 0.1.0
 */
export const serverOptions = <O extends Http.ServerOptions>(base: O, enabled: boolean): O =>
  enabled ? { ...base, ...fastClasses } : base

/**
 * Starts the handler of each request in the event loop's check phase (`setImmediate`) after Node announces it,
 * instead of inside the parser's callback. By then the whole packet is parsed: a small body that arrived with the
 * headers is buffered and the request is complete, so the handler takes the body without suspending its fiber
 * (see `bodyText`) and the platform has nothing to drain after the response; the handlers of the requests read in
 * one poll run back to back. A body still in flight is read as before. Requests keep their order.
 *
 * A microtask is not late enough: Node runs microtasks between the body and the end of the message, and the
 * platform's after-response drain then runs for every call (measured: 0.77 of the bare server against 0.83).
 */
const startHandlersAfterParse = <S extends Net.Server>(server: S): S => {
  const emit = server.emit
  // The requests announced since the last check phase, in order, and started together by one immediate.
  let pending: Array<unknown> = []
  const start = () => {
    const batch = pending
    pending = []
    let i = 0
    try {
      for (; i < batch.length; i += 2) emit.call(server, "request", batch[i], batch[i + 1])
    } finally {
      // A handler threw: the requests after it still start, in the next check phase.
      if (i + 2 < batch.length) {
        pending = batch.slice(i + 2).concat(pending)
        setImmediate(start)
      }
    }
  }
  server.emit = function (this: S, event: string | symbol, request?: unknown, response?: unknown): boolean {
    // biome-ignore lint/complexity/noArguments: forwards every argument of the other events untouched
    if (event !== "request") return Reflect.apply(emit, this, arguments)
    if (pending.length === 0) setImmediate(start)
    pending.push(request, response)
    return true
  }
  return server
}

/**
 * Finishes a Node server created with `serverOptions(…, enabled)`: with the fast paths, its handlers start once
 * the packet is parsed.
 *
 * @since 0.1.0
 */
export const prepare = <S extends Net.Server>(server: S, enabled: boolean): S =>
  enabled ? startHandlersAfterParse(server) : server

/** The BOM a `TextDecoder` drops, as the platform's `request.text` does. */
const byteOrderMark = 0xfeff

const requestParseError = (request: HttpServerRequest.HttpServerRequest, cause: unknown) =>
  new HttpServerError.HttpServerError({
    reason: new HttpServerError.RequestParseError({ request, reason: "Parse", cause })
  })

const bodyTooLarge = (request: HttpServerRequest.HttpServerRequest, maxBytes: number) =>
  new HttpServerError.HttpServerError({
    reason: new HttpServerError.RequestParseError({
      request,
      reason: "BodyTooLarge",
      cause: new NodeStream.MaxBytesError(maxBytes)
    })
  })

const defaultMaxBodySize = ByteSize.bytes(BodyLimits.defaultMaxJsonBody)

/**
 * The size limit of a JSON body in bytes: the fiber's `HttpIncomingMessage.MaxBodySize` read as the platform's body
 * reader reads it, `BodyLimits.defaultMaxJsonBody` when it is not set, none when it is `Infinity`.
 *
 * @since 0.1.0
 */
export const maxBodyBytes = (fiber: Fiber.Fiber<unknown, unknown>): number | undefined => {
  const limit = fiber.getRef(HttpIncomingMessage.MaxBodySize) as ByteSize.Input | undefined
  return limit === undefined
    ? BodyLimits.defaultMaxJsonBody
    : limit === Infinity
      ? undefined
      : Number(ByteSize.fromInputUnsafe(limit))
}

/**
 * The Node request behind `request`, when its body can be read straight from it: a request of a fast-path server
 * whose body nobody has touched yet and that does not wait for a `100 Continue` (the platform's reader sends that
 * one).
 */
const untouchedNodeBody = (request: HttpServerRequest.HttpServerRequest): IncomingMessage | undefined => {
  const source = (request as { readonly source?: unknown }).source
  return source instanceof IncomingMessage &&
    !source.readableDidRead &&
    source.listenerCount("data") === 0 &&
    source.headers.expect === undefined
    ? source
    : undefined
}

/**
 * Reads a small body straight from the Node request: `data` and `end` listeners and one `toString`, where the
 * platform's `request.text` caches the read in a fiber of its own, waits with `stream.finished` and copies the
 * bytes into an `ArrayBuffer` before decoding them. Same result, same limit (`HttpIncomingMessage.MaxBodySize`,
 * draining the rest), same errors.
 */
const readNodeBody = (
  request: HttpServerRequest.HttpServerRequest,
  source: Http.IncomingMessage,
  maxBytes: number | undefined
): Effect.Effect<string, HttpServerError.HttpServerError> =>
  Effect.callback<string, HttpServerError.HttpServerError>((resume) => {
    let first: Buffer | undefined
    let rest: Array<Buffer> | undefined
    let size = 0
    const cleanup = () => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError)
      source.off("close", onClose)
    }
    function onData(chunk: Buffer) {
      size += chunk.length
      if (maxBytes !== undefined && size > maxBytes) {
        cleanup()
        // Keep the connection usable: discard the rest of the body instead of destroying the request.
        source.on("error", () => {})
        source.resume()
        return resume(Effect.fail(bodyTooLarge(request, maxBytes)))
      }
      if (first === undefined) first = chunk
      else if (rest === undefined) rest = [first, chunk]
      else rest.push(chunk)
    }
    function onEnd() {
      cleanup()
      resume(Effect.succeed(decodeText(rest === undefined ? (first ?? null) : Buffer.concat(rest, size))))
    }
    function onError(error: Error) {
      cleanup()
      resume(Effect.fail(requestParseError(request, error)))
    }
    function onClose() {
      cleanup()
      resume(Effect.fail(requestParseError(request, new Error("the request closed before its body ended"))))
    }
    source.on("data", onData)
    source.on("end", onEnd)
    source.on("error", onError)
    source.on("close", onClose)
    return Effect.sync(cleanup)
  })

const decodeText = (bytes: Buffer | null): string => {
  const text = bytes === null ? "" : bytes.toString("utf8")
  return text.charCodeAt(0) === byteOrderMark ? text.slice(1) : text
}

/** The Node internal that says a request's body is being read; declared here because @types/node does not list it. */
interface RequestInternals {
  _consuming: boolean
}

/**
 * The body, when all of it is already buffered in the Node request: the parser has seen the end of the message
 * (`complete`), so every byte of it, whatever its framing, waits in the stream's buffer. One synchronous `read()`,
 * no suspension. The listener starts handlers once the packet is parsed, so this is the usual case for the
 * daemon's small calls. `complete` covers chunked bodies too, and no header has to be parsed per call.
 *
 * The request is then marked as being consumed, as a `data` listener would have marked it. A `read()` of an ended
 * stream does not mark it, and Node then "dumps" the request after the response (drops its `data` listeners,
 * resumes it, and reads it again in a later tick) to pull off the wire a body that was already read. Once marked,
 * only a read ends the request, so an empty body is read too.
 */
const bufferedBody = (source: Http.IncomingMessage, maxBytes: number | undefined): string | undefined => {
  if (!source.complete) return undefined
  const length = source.readableLength
  // Over the limit: the reader below fails and drains as the platform does.
  if (maxBytes !== undefined && length > maxBytes) return undefined
  ;(source as unknown as RequestInternals)._consuming = true
  // Read even when empty: the read that finds the stream ended is what ends the request (`end`, then `close`).
  return decodeText(source.read() as Buffer | null)
}

/**
 * The body of a request as text, at most `maxBodyBytes` long. Called while the request's fiber runs (the fast paths
 * consume the body): a request of a fast-path server is read straight from Node, any other (a plain server's, the
 * in-process testkit's web requests, HTTP/2, a body already touched) with the platform's `request.text`.
 *
 * @since 0.1.0
 */
export const bodyText = (
  request: HttpServerRequest.HttpServerRequest,
  fiber: Fiber.Fiber<unknown, unknown>
): Effect.Effect<string, HttpServerError.HttpServerError> => {
  const source = untouchedNodeBody(request)
  if (source === undefined) {
    // The platform reads the limit itself, and has none by default: give it the default one.
    return fiber.getRef(HttpIncomingMessage.MaxBodySize) === undefined
      ? Effect.provideService(request.text, HttpIncomingMessage.MaxBodySize, defaultMaxBodySize)
      : request.text
  }
  const maxBytes = maxBodyBytes(fiber)
  const buffered = bufferedBody(source, maxBytes)
  return buffered === undefined ? readNodeBody(request, source, maxBytes) : Effect.succeed(buffered)
}
