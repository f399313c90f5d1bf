/**
 * The framing the daemon uses in a log FIFO and in a `ReadLogs` answer: each `LogEntry` is preceded by its length
 * as a 4-byte big-endian unsigned integer. The decoder is incremental (a frame may be split across any number of
 * chunks, a chunk may hold many frames) and refuses frames over a size bound before buffering them.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as LogEntry from "./LogEntry.ts"

/**
 * The default bound on one frame: the daemon splits lines in 16 KiB chunks, so its frames stay well under 1 MiB.
 *
 * @since 0.1.0
 */
export const defaultMaxFrameSize = 1024 * 1024

/**
 * A frame announced a length over the bound (a corrupt or hostile stream; reading further would buffer it).
 *
 * @since 0.1.0
 */
export class FrameTooLarge extends Data.TaggedError("FrameTooLarge")<{
  readonly size: number
  readonly limit: number
}> {
  override get message() {
    return `log frame of ${this.size} bytes exceeds the limit of ${this.limit} bytes`
  }
}

/**
 * Why a framed stream could not be decoded.
 *
 * @since 0.1.0
 */
export type FrameError = FrameTooLarge | LogEntry.LogEntryCorrupt

/**
 * The stream ended inside a frame (after `received` of its `expected` bytes, header included).
 *
 * @since 0.1.0
 */
export class FrameTruncated extends Data.TaggedError("FrameTruncated")<{
  readonly received: number
  readonly expected: number
}> {
  override get message() {
    return `log stream ended inside a frame (${this.received} of ${this.expected} bytes)`
  }
}

/**
 * What one chunk gave: the entries it completed, and the error that stopped decoding, if any (the entries before
 * the bad frame are still delivered).
 *
 * @since 0.1.0
 */
export interface Pushed {
  readonly entries: ReadonlyArray<LogEntry.LogEntry>
  readonly error?: FrameError
}

/**
 * An incremental decoder: `push` a chunk, get the entries it completed; `pending` is how many bytes of an
 * unfinished frame are held.
 *
 * @since 0.1.0
 */
export interface Decoder {
  /** Takes a chunk; answers the entries it completed and the first framing error, if any. */
  readonly push: (chunk: Uint8Array) => Pushed
  /** Bytes of an unfinished frame held. */
  readonly pending: () => number
  /** Checks that the stream ended between frames. */
  readonly end: () => Result.Result<void, FrameTruncated>
}

const headerSize = 4

/**
 * A fresh decoder. After a failure it stays failed (the stream cannot be resynchronised).
 *
 * @since 0.1.0
 */
export const decoder = (options: { readonly maxFrameSize?: number } = {}): Decoder => {
  const limit = options.maxFrameSize ?? defaultMaxFrameSize
  let held: Uint8Array = new Uint8Array(0)
  let failed: FrameError | undefined
  const push = (chunk: Uint8Array): Pushed => {
    if (failed !== undefined) return { entries: [], error: failed }
    let bytes = chunk
    if (held.length > 0) {
      bytes = new Uint8Array(held.length + chunk.length)
      bytes.set(held)
      bytes.set(chunk, held.length)
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const entries: Array<LogEntry.LogEntry> = []
    let at = 0
    while (bytes.length - at >= headerSize) {
      const size = view.getUint32(at)
      if (size > limit) {
        failed = new FrameTooLarge({ size, limit })
        held = bytes.slice(at)
        return { entries, error: failed }
      }
      if (bytes.length - at - headerSize < size) break
      const decoded = LogEntry.decode(bytes.subarray(at + headerSize, at + headerSize + size))
      if (Result.isFailure(decoded)) {
        failed = decoded.failure
        held = bytes.slice(at)
        return { entries, error: failed }
      }
      entries.push(decoded.success)
      at += headerSize + size
    }
    // Copy the tail: `bytes` may be a view of a reused read buffer.
    held = at === bytes.length ? new Uint8Array(0) : bytes.slice(at)
    return { entries }
  }
  const end = (): Result.Result<void, FrameTruncated> => {
    if (held.length === 0) return Result.void
    const expected =
      held.length >= headerSize
        ? headerSize + new DataView(held.buffer, held.byteOffset, held.byteLength).getUint32(0)
        : headerSize
    return Result.fail(new FrameTruncated({ received: held.length, expected }))
  }
  return { push, pending: () => held.length, end }
}

/**
 * One entry as a frame.
 *
 * @since 0.1.0
 */
export const encodeFrame = (entry: LogEntry.LogEntry): Uint8Array => encodeFrames([entry])

/**
 * Several entries as consecutive frames in one buffer (one write for a batch).
 *
 * @since 0.1.0
 */
export const encodeFrames = (entries: ReadonlyArray<LogEntry.LogEntry>): Uint8Array => {
  const messages = entries.map(LogEntry.encode)
  const out = new Uint8Array(messages.reduce((n, m) => n + headerSize + m.length, 0))
  const view = new DataView(out.buffer)
  let at = 0
  for (const message of messages) {
    view.setUint32(at, message.length)
    out.set(message, at + headerSize)
    at += headerSize + message.length
  }
  return out
}

/**
 * Decodes a byte stream of frames into entries (the framed reader's core, for a FIFO, a socket or a file).
 *
 * @since 0.1.0
 */
export const decodeStream =
  (options: { readonly maxFrameSize?: number } = {}) =>
  <E, R>(
    bytes: Stream.Stream<Uint8Array, E, R>
  ): Stream.Stream<LogEntry.LogEntry, E | FrameError | FrameTruncated, R> =>
    Stream.suspend(() => {
      const frames = decoder(options)
      return bytes.pipe(
        Stream.flatMap((chunk) => {
          const { entries, error } = frames.push(chunk)
          const decoded = Stream.fromIterable(entries)
          return error === undefined ? decoded : Stream.concat(decoded, Stream.fail(error))
        }),
        Stream.concat(Stream.fromEffectDrain(Effect.suspend(() => Effect.fromResult(frames.end()))))
      )
    })

/**
 * Encodes a stream of entries as frames, one chunk per incoming batch (the framed writer of `ReadLogs` answers).
 *
 * @since 0.1.0
 */
export const encodeStream = <E, R>(entries: Stream.Stream<LogEntry.LogEntry, E, R>): Stream.Stream<Uint8Array, E, R> =>
  Stream.mapArray(entries, (batch) => [encodeFrames(batch)])
