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
import * as EntryReader from "./internal/entryReader.ts"
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
 * Complete frames side by side in one buffer, not decoded: the first starts at `start`, each ends at its `ends`
 * offset, where the next one starts. A reader can hold many lines this way at the cost of their bytes (no object
 * per line) and decode them when they are about to be used (`decodeRun`).
 *
 * @since 0.1.0
 */
export interface FrameRun {
  readonly bytes: Uint8Array
  readonly start: number
  readonly ends: ReadonlyArray<number>
}

/**
 * What one chunk gave as frames: the runs it completed (at most two: a frame that earlier chunks started, then
 * the chunk's own frames) and the framing error that stopped the stream, if any (the frames before it are kept).
 *
 * @since 0.1.0
 */
export interface PushedFrames {
  readonly runs: ReadonlyArray<FrameRun>
  readonly error?: FrameError
}

/**
 * An incremental decoder: `push` a chunk, get the entries it completed (or `pushFrames`, the frames, not decoded);
 * `pending` is how many bytes of an unfinished frame are held.
 *
 * @since 0.1.0
 */
export interface Decoder {
  /** Takes a chunk; answers the entries it completed and the first framing error, if any. */
  readonly push: (chunk: Uint8Array) => Pushed
  /**
   * Takes a chunk; answers the frames it completed, not decoded (a message that is not a `LogEntry` is found by
   * `decodeRun`), and the framing error, if any. The runs are views of `chunk`, which must not change afterwards.
   */
  readonly pushFrames: (chunk: Uint8Array) => PushedFrames
  /** Bytes of an unfinished frame held. */
  readonly pending: () => number
  /** Checks that the stream ended between frames. */
  readonly end: () => Result.Result<void, FrameTruncated>
}

const headerSize = 4
const noRuns: ReadonlyArray<FrameRun> = []

/**
 * The entries of some frames of a run: frames `from` (inclusive) to `to` (exclusive); `corrupt` counts the frames
 * whose message is not a `LogEntry`, which are left out, `error` says why the first of them is not, and
 * `firstCorrupt` is that frame's index in the run.
 *
 * @since 0.1.0
 */
export interface Decoded {
  readonly entries: Array<LogEntry.LogEntry>
  readonly corrupt: number
  readonly error?: LogEntry.LogEntryCorrupt
  readonly firstCorrupt?: number
}

/**
 * Decodes frames `from` (inclusive) to `to` (exclusive) of a run that `pushFrames` answered, leaving out (and
 * counting) those that are not a `LogEntry`: the framing around them is intact, so the frames after one still are.
 *
 * @since 0.1.0
 */
export const decodeRun = (run: FrameRun, from = 0, to = run.ends.length): Decoded => {
  const reader = EntryReader.make(run.bytes)
  const entries: Array<LogEntry.LogEntry> = []
  let corrupt = 0
  let error: LogEntry.LogEntryCorrupt | undefined
  let firstCorrupt = 0
  let at = frameStart(run, from)
  for (let i = from; i < to; i++) {
    const end = run.ends[i]!
    try {
      entries.push(reader.read(at + headerSize, end))
    } catch (cause) {
      if (corrupt++ === 0) {
        error = corruptOf(cause)
        firstCorrupt = i
      }
    }
    at = end
  }
  return error === undefined ? { entries, corrupt } : { entries, corrupt, error, firstCorrupt }
}

/**
 * Where frame `index` of `run` starts (its length header).
 *
 * @since 0.1.0
 */
export const frameStart = (run: FrameRun, index: number): number => (index === 0 ? run.start : run.ends[index - 1]!)

/**
 * One entry of a `FrameBatch`, read in place: `line` is the buffer the line lies in, from `lineStart` to `lineEnd`
 * (no view is made); `last` says whether it ends a line split in chunks. The same object is filled again for the
 * next entry: it is valid only during the visit.
 *
 * @since 0.1.0
 */
export interface FrameFields {
  readonly source: string
  readonly timeNano: bigint
  readonly line: Uint8Array
  readonly lineStart: number
  readonly lineEnd: number
  readonly partial: boolean
  /** `partialLogMetadata.last` (false without metadata). */
  readonly last: boolean
}

/**
 * Entries still framed, for a sink that writes them without a `LogEntry` object each (`LogStreams.Sink`'s
 * `writeFrames`). `forEach` visits them in order and leaves out (and counts) those whose message is not a
 * `LogEntry`; `corrupt` and `error` report what the visits found.
 *
 * @since 0.1.0
 */
export interface FrameBatch {
  /** Entries in the batch, corrupt ones included. */
  readonly size: number
  /** Visits each entry's fields, in order. */
  readonly forEach: (visit: (fields: FrameFields) => void) => void
  /** The entries left out as corrupt by the visits so far. */
  readonly corrupt: () => number
  /** Why the first of them is not a `LogEntry`. */
  readonly error: () => LogEntry.LogEntryCorrupt | undefined
}

/**
 * The frames of `runs` as a batch; `onCorrupt` is called with the reason of each entry a visit leaves out.
 *
 * @since 0.1.0
 */
export const frameBatch = (
  runs: ReadonlyArray<FrameRun>,
  onCorrupt?: (error: LogEntry.LogEntryCorrupt) => void
): FrameBatch => {
  let corrupt = 0
  let error: LogEntry.LogEntryCorrupt | undefined
  const size = runs.reduce((n, run) => n + run.ends.length, 0)
  const forEach = (visit: (fields: FrameFields) => void) => {
    const scanned = EntryReader.fields()
    for (const run of runs) {
      const reader = EntryReader.make(run.bytes)
      const view = {
        source: "",
        timeNano: 0n,
        line: reader.bytes,
        lineStart: 0,
        lineEnd: 0,
        partial: false,
        last: false
      }
      let at = run.start
      for (const end of run.ends) {
        try {
          reader.scan(at + headerSize, end, scanned)
        } catch (cause) {
          const reason = corruptOf(cause)
          corrupt++
          error ??= reason
          onCorrupt?.(reason)
          at = end
          continue
        }
        at = end
        view.source = scanned.source
        view.timeNano = scanned.timeNano
        view.lineStart = scanned.lineStart
        view.lineEnd = scanned.lineEnd
        view.partial = scanned.partial
        view.last = scanned.metadata?.last === true
        visit(view)
      }
    }
  }
  return { size, forEach, corrupt: () => corrupt, error: () => error }
}

const corruptOf = (error: unknown) =>
  new LogEntry.LogEntryCorrupt({ reason: error instanceof Error ? error.message : String(error) })

/**
 * A fresh decoder. After a failure it stays failed (the stream cannot be resynchronised).
 *
 * A chunk's complete frames are answered where they lie (as views of it); only a frame split across chunks is
 * copied, into a buffer of its announced size.
 *
 * @since 0.1.0
 */
export const decoder = (options: { readonly maxFrameSize?: number } = {}): Decoder => {
  const limit = options.maxFrameSize ?? defaultMaxFrameSize
  // The start of a frame split across chunks: its header (`header`, `headerHeld` bytes of it), then the whole
  // frame (header included) once its size is known, `frameHeld` bytes of it filled.
  const header = new Uint8Array(headerSize)
  let headerHeld = 0
  let frame: Uint8Array | undefined
  let frameHeld = 0
  let failed: FrameError | undefined
  // After a failure: the bytes from the bad frame's start to the end of the chunk (what `pending` answers).
  let discarded = 0
  const fail = (error: FrameError, held: number, runs: ReadonlyArray<FrameRun>): PushedFrames => {
    failed = error
    discarded = held
    frame = undefined
    headerHeld = 0
    return { runs, error }
  }
  const sizeAt = (bytes: Uint8Array, at: number) =>
    ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
  const startFrame = (size: number) => {
    frame = new Uint8Array(headerSize + size)
    frame.set(header)
    frameHeld = headerSize
  }
  const pushFrames = (chunk: Uint8Array): PushedFrames => {
    if (failed !== undefined) return { runs: noRuns, error: failed }
    const runs: Array<FrameRun> = []
    let at = 0
    // First finish the frame the previous chunks started.
    if (headerHeld > 0 || frame !== undefined) {
      if (frame === undefined) {
        const n = Math.min(headerSize - headerHeld, chunk.length)
        header.set(chunk.subarray(0, n), headerHeld)
        headerHeld += n
        at = n
        if (headerHeld < headerSize) return { runs: noRuns }
        const size = sizeAt(header, 0)
        if (size > limit) return fail(new FrameTooLarge({ size, limit }), headerSize + chunk.length - at, noRuns)
        startFrame(size)
      }
      const whole = frame!
      const n = Math.min(whole.length - frameHeld, chunk.length - at)
      whole.set(chunk.subarray(at, at + n), frameHeld)
      frameHeld += n
      at += n
      if (frameHeld < whole.length) return { runs: noRuns }
      frame = undefined
      headerHeld = 0
      runs.push({ bytes: whole, start: 0, ends: [whole.length] })
    }
    const first = at
    const ends: Array<number> = []
    const withOwn = () => (ends.length === 0 ? runs : [...runs, { bytes: chunk, start: first, ends }])
    while (chunk.length - at >= headerSize) {
      const size = sizeAt(chunk, at)
      if (size > limit) return fail(new FrameTooLarge({ size, limit }), chunk.length - at, withOwn())
      if (chunk.length - at - headerSize < size) break
      at += headerSize + size
      ends.push(at)
    }
    // Keep the start of the next frame, copied: the chunks that complete it are not contiguous with this one.
    const rest = chunk.length - at
    if (rest > 0 && rest < headerSize) {
      header.set(chunk.subarray(at))
      headerHeld = rest
    } else if (rest > 0) {
      header.set(chunk.subarray(at, at + headerSize))
      headerHeld = headerSize
      startFrame(sizeAt(chunk, at))
      frame!.set(chunk.subarray(at + headerSize), headerSize)
      frameHeld = rest
    }
    return { runs: withOwn() }
  }
  const push = (chunk: Uint8Array): Pushed => {
    const { runs, error } = pushFrames(chunk)
    const entries: Array<LogEntry.LogEntry> = []
    for (let r = 0; r < runs.length; r++) {
      const decoded = decodeRun(runs[r]!)
      if (decoded.error === undefined) {
        for (const entry of decoded.entries) entries.push(entry)
        continue
      }
      // The stream stops at the first corrupt frame: what is held from it on is what it discards.
      const kept = decoded.firstCorrupt!
      for (let i = 0; i < kept; i++) entries.push(decoded.entries[i]!)
      let rest = 0
      for (let later = r; later < runs.length; later++) {
        const run = runs[later]!
        rest += run.ends[run.ends.length - 1]! - (later === r ? frameStart(run, kept) : run.start)
      }
      fail(decoded.error, rest + pending(), noRuns)
      return { entries, error: decoded.error }
    }
    return error === undefined ? { entries } : { entries, error }
  }
  const pending = () => (failed !== undefined ? discarded : frame === undefined ? headerHeld : frameHeld)
  const end = (): Result.Result<void, FrameTruncated> => {
    if (pending() === 0) return Result.void
    const expected = headerHeld < headerSize ? headerSize : headerSize + sizeAt(header, 0)
    return Result.fail(new FrameTruncated({ received: pending(), expected }))
  }
  return { push, pushFrames, pending, end }
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
