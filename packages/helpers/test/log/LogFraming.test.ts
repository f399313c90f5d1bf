import { fromBinary } from "@bufbuild/protobuf"
import { LogEntry, LogFraming } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Result, Stream } from "effect"

const entries = Array.from({ length: 5 }, (_, i) =>
  LogEntry.make({ source: i % 2 === 0 ? "stdout" : "stderr", timeNano: BigInt(i + 1) * 1000n, line: `line ${i}` })
)
const lines = (es: ReadonlyArray<LogEntry.LogEntry>) => es.map(LogEntry.lineText)

describe("LogFraming", () => {
  it("frames with a 4-byte big-endian length", () => {
    const frame = LogFraming.encodeFrame(entries[0]!)
    const body = LogEntry.encode(entries[0]!)
    expect(new DataView(frame.buffer).getUint32(0)).toBe(body.length)
    expect(frame.subarray(4)).toEqual(body)
  })

  it("decodes frames split at every possible byte", () => {
    const bytes = LogFraming.encodeFrames(entries)
    for (let cut = 0; cut <= bytes.length; cut++) {
      const decoder = LogFraming.decoder()
      const first = decoder.push(bytes.subarray(0, cut)).entries
      const second = decoder.push(bytes.subarray(cut)).entries
      expect(lines([...first, ...second])).toEqual(lines(entries))
      expect(decoder.pending()).toBe(0)
      expect(Result.isSuccess(decoder.end())).toBe(true)
    }
  })

  it("decodes a stream fed one byte at a time", () => {
    const bytes = LogFraming.encodeFrames(entries)
    const decoder = LogFraming.decoder()
    const out: Array<LogEntry.LogEntry> = []
    for (const b of bytes) out.push(...decoder.push(Uint8Array.of(b)).entries)
    expect(lines(out)).toEqual(lines(entries))
  })

  it("an empty frame is an entry with default fields", () => {
    const decoded = LogFraming.decoder().push(Uint8Array.of(0, 0, 0, 0)).entries
    expect(decoded).toHaveLength(1)
    expect(decoded[0]?.source).toBe("")
  })

  it("refuses a frame over the bound before buffering it, and stays failed", () => {
    const decoder = LogFraming.decoder({ maxFrameSize: 16 })
    const small = LogEntry.make({ line: "ok" })
    const bytes = new Uint8Array([...LogFraming.encodeFrame(small), 0, 0, 0, 17])
    const result = decoder.push(bytes)
    // The entry before the bad frame is still delivered.
    expect(lines(result.entries)).toEqual(["ok"])
    expect(result.error).toMatchObject({ _tag: "FrameTooLarge", size: 17, limit: 16 })
    expect(result.error?.message).toBe("log frame of 17 bytes exceeds the limit of 16 bytes")
    expect(decoder.push(LogFraming.encodeFrame(small)).error?._tag).toBe("FrameTooLarge")
  })

  it("reports a corrupt message and a stream cut inside a frame", () => {
    const corrupt = LogFraming.decoder().push(Uint8Array.of(0, 0, 0, 2, 0x0a, 0x05))
    expect(corrupt.error?._tag).toBe("LogEntryCorrupt")
    const cut = LogFraming.decoder()
    cut.push(LogFraming.encodeFrame(entries[0]!).subarray(0, 7))
    const end = cut.end()
    expect(Result.isFailure(end) && end.failure.message).toMatch(/ended inside a frame \(7 of \d+ bytes\)/)
  })

  it("decodes a chunk of frames to what fromBinary decodes from each message", () => {
    const varied = [
      ...entries,
      LogEntry.make({}),
      LogEntry.make({ source: "other", timeNano: -5n, line: Uint8Array.of(0, 0xff, 10) }),
      LogEntry.make({
        source: "stdout",
        timeNano: 1_764_244_800_123_456_789n,
        line: "chunk",
        partial: true,
        partialLogMetadata: { last: true, id: "x".repeat(64), ordinal: 7 }
      })
    ]
    // An unknown varint field (9) and a repeated source: skipped, and the last one wins, as in fromBinary.
    const extra = Uint8Array.of(0x48, 0x01, 0x0a, 0x06, ...Buffer.from("stderr"))
    const messages = [...varied.map(LogEntry.encode), Uint8Array.of(...LogEntry.encode(varied[0]!), ...extra)]
    const framed = Buffer.concat(
      messages.map((m) => {
        const header = Buffer.alloc(4)
        header.writeUInt32BE(m.length)
        return Buffer.concat([header, m])
      })
    )
    const decoded = LogFraming.decoder().push(framed)
    expect(decoded.error).toBeUndefined()
    expect(decoded.entries).toEqual(messages.map((m) => fromBinary(LogEntry.schema, m, { readUnknownFields: false })))
  })

  it("a message running past its frame is corrupt, even when more frames follow in the chunk", () => {
    const next = LogFraming.encodeFrame(entries[1]!)
    // Field 1 announces 5 bytes; the frame holds none of them (the next frame's bytes are not its own).
    const result = LogFraming.decoder().push(
      Uint8Array.of(...LogFraming.encodeFrame(entries[0]!), 0, 0, 0, 2, 0x0a, 0x05, ...next)
    )
    expect(lines(result.entries)).toEqual(["line 0"])
    expect(result.error?._tag).toBe("LogEntryCorrupt")
  })

  it("pushFrames answers the frames as views of the chunk; decodeRun leaves out (and counts) a corrupt message", () => {
    const framed = LogFraming.encodeFrames(entries)
    const pushed = LogFraming.decoder().pushFrames(framed)
    expect(pushed.error).toBeUndefined()
    expect(pushed.runs).toHaveLength(1)
    expect(pushed.runs[0]!.bytes).toBe(framed)
    expect(lines(LogFraming.decodeRun(pushed.runs[0]!).entries)).toEqual(lines(entries))
    expect(lines(LogFraming.decodeRun(pushed.runs[0]!, 1, 3).entries)).toEqual(lines(entries.slice(1, 3)))
    // A message that runs past its frame, between two good frames: the framing holds, only it is left out.
    const bad = Uint8Array.of(0, 0, 0, 2, 0x0a, 0x05)
    const mixed = LogFraming.decoder().pushFrames(
      Uint8Array.of(...LogFraming.encodeFrame(entries[0]!), ...bad, ...framed)
    )
    expect(mixed.error).toBeUndefined()
    const decoded = LogFraming.decodeRun(mixed.runs[0]!)
    expect(lines(decoded.entries)).toEqual(lines([entries[0]!, ...entries]))
    expect(decoded.corrupt).toBe(1)
    expect(decoded.error?._tag).toBe("LogEntryCorrupt")
    // The bad frame is the run's second.
    expect(decoded.firstCorrupt).toBe(1)
    expect(LogFraming.decodeRun(pushed.runs[0]!).firstCorrupt).toBeUndefined()
  })

  it("push stops at a corrupt message, and holds what follows it as discarded", () => {
    const decoder = LogFraming.decoder()
    const bad = Uint8Array.of(0, 0, 0, 2, 0x0a, 0x05)
    const framed = LogFraming.encodeFrames(entries)
    const tail = LogFraming.encodeFrame(entries[0]!).subarray(0, 3)
    const stopped = decoder.push(Uint8Array.of(...LogFraming.encodeFrame(entries[0]!), ...bad, ...framed, ...tail))
    expect(lines(stopped.entries)).toEqual(["line 0"])
    expect(stopped.error?._tag).toBe("LogEntryCorrupt")
    expect(decoder.pending()).toBe(bad.length + framed.length + tail.length)
    expect(decoder.push(framed).error?._tag).toBe("LogEntryCorrupt")
  })

  it.effect("encodeStream and decodeStream round-trip through arbitrary chunking", () =>
    Effect.gen(function* () {
      const framed = yield* Stream.runCollect(LogFraming.encodeStream(Stream.fromIterable(entries)))
      const all = Buffer.concat(framed)
      const chunks = [all.subarray(0, 3), all.subarray(3, 20), all.subarray(20)]
      const back = yield* Stream.runCollect(Stream.fromIterable(chunks).pipe(LogFraming.decodeStream()))
      expect(lines(back)).toEqual(lines(entries))
      const truncated = yield* Stream.runCollect(Stream.make(all.subarray(0, 10)).pipe(LogFraming.decodeStream())).pipe(
        Effect.flip
      )
      expect(truncated._tag).toBe("FrameTruncated")
      const tooLarge = yield* Stream.runCollect(
        Stream.make(all, Uint8Array.of(0, 0, 0, 200)).pipe(LogFraming.decodeStream({ maxFrameSize: 100 }))
      ).pipe(Effect.flip)
      expect(tooLarge._tag).toBe("FrameTooLarge")
    })
  )
})
