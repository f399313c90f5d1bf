/**
 * One line of a container's log file: a JSON object like the engine's `json-file` driver writes,
 * `{"log":"hello\n","stream":"stdout","time":"2026-11-27T12:00:00.123456789Z"}`. A complete line keeps its newline
 * in `log`; a chunk of a longer line (or output cut at exit) has none, so reading the records back in order and
 * concatenating `log` gives the container's output byte for byte (for valid UTF-8).
 *
 * @since 0.1.0
 */
import { LogEntry } from "@docker-plugin-kit/helpers"
import * as Data from "effect/Data"
import * as Result from "effect/Result"

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
  if (Number.isNaN(millis)) return Result.fail(`not a valid time: ${text}`)
  return Result.succeed(BigInt(millis) * 1_000_000n + BigInt((match[2] ?? "").padEnd(9, "0")))
}

/**
 * The record of an entry, newline included.
 *
 * @since 0.1.0
 */
export const encode = (entry: LogEntry.LogEntry): string => {
  const text = LogEntry.lineText(entry)
  return `{"log":${JSON.stringify(LogEntry.endsLine(entry) ? `${text}\n` : text)},"stream":${JSON.stringify(entry.source)},"time":"${formatTime(entry.timeNano)}"}\n`
}

const utf8 = new TextEncoder()

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
  return Result.succeed(LogEntry.make({ source: stream, timeNano: timeNano.success, line: utf8.encode(log) }))
}

/**
 * An entry as a `ReadLogs` answer carries it: a complete line gets its newline back (the daemon prints `line` as
 * is), as it has when read back from the file.
 *
 * @since 0.1.0
 */
export const forReading = (entry: LogEntry.LogEntry): LogEntry.LogEntry =>
  LogEntry.endsLine(entry)
    ? LogEntry.make({ source: entry.source, timeNano: entry.timeNano, line: `${LogEntry.lineText(entry)}\n` })
    : LogEntry.make({ source: entry.source, timeNano: entry.timeNano, line: entry.line })
