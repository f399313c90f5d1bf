/**
 * Decoding `LogEntry` messages that lie side by side in one buffer (the frames of a FIFO chunk) with a single
 * @bufbuild/protobuf `BinaryReader`, instead of `fromBinary` per message (which builds a reader, a view and a read
 * context for each): the per-line cost of a log driver. The varints, lengths and scalars are read by the library's
 * reader; field numbers come from the schema. The result is what `fromBinary` gives (same fields, same defaults,
 * unknown fields skipped, the same malformed messages refused), so `LogEntry.decode` uses it too, with one
 * difference: invalid UTF-8 in `source` or `id` is read with U+FFFD in its place, as the daemon's Go decoder
 * accepts it, where `fromBinary` refuses the message.
 *
 * @since 0.1.0
 */
import { BinaryReader } from "@bufbuild/protobuf/wire"
import {
  type LogEntry,
  LogEntrySchema,
  type PartialLogEntryMetadata,
  PartialLogEntryMetadataSchema
} from "./entry_pb.ts"

const numberOf = (schema: typeof LogEntrySchema | typeof PartialLogEntryMetadataSchema, name: string): number => {
  const field = schema.fields.find((f) => f.name === name)
  if (field === undefined) throw new Error(`entry.proto has no field ${name}`)
  return field.number
}

const source = numberOf(LogEntrySchema, "source")
const timeNano = numberOf(LogEntrySchema, "time_nano")
const line = numberOf(LogEntrySchema, "line")
const partial = numberOf(LogEntrySchema, "partial")
const partialLogMetadata = numberOf(LogEntrySchema, "partial_log_metadata")
const last = numberOf(PartialLogEntryMetadataSchema, "last")
const id = numberOf(PartialLogEntryMetadataSchema, "id")
const ordinal = numberOf(PartialLogEntryMetadataSchema, "ordinal")

const entryType = LogEntrySchema.typeName
const metadataType = PartialLogEntryMetadataSchema.typeName
const empty = new Uint8Array(0)
const stdout = Uint8Array.from(Buffer.from("stdout"))
const stderr = Uint8Array.from(Buffer.from("stderr"))

const equalAt = (bytes: Uint8Array, at: number, word: Uint8Array): boolean => {
  for (let i = 0; i < word.length; i++) if (bytes[at + i] !== word[i]) return false
  return true
}

/**
 * The fields of one message, read in place: the line as its bounds in the reader's bytes, no object made. One
 * `Fields` is filled again for each message.
 *
 * @since 0.1.0
 */
export interface Fields {
  source: string
  timeNano: bigint
  lineStart: number
  lineEnd: number
  partial: boolean
  metadata: PartialLogEntryMetadata | undefined
}

/**
 * A fresh `Fields`, to be filled by `scan`.
 *
 * @since 0.1.0
 */
export const fields = (): Fields => ({
  source: "",
  timeNano: 0n,
  lineStart: 0,
  lineEnd: 0,
  partial: false,
  metadata: undefined
})

/**
 * A reader over `bytes`, whose messages `read` decodes (or `scan` reads in place) one after the other.
 *
 * @since 0.1.0
 */
export interface EntryReader {
  /** The bytes read (the line bounds of `scan` are offsets in them). */
  readonly bytes: Uint8Array
  /** Decodes the message in `bytes[start, end)`; throws (as `fromBinary` does) on bytes that are not one. */
  readonly read: (start: number, end: number) => LogEntry
  /** Reads the message in `bytes[start, end)` into `into`; throws where `read` does. */
  readonly scan: (start: number, end: number, into: Fields) => void
}

/**
 * A reader over `bytes` (one per chunk; each `read` is one message).
 *
 * @since 0.1.0
 */
export const make = (chunk: Uint8Array): EntryReader => {
  // A plain view: the lines are views of it, and a Buffer's views (Node's FastBuffer) cost much more to make.
  const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  const reader = new BinaryReader(bytes)
  // The stream names come in every message: the two the daemon uses are compared in place, not decoded each time.
  const readSource = (end: number): string => {
    const at = reader.pos
    const length = reader.uint32()
    const start = reader.pos
    if (length === 6 && start + 6 <= end) {
      if (equalAt(bytes, start, stdout)) {
        reader.pos = start + 6
        return "stdout"
      }
      if (equalAt(bytes, start, stderr)) {
        reader.pos = start + 6
        return "stderr"
      }
    }
    reader.pos = at
    return reader.string()
  }
  // The field number and wire type of the last tag read: `tag()` answers them as a new array, one per field of
  // every line, so they are read here with the library's `uint32()` and refused as `tag()` refuses them.
  let field = 0
  let wireType = 0
  const nextTag = () => {
    const at = reader.pos
    const tag = reader.uint32()
    const read = reader.pos - at
    if (read > 5 || (read === 5 && bytes[reader.pos - 1]! > 0x0f)) {
      throw new Error("illegal tag: varint overflows uint32")
    }
    field = tag >>> 3
    wireType = tag & 7
    if (field <= 0 || wireType > 5) throw new Error(`illegal tag: field no ${field} wire type ${wireType}`)
  }
  const readMetadata = (into: PartialLogEntryMetadata | undefined): PartialLogEntryMetadata => {
    const metadata: PartialLogEntryMetadata = into ?? { $typeName: metadataType, last: false, id: "", ordinal: 0 }
    // Like the library: the nested message ends at its length; the frame's end is checked by the caller.
    const end = reader.uint32() + reader.pos
    while (reader.pos < end) {
      nextTag()
      if (field === last) metadata.last = reader.bool()
      else if (field === id) metadata.id = reader.string()
      else if (field === ordinal) metadata.ordinal = reader.int32()
      else reader.skip(wireType, field)
    }
    return metadata
  }
  const scan = (start: number, end: number, into: Fields): void => {
    reader.pos = start
    into.source = ""
    into.timeNano = 0n
    into.lineStart = 0
    into.lineEnd = 0
    into.partial = false
    into.metadata = undefined
    while (reader.pos < end) {
      nextTag()
      if (field === line) {
        // The bounds only (what `bytes()` would view), checked against the frame's end below.
        const length = reader.uint32()
        into.lineStart = reader.pos
        into.lineEnd = reader.pos + length
        reader.pos = into.lineEnd
      } else if (field === source) into.source = readSource(end)
      else if (field === timeNano) into.timeNano = reader.int64() as bigint
      else if (field === partial) into.partial = reader.bool()
      else if (field === partialLogMetadata) into.metadata = readMetadata(into.metadata)
      else reader.skip(wireType, field)
      // The reader's bound is the whole buffer: a field running past this message's end is caught here.
      if (reader.pos > end) throw new RangeError("premature EOF")
    }
  }
  const scratch = fields()
  const read = (start: number, end: number): LogEntry => {
    scan(start, end, scratch)
    const entryLine = scratch.lineEnd === scratch.lineStart ? empty : bytes.subarray(scratch.lineStart, scratch.lineEnd)
    return scratch.metadata === undefined
      ? {
          $typeName: entryType,
          source: scratch.source,
          timeNano: scratch.timeNano,
          line: entryLine,
          partial: scratch.partial
        }
      : {
          $typeName: entryType,
          source: scratch.source,
          timeNano: scratch.timeNano,
          line: entryLine,
          partial: scratch.partial,
          partialLogMetadata: scratch.metadata
        }
  }
  return { bytes, read, scan }
}
