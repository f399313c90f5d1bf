/**
 * One line of a container's log file: a JSON object like the engine's `json-file` driver writes,
 * `{"log":"hello\n","stream":"stdout","time":"2026-11-27T12:00:00.123456789Z"}`. A complete line keeps its newline
 * in `log`; a chunk of a longer line (or output cut at exit) has none, so reading the records back in order and
 * concatenating `log` gives the container's output byte for byte (for valid UTF-8).
 *
 * @since 0.1.0
 */
import { LogAttributes, LogEntry, type LogFraming } from "@docker-plugin-kit/helpers"
import * as Data from "effect/Data"
import * as Result from "effect/Result"
import { isUtf8 } from "node:buffer"

/**
 * A line of the file that is not a record.
 *
 * @since 0.1.0
 */
export class RecordCorrupt extends Data.TaggedError("RecordCorrupt")<{ readonly reason: string }> {
  override get message() {
    return `corrupt log record: ${this.reason}`
  }
}

const billion = 1_000_000_000n
let lastSecond = ""
let lastBase = ""

/**
 * Unix nanoseconds as RFC 3339 with up to nine fraction digits, trailing zeros trimmed (Go's `RFC3339Nano`).
 *
 * @since 0.1.0
 */
export const formatTime = (timeNano: bigint): string => {
  // Decimal digits instead of BigInt division: this runs once per log line.
  const digits = timeNano.toString()
  if (digits.length <= 9 || timeNano < 0n) return formatSlow(timeNano)
  const seconds = digits.slice(0, -9)
  // Entries come in bursts within the same second: format the date part once per second.
  if (seconds !== lastSecond) {
    lastSecond = seconds
    lastBase = new Date(Number(seconds) * 1000).toISOString().slice(0, 19)
  }
  const fraction = digits.slice(-9).replace(/0+$/, "")
  return fraction === "" ? `${lastBase}Z` : `${lastBase}.${fraction}Z`
}

const formatSlow = (timeNano: bigint): string => {
  const seconds = timeNano / billion - (timeNano % billion < 0n ? 1n : 0n)
  const fraction = timeNano - seconds * billion
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19)
  const digits = fraction.toString().padStart(9, "0").replace(/0+$/, "")
  return `${base}${digits === "" ? "" : `.${digits}`}Z`
}

/**
 * Parses RFC 3339 (any fraction up to nanoseconds, `Z` or an offset) into Unix nanoseconds.
 *
 * @since 0.1.0
 */
export const parseTime = (text: string): Result.Result<bigint, string> => {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text)
  if (match === null) return Result.fail(`not an RFC 3339 time: ${text}`)
  const millis = Date.parse(`${match[1]}${match[3]}`)
  if (Number.isNaN(millis) || !inRange(match[1]!)) return Result.fail(`not a valid time: ${text}`)
  return Result.succeed(BigInt(millis) * 1_000_000n + BigInt((match[2] ?? "").padEnd(9, "0")))
}

/**
 * Whether each field of `YYYY-MM-DDTHH:MM:SS` is in its range, as Go's parser checks: `Date.parse` rolls
 * `02-30` over to March and takes `24:00:00` as the next midnight.
 */
const inRange = (dateTime: string): boolean => {
  const [year, month, day, hour] = [0, 5, 8, 11].map((at) => Number(dateTime.slice(at, at + (at === 0 ? 4 : 2))))
  const leap = year! % 4 === 0 && (year! % 100 !== 0 || year! % 400 === 0)
  const days = month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month!) ? 30 : 31
  return day! >= 1 && day! <= days && hour! <= 23
}

/**
 * The record of an entry, newline included, in a container's shape (its attributes; none by default).
 *
 * @since 0.1.0
 */
export const encode = (entry: LogEntry.LogEntry, s: Shape = plain): string => {
  const text = LogEntry.lineText(entry)
  return `{"log":${JSON.stringify(LogEntry.endsLine(entry) ? `${text}\n` : text)}${middleOf(entry.source, s.attrs)}${formatTime(entry.timeNano)}"}\n`
}

/** What comes between a record's `log` and its time: the stream, the attributes if any, and `"time":"`. */
const middleOf = (source: string, attrs: string | undefined) =>
  `,"stream":${JSON.stringify(source)}${attrs === undefined ? "" : `,"attrs":${attrs}`},"time":"`

/**
 * The records of a batch as one buffer (one write), and the end of each record in it (for rotation).
 *
 * @since 0.1.0
 */
export interface Encoded {
  readonly bytes: Uint8Array
  readonly ends: ReadonlyArray<number>
  /**
   * Says that nothing reads `bytes` any more (the write that took them has completed), so that the buffer under
   * them may be reused for a later batch. Optional: a batch never released only keeps its buffer from being reused.
   * Call it at most once, and never while a write of `bytes` may still be in flight.
   */
  readonly release?: () => void
}

const ascii = (text: string) => Uint8Array.from(Buffer.from(text, "latin1"))
const logPrefix = ascii('{"log":"')

/**
 * What a container's records have in common besides their entries: its attributes (`LogAttributes`), written as
 * json-file writes them, between `stream` and `time`; prepared once per container, as bytes for the usual streams.
 *
 * @since 0.1.0
 */
export interface Shape {
  /** The `attrs` object as JSON, absent when the container has none (json-file then leaves the key out). */
  readonly attrs: string | undefined
  readonly stdoutMiddle: Uint8Array
  readonly stderrMiddle: Uint8Array
}

/**
 * The shape of the records of a container with these attributes.
 *
 * @since 0.1.0
 */
export const shape = (attributes: Readonly<Record<string, string>> = {}): Shape => {
  const attrs = Object.keys(attributes).length === 0 ? undefined : LogAttributes.toGoJson(attributes)
  const middle = (source: string) => Buffer.from(middleOf(source, attrs), "utf8")
  return { attrs, stdoutMiddle: middle("stdout"), stderrMiddle: middle("stderr") }
}

/** Records without attributes. */
const plain = shape()
const timeEnd = ascii('Z"}\n')
const hex = ascii("0123456789abcdef")
const [quote, backslash, zero, dot, u, n] = [34, 92, 48, 46, 117, 110]
// The short escapes JSON.stringify uses; other control characters become \u00XX.
const shortEscape = new Uint8Array(32)
for (const [code, letter] of [
  [8, "b"],
  [9, "t"],
  [10, "n"],
  [12, "f"],
  [13, "r"]
] as const) {
  shortEscape[code] = letter.charCodeAt(0)
}

// Batches are built one after the other in a block, as Node's Buffer pool does: a batch is handed out as a view of
// its part of the block, which is never written again while the batch is unreleased (a new block is taken when one
// is full), so there is no copy per batch, and a write still in flight when the next batch is built cannot see it
// change. A full block whose batches have all been released goes back to a small pool: a fresh block costs a page
// fault per 4 KiB the first time it is written, which on a virtual machine is a trip through the hypervisor (about
// a quarter of the driver's CPU per line, measured, before blocks were reused).
const blockSize = 1024 * 1024
const spareBlocks = 2

/** A block and the batches handed out from it that are not released yet. */
interface Block {
  readonly buffer: Buffer
  unreleased: number
}

const spares: Array<Buffer> = []
const blockOf = (buffer: Buffer): Block => ({ buffer, unreleased: 0 })
let block = blockOf(Buffer.allocUnsafeSlow(blockSize))
// Always `block.buffer`, kept in a variable of its own for the per-byte loops below.
let out = block.buffer
let used = 0
let secondStart = 0n
let secondEnd = 0n
let secondBase = new Uint8Array(0)

/** Keeps `retired`'s buffer for reuse if nothing reads it any more and it is a standard block. */
const recycle = (retired: Block) => {
  if (retired !== block && retired.unreleased === 0 && retired.buffer.length === blockSize) {
    if (spares.length < spareBlocks) spares.push(retired.buffer)
  }
}

/** Room for `bytes` more after `at`, in the batch that started at `start`; answers where the batch now starts. */
const reserve = (start: number, at: number, bytes: number): number => {
  if (out.length - at >= bytes) return start
  const size = Math.max(blockSize, 2 * (at - start + bytes))
  const retired = block
  block = blockOf((size === blockSize ? spares.pop() : undefined) ?? Buffer.allocUnsafeSlow(size))
  out.copy(block.buffer, 0, start, at)
  out = block.buffer
  recycle(retired)
  return 0
}

/** The batch `out[start, at)`, counted against the block until it is released. */
const batchOf = (start: number, at: number, ends: ReadonlyArray<number>): Encoded => {
  const from = block
  from.unreleased++
  let released = false
  return {
    bytes: out.subarray(start, at),
    ends,
    release: () => {
      if (released) return
      released = true
      from.unreleased--
      recycle(from)
    }
  }
}

const put = (bytes: Uint8Array, at: number): number => {
  for (let i = 0; i < bytes.length; i++) out[at + i] = bytes[i]!
  return at + bytes.length
}

/**
 * `line[from, to)` as the inside of a JSON string, escaped as JSON.stringify escapes its text; -1 when it is not
 * UTF-8.
 */
const putLine = (line: Uint8Array, from: number, end: number, at: number): number => {
  let to = at
  let nonAscii = false
  for (let i = from; i < end; i++) {
    const byte = line[i]!
    if (byte >= 0x20 && byte !== quote && byte !== backslash) {
      if (byte >= 0x80) nonAscii = true
      out[to++] = byte
    } else if (byte === quote || byte === backslash) {
      out[to++] = backslash
      out[to++] = byte
    } else if (shortEscape[byte] !== 0) {
      out[to++] = backslash
      out[to++] = shortEscape[byte]!
    } else {
      out[to++] = backslash
      out[to++] = u
      out[to++] = zero
      out[to++] = zero
      out[to++] = hex[byte >> 4]!
      out[to++] = hex[byte & 15]!
    }
  }
  // Valid UTF-8 is copied as is (JSON.stringify leaves non-ASCII text alone); anything else takes the text path.
  return nonAscii && !isUtf8(line.subarray(from, end)) ? -1 : to
}

/** The time as `formatTime` writes it, without the final `Z`. */
const putTime = (timeNano: bigint, at: number): number => {
  if (timeNano < 0n) {
    const text = formatTime(timeNano)
    return at + out.write(text.slice(0, -1), at, "latin1")
  }
  // Entries come in bursts within the same second: its date part is formatted once, and the fraction is a number
  // (one subtraction, rather than the decimal digits of the whole time, which cost several times more).
  if (timeNano < secondStart || timeNano >= secondEnd) {
    secondStart = timeNano - (timeNano % billion)
    secondEnd = secondStart + billion
    secondBase = ascii(new Date(Number(secondStart / billion) * 1000).toISOString().slice(0, 19))
  }
  const to = put(secondBase, at)
  let fraction = Number(timeNano - secondStart)
  if (fraction === 0) return to
  // All nine digits in small-integer arithmetic (the fraction is under 2^31), then the trailing zeros dropped.
  out[to] = dot
  for (let i = 9; i >= 1; i--) {
    const rest = (fraction / 10) | 0
    out[to + i] = zero + fraction - rest * 10
    fraction = rest
  }
  let end = to + 10
  while (out[end - 1] === zero) end--
  return end
}

/**
 * One record at `at`, as bytes; -1 when the line is not UTF-8 (the caller then writes `encode`'s text).
 */
const putRecord = (
  line: Uint8Array,
  lineStart: number,
  lineEnd: number,
  source: string,
  timeNano: bigint,
  endsLine: boolean,
  at: number,
  { attrs, stdoutMiddle, stderrMiddle }: Shape
): number => {
  let to = putLine(line, lineStart, lineEnd, put(logPrefix, at))
  if (to < 0) return -1
  if (endsLine) {
    out[to++] = backslash
    out[to++] = n
  }
  out[to++] = quote
  if (source === "stdout") to = put(stdoutMiddle, to)
  else if (source === "stderr") to = put(stderrMiddle, to)
  else to += out.write(middleOf(source, attrs), to, "utf8")
  return put(timeEnd, putTime(timeNano, to))
}

/**
 * Room for a record of a line of `lineBytes` and a stream of `sourceLength` (every byte escaped as \u00XX), in the
 * shape `s`.
 */
const worstCase = (lineBytes: number, sourceLength: number, s: Shape) =>
  lineBytes * 6 + sourceLength * 6 + 96 + s.stdoutMiddle.length

/**
 * The records of a batch (each exactly `encode`'s text, in UTF-8) in one buffer. This is the driver's per-line
 * path, so it writes bytes directly: no string per record, the date part once per second, the usual stream names
 * as constants, a line that is valid UTF-8 copied with only its ASCII escapes; only a line that is not UTF-8 goes
 * through `encode`'s text (for its U+FFFD replacements).
 *
 * @since 0.1.0
 */
export const encodeAll = (entries: ReadonlyArray<LogEntry.LogEntry>, s: Shape = plain): Encoded => {
  const ends: Array<number> = new Array(entries.length)
  let start = used
  let at = used
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    const moved = reserve(start, at, worstCase(entry.line.length, entry.source.length, s))
    at += moved - start
    start = moved
    const endsLine = LogEntry.endsLine(entry)
    const to = putRecord(entry.line, 0, entry.line.length, entry.source, entry.timeNano, endsLine, at, s)
    at = to >= 0 ? to : at + out.write(encode(entry, s), at, "utf8")
    ends[i] = at - start
  }
  used = at
  return batchOf(start, at, ends)
}

/**
 * `encodeAll` for entries still framed: the same bytes, read from the frames in place, with no `LogEntry` made
 * but for a line that is not UTF-8. Corrupt entries are left out (the batch counts them).
 *
 * @since 0.1.0
 */
export const encodeFrames = (batch: LogFraming.FrameBatch, s: Shape = plain): Encoded => {
  const ends: Array<number> = []
  let start = used
  let at = used
  batch.forEach((f) => {
    const moved = reserve(start, at, worstCase(f.lineEnd - f.lineStart, f.source.length, s))
    at += moved - start
    start = moved
    const endsLine = !f.partial || f.last
    const to = putRecord(f.line, f.lineStart, f.lineEnd, f.source, f.timeNano, endsLine, at, s)
    if (to >= 0) at = to
    else {
      const line = f.line.slice(f.lineStart, f.lineEnd)
      const entry = LogEntry.make({ source: f.source, timeNano: f.timeNano, line, partial: !endsLine })
      at += out.write(encode(entry, s), at, "utf8")
    }
    ends.push(at - start)
  })
  used = at
  return batchOf(start, at, ends)
}

const utf8 = new TextEncoder()
const maxInt64 = 2n ** 63n - 1n
const minInt64 = -(2n ** 63n)

/**
 * An entry from one record (without its newline). `line` is `log` as written (a complete line keeps its
 * newline, which is what `docker logs` prints), so the entry is not partial.
 *
 * @since 0.1.0
 */
export const decode = (record: string): Result.Result<LogEntry.LogEntry, RecordCorrupt> => {
  let value: unknown
  try {
    value = JSON.parse(record)
  } catch (error) {
    return Result.fail(new RecordCorrupt({ reason: error instanceof Error ? error.message : String(error) }))
  }
  const { log, stream, time } = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>
  if (typeof log !== "string" || typeof stream !== "string" || typeof time !== "string") {
    return Result.fail(new RecordCorrupt({ reason: "expected string fields log, stream and time" }))
  }
  const timeNano = parseTime(time)
  if (Result.isFailure(timeNano)) return Result.fail(new RecordCorrupt({ reason: timeNano.failure }))
  // `time_nano` is an int64: a time it cannot carry (Go's zero time, a year past 2262) would break the encoding of
  // the whole `ReadLogs` answer, so the record is left out like any other that cannot be sent.
  if (timeNano.success < minInt64 || timeNano.success > maxInt64) {
    return Result.fail(new RecordCorrupt({ reason: `time ${time} is outside the range of a LogEntry's time_nano` }))
  }
  return Result.succeed(LogEntry.make({ source: stream, timeNano: timeNano.success, line: utf8.encode(log) }))
}

const text = new TextDecoder()

/**
 * The entries of records that `encodeAll` wrote, as `decode` reads each back from the file.
 *
 * @since 0.1.0
 */
export const decodeAll = ({ bytes, ends }: Encoded): Array<LogEntry.LogEntry> => {
  const entries: Array<LogEntry.LogEntry> = []
  let start = 0
  for (const end of ends) {
    const decoded = decode(text.decode(bytes.subarray(start, end - 1)))
    if (Result.isSuccess(decoded)) entries.push(decoded.success)
    start = end
  }
  return entries
}
