import { fromBinary } from "@bufbuild/protobuf"
import { LogEntry } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import * as Fs from "node:fs"

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ""), "hex"))

// The message of a frame captured from dockerd 20.10.24 (protocol/logging.md).
const observed = hex("0a06 737464 6f7574 10 81db9cceb1df85f518 1a05 6c696e6531")

describe("LogEntry", () => {
  it("decodes the message the daemon sent", () => {
    const entry = Result.getOrThrow(LogEntry.decode(observed))
    expect(entry.source).toBe("stdout")
    expect(LogEntry.lineText(entry)).toBe("line1")
    expect(entry.partial).toBe(false)
    expect(entry.partialLogMetadata).toBeUndefined()
    expect(entry.timeNano).toBeGreaterThan(1_700_000_000_000_000_000n)
    expect(new Date(LogEntry.timeMillis(entry)).getUTCFullYear()).toBe(2026)
  })

  it("encodes like the daemon: the same bytes back, defaults omitted", () => {
    const entry = Result.getOrThrow(LogEntry.decode(observed))
    expect(Buffer.from(LogEntry.encode(entry)).toString("hex")).toBe(Buffer.from(observed).toString("hex"))
    expect(LogEntry.encode(LogEntry.make({}))).toEqual(new Uint8Array(0))
  })

  it("round-trips partial chunks with their metadata", () => {
    const entry = LogEntry.make({
      source: "stderr",
      timeNano: 1_764_000_000_123_456_789n,
      line: "chunk",
      partial: true,
      partialLogMetadata: { last: true, id: "a".repeat(64), ordinal: 3 }
    })
    const back = Result.getOrThrow(LogEntry.decode(LogEntry.encode(entry)))
    expect(back.partialLogMetadata).toMatchObject({ last: true, id: "a".repeat(64), ordinal: 3 })
    expect(back.timeNano).toBe(1_764_000_000_123_456_789n)
    expect(LogEntry.endsLine(back)).toBe(true)
    expect(LogEntry.endsLine(LogEntry.make({ partial: true, partialLogMetadata: { last: false } }))).toBe(false)
    expect(LogEntry.endsLine(LogEntry.make({ line: "x" }))).toBe(true)
  })

  it("skips unknown fields and accepts any field order", () => {
    // line first, then an unknown varint field 9, then source.
    const bytes = hex("1a02 6869 4801 0a06 737464657272")
    const entry = Result.getOrThrow(LogEntry.decode(bytes))
    expect(entry.source).toBe("stderr")
    expect(LogEntry.lineText(entry)).toBe("hi")
  })

  it("fails cleanly on bytes that are not a LogEntry", () => {
    const truncated = LogEntry.decode(hex("0a06 7374"))
    expect(Result.isFailure(truncated)).toBe(true)
    if (Result.isFailure(truncated)) expect(truncated.failure.message).toMatch(/^corrupt log entry: /)
  })

  it("refuses the tags fromBinary refuses, with its reasons", () => {
    // Field 0, wire type 6, and a tag whose varint overflows 32 bits.
    for (const bad of ["00", "0e", "ffffffff7f", "8080808010"]) {
      const ours = LogEntry.decode(hex(bad))
      expect(Result.isFailure(ours)).toBe(true)
      let theirs = ""
      try {
        fromBinary(LogEntry.schema, hex(bad))
      } catch (error) {
        theirs = (error as Error).message
      }
      expect(theirs).not.toBe("")
      if (Result.isFailure(ours)) expect(ours.failure.message).toBe(`corrupt log entry: ${theirs}`)
    }
  })

  it("the embedded descriptor has the fields of entry.proto", () => {
    const proto = Fs.readFileSync(new URL("../../src/log/entry.proto", import.meta.url), "utf8")
    const declared = (message: string) =>
      [...(proto.match(new RegExp(`message ${message} \\{([^}]*)\\}`))?.[1] ?? "").matchAll(/(\w+) (\w+) = (\d+);/g)]
        .map(([, type, name, number]) => `${type} ${name} ${number}`)
        .sort()
    const described = (desc: typeof LogEntry.schema) =>
      desc.fields
        .map(
          (f) =>
            `${f.fieldKind === "message" ? f.message.name : f.scalar === undefined ? "?" : scalarName[f.scalar]} ${f.name} ${f.number}`
        )
        .sort()
    const meta = LogEntry.schema.fields.find((f) => f.name === "partial_log_metadata")
    expect(described(LogEntry.schema)).toEqual(declared("LogEntry"))
    expect(meta?.fieldKind === "message" ? described(meta.message as typeof LogEntry.schema) : []).toEqual(
      declared("PartialLogEntryMetadata")
    )
  })
})

// ScalarType numbers of @bufbuild/protobuf (descriptor.proto's FieldDescriptorProto.Type).
const scalarName: Record<number, string> = { 3: "int64", 5: "int32", 8: "bool", 9: "string", 12: "bytes" }
