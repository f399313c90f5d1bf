/**
 * The `LogEntry` message the daemon sends a log driver (one per line or line chunk) and a `ReadLogs` answer sends
 * back, encoded and decoded with @bufbuild/protobuf from the message's schema (`entry.proto`).
 *
 * @since 0.1.0
 */
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf"
import * as Data from "effect/Data"
import * as Result from "effect/Result"
import { type LogEntry as Message, LogEntrySchema } from "./internal/entry_pb.ts"
import * as EntryReader from "./internal/entryReader.ts"

/**
 * A decoded entry: `source` (`stdout` or `stderr`), `timeNano` (Unix nanoseconds), `line` (the bytes, without
 * the trailing newline), `partial` and `partialLogMetadata` (`last`, `id`, `ordinal`) for a line split in chunks.
 *
 * @since 0.1.0
 */
export type LogEntry = Message

/**
 * What `make` accepts: any subset of the fields (absent ones take their proto3 default).
 *
 * @since 0.1.0
 */
export type Fields = MessageInitShape<typeof schema>

/**
 * The message descriptor, for code that wants @bufbuild/protobuf's other functions (JSON, equality, reflection).
 *
 * @since 0.1.0
 */
export const schema = LogEntrySchema

/**
 * Bytes that are not a valid `LogEntry`.
 *
 * @since 0.1.0
 */
export class LogEntryCorrupt extends Data.TaggedError("LogEntryCorrupt")<{ readonly reason: string }> {
  override get message() {
    return `corrupt log entry: ${this.reason}`
  }
}

const utf8 = new TextEncoder()
// `ignoreBOM` keeps a leading byte-order mark in the text (the default drops it, which would change the line).
const text = new TextDecoder("utf-8", { ignoreBOM: true })

/**
 * Builds an entry; a string `line` is UTF-8 encoded.
 *
 * @since 0.1.0
 */
export const make = (fields: Omit<Fields, "line"> & { readonly line?: Uint8Array | string }): LogEntry =>
  create(LogEntrySchema, {
    ...fields,
    ...(typeof fields.line === "string" ? { line: utf8.encode(fields.line) } : {})
  } as Fields)

/**
 * Encodes an entry (proto3: default values are not written).
 *
 * @since 0.1.0
 */
export const encode = (entry: LogEntry): Uint8Array => toBinary(LogEntrySchema, entry)

/**
 * Decodes one message; unknown fields are skipped, fields may come in any order.
 *
 * @since 0.1.0
 */
export const decode = (bytes: Uint8Array): Result.Result<LogEntry, LogEntryCorrupt> => {
  try {
    return Result.succeed(EntryReader.make(bytes).read(0, bytes.length))
  } catch (error) {
    return Result.fail(new LogEntryCorrupt({ reason: error instanceof Error ? error.message : String(error) }))
  }
}

/**
 * The line as text (invalid UTF-8 becomes U+FFFD, as the daemon's JSON does).
 *
 * @since 0.1.0
 */
export const lineText = (entry: LogEntry): string => text.decode(entry.line)

/**
 * Whether the entry ends a line: not partial, or the last chunk of a split line. Only those get a newline back
 * when written out.
 *
 * @since 0.1.0
 */
export const endsLine = (entry: LogEntry): boolean => !entry.partial || entry.partialLogMetadata?.last === true

/**
 * The entry's time in milliseconds since the epoch (what `Date` holds).
 *
 * @since 0.1.0
 */
export const timeMillis = (entry: LogEntry): number => Number(entry.timeNano / 1_000_000n)
