import { LogRecord } from "@docker-plugin-kit/drivers"
import { LogEntry, LogFraming } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"

const at = 1_764_244_800_123_456_789n // 2025-11-27T12:00:00.123456789Z

describe("LogRecord", () => {
  it("formats and parses nanosecond times", () => {
    expect(LogRecord.formatTime(at)).toBe("2025-11-27T12:00:00.123456789Z")
    expect(LogRecord.formatTime(1_764_244_800_000_000_000n)).toBe("2025-11-27T12:00:00Z")
    expect(LogRecord.formatTime(1_764_244_800_100_000_000n)).toBe("2025-11-27T12:00:00.1Z")
    expect(LogRecord.formatTime(1n)).toBe("1970-01-01T00:00:00.000000001Z")
    expect(LogRecord.formatTime(-1n)).toBe("1969-12-31T23:59:59.999999999Z")
    expect(LogRecord.formatTime(1_764_244_801_000_000_000n)).toBe("2025-11-27T12:00:01Z")
    expect(Result.getOrThrow(LogRecord.parseTime("2025-11-27T12:00:00.123456789Z"))).toBe(at)
    expect(Result.getOrThrow(LogRecord.parseTime("2025-11-27T13:00:00.123456789+01:00"))).toBe(at)
    expect(Result.getOrThrow(LogRecord.parseTime("0001-01-01T00:00:00Z"))).toBe(-62_135_596_800_000_000_000n)
    expect(Result.isFailure(LogRecord.parseTime("yesterday"))).toBe(true)
    expect(Result.getOrThrow(LogRecord.parseTime("2024-02-29T00:00:00Z"))).toBe(1_709_164_800_000_000_000n)
    expect(Result.getOrThrow(LogRecord.parseTime("2000-02-29T23:59:59Z"))).toBe(951_868_799_000_000_000n)
    // Out of range fields are refused, not rolled over into the next day or month.
    for (const text of ["2025-02-29", "2100-02-29", "2025-04-31", "2025-02-30", "2025-01-00", "2025-12-32"]) {
      expect(LogRecord.parseTime(`${text}T00:00:00Z`)).toEqual(Result.fail(`not a valid time: ${text}T00:00:00Z`))
    }
    expect(Result.isFailure(LogRecord.parseTime("2025-01-01T24:00:00Z"))).toBe(true)
  })

  it("writes complete lines with their newline, chunks without", () => {
    const line = LogEntry.make({ source: "stderr", timeNano: at, line: 'say "hi"' })
    expect(LogRecord.encode(line)).toBe(
      '{"log":"say \\"hi\\"\\n","stream":"stderr","time":"2025-11-27T12:00:00.123456789Z"}\n'
    )
    const chunk = LogEntry.make({ source: "stdout", timeNano: at, line: "abc", partial: true })
    expect(JSON.parse(LogRecord.encode(chunk)).log).toBe("abc")
    const last = LogEntry.make({ ...chunk, partialLogMetadata: { last: true, id: "x", ordinal: 2 } })
    expect(JSON.parse(LogRecord.encode(last)).log).toBe("abc\n")
  })

  it("reads a record back into what ReadLogs sends", () => {
    const entry = LogEntry.make({ source: "stdout", timeNano: at, line: "hello" })
    const back = Result.getOrThrow(LogRecord.decode(LogRecord.encode(entry).trimEnd()))
    expect(back.source).toBe("stdout")
    expect(back.timeNano).toBe(at)
    expect(LogEntry.lineText(back)).toBe("hello\n")
  })

  it("decodeAll reads a batch that encodeAll wrote back as the file's reader would", () => {
    const batch = [
      LogEntry.make({ source: "stdout", timeNano: at, line: "hello" }),
      LogEntry.make({ source: "stderr", timeNano: at + 1n, line: "cut", partial: true }),
      LogEntry.make({ source: "stdout", timeNano: at + 2n, line: 'say "hi"' })
    ]
    const back = LogRecord.decodeAll(LogRecord.encodeAll(batch))
    expect(back.map(LogEntry.lineText)).toEqual(["hello\n", "cut", 'say "hi"\n'])
    expect(back.map((e) => [e.source, e.timeNano])).toEqual([
      ["stdout", at],
      ["stderr", at + 1n],
      ["stdout", at + 2n]
    ])
  })

  it("encodeFrames leaves out a frame that is not a LogEntry, and the batch counts it", () => {
    const good = [LogEntry.make({ source: "stdout", timeNano: at, line: "a" }), LogEntry.make({ line: "b" })]
    const bytes = Uint8Array.of(
      ...LogFraming.encodeFrame(good[0]!),
      ...[0, 0, 0, 2, 0x0a, 0x05],
      ...LogFraming.encodeFrame(good[1]!)
    )
    const batch = LogFraming.frameBatch(LogFraming.decoder().pushFrames(bytes).runs)
    expect(batch.size).toBe(3)
    const { bytes: records } = LogRecord.encodeFrames(batch)
    expect(Buffer.from(records).toString("utf8")).toBe(good.map((entry) => LogRecord.encode(entry)).join(""))
    expect(batch.corrupt()).toBe(1)
    expect(batch.error()?.message).toMatch(/^corrupt log entry: /)
  })

  it("refuses lines that are not records", () => {
    expect(Result.isFailure(LogRecord.decode("not json"))).toBe(true)
    // A time outside int64 nanoseconds (what a LogEntry carries) is refused, not turned into a frame that breaks.
    for (const time of ["0001-01-01T00:00:00Z", "2262-04-11T23:47:16.854775808Z", "1677-09-21T00:12:43.145224191Z"]) {
      expect(LogRecord.decode(JSON.stringify({ log: "x", stream: "stdout", time }))).toMatchObject(
        Result.fail({ _tag: "RecordCorrupt" })
      )
    }
    const edge = LogRecord.decode('{"log":"x","stream":"stdout","time":"2262-04-11T23:47:16.854775807Z"}')
    expect(Result.getOrThrow(edge).timeNano).toBe(2n ** 63n - 1n)
    const missing = LogRecord.decode('{"log":"x"}')
    expect(Result.isFailure(missing) && missing.failure.message).toBe(
      "corrupt log record: expected string fields log, stream and time"
    )
  })

  it("encodeAll and encodeFrames write each record exactly as encode does: escapes, invalid UTF-8, partial chunks, any stream", () => {
    // A small deterministic generator: lines of letters mixed with the bytes that need care.
    let seed = 42
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) >>> 0
      return seed / 2 ** 32
    }
    const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(random() * xs.length)]!
    // Controls, quote, backslash, DEL, UTF-8 of é, U+2028 and an emoji, a BOM, and bytes that are not UTF-8
    // (a lone continuation, an overlong lead, a surrogate's encoding, 0xff).
    const tricky = [0, 1, 8, 9, 10, 12, 13, 27, 31, 34, 92, 127, 0xc3, 0xa9, 0xe2, 0x80, 0xa8, 0xef, 0xbb, 0xbf]
    const broken = [0x80, 0xc0, 0xed, 0xa0, 0xf0, 0x9f, 0x98, 0xff, 0xfe]
    const entries = Array.from({ length: 20_000 }, (_, i) =>
      LogEntry.make({
        source: pick(["stdout", "stderr", "", 'odd "name"\u2028é']),
        timeNano: pick([
          0n,
          1n,
          -1n,
          999_999_999n,
          1_000_000_000n,
          at - 123_456_789n,
          at - 23_456_789n,
          at + BigInt(i)
        ]),
        line: Uint8Array.from({ length: Math.floor(random() * 12) }, () =>
          random() < 0.5 ? 97 + Math.floor(random() * 26) : random() < 0.8 ? pick(tricky) : pick(broken)
        ),
        partial: random() < 0.3,
        ...(random() < 0.3 ? { partialLogMetadata: { last: random() < 0.5, id: "p", ordinal: 1 } } : {})
      })
    )
    // Every other batch in the shape of a container with attributes (labels, env, tag: non-ASCII and HTML-unsafe).
    const shapes = [LogRecord.shape(), LogRecord.shape({ tag: "web/1 <&>", app: "café", "10": "x", "9": "y" })]
    // A batch at a time, and each record's end where encode says.
    for (let start = 0; start < entries.length; start += 1000) {
      const batch = entries.slice(start, start + 1000)
      const shape = shapes[(start / 1000) % 2]!
      const { bytes, ends } = LogRecord.encodeAll(batch, shape)
      const records = batch.map((entry) => LogRecord.encode(entry, shape))
      expect(Buffer.from(bytes).toString("utf8")).toBe(records.join(""))
      let end = 0
      expect(ends).toEqual(records.map((r) => (end += Buffer.byteLength(r))))
      // The same records from the entries still framed, as the daemon sent them, split at an arbitrary byte.
      const framed = LogFraming.encodeFrames(batch)
      const decoder = LogFraming.decoder()
      const cut = Math.floor(framed.length / 3)
      const runs = [
        ...decoder.pushFrames(framed.subarray(0, cut)).runs,
        ...decoder.pushFrames(framed.subarray(cut)).runs
      ]
      const fromFrames = LogRecord.encodeFrames(LogFraming.frameBatch(runs), shape)
      expect(Buffer.from(fromFrames.bytes).toString("utf8")).toBe(records.join(""))
      expect(fromFrames.ends).toEqual(ends)
    }
    // json-file's order: log, stream, attrs, time; attrs sorted as Go sorts map keys, HTML characters escaped.
    const record = LogRecord.encode(LogEntry.make({ source: "stderr", timeNano: at, line: "x" }), shapes[1]!)
    expect(record).toMatch(
      /^\{"log":"x\\n","stream":"stderr","attrs":\{"10":"x","9":"y","app":"café","tag":"web\/1 \\u003c\\u0026\\u003e"\},"time":"[^"]+"\}\n$/
    )
    // A line larger than the building block, full of escapes.
    const long = LogEntry.make({ source: "stdout", timeNano: at, line: '"\u0001é'.repeat(200_000) })
    expect(Buffer.from(LogRecord.encodeAll([long]).bytes).toString("utf8")).toBe(LogRecord.encode(long))
    // The text path keeps a byte-order mark (json-file keeps it too).
    expect(JSON.parse(LogRecord.encode(LogEntry.make({ line: Uint8Array.of(0xef, 0xbb, 0xbf, 0x41) }))).log).toBe(
      "\ufeffA\n"
    )
  })

  it("reuses the buffer of released batches, and never writes over a batch that is not released", () => {
    const batchOf = (n: number) =>
      Array.from({ length: 1000 }, (_, i) =>
        LogEntry.make({ source: "stdout", timeNano: at + BigInt(i), line: `batch ${n} line ${i} ${"x".repeat(40)}` })
      )
    // Kept in a block of the standard size (an earlier test may have left a larger one, which is never pooled).
    let kept = LogRecord.encodeAll(batchOf(0))
    while (kept.bytes.buffer.byteLength !== 1024 * 1024) {
      kept.release?.()
      kept = LogRecord.encodeAll(batchOf(0))
    }
    const keptText = Buffer.from(kept.bytes).toString("utf8")
    const buffers = new Set<ArrayBufferLike>()
    let reused = false
    // About 80 KB a batch: 200 batches go through many 1 MiB blocks.
    for (let n = 1; n <= 200; n++) {
      const batch = LogRecord.encodeAll(batchOf(n))
      expect(Buffer.from(batch.bytes).toString("utf8")).toBe(
        batchOf(n)
          .map((entry) => LogRecord.encode(entry))
          .join("")
      )
      if (buffers.has(batch.bytes.buffer)) reused = true
      buffers.add(batch.bytes.buffer)
      batch.release?.()
      batch.release?.() // a second call changes nothing
    }
    expect(reused).toBe(true)
    // Had its block gone back to the pool, later batches would have been written over it from its start.
    expect(Buffer.from(kept.bytes).toString("utf8")).toBe(keptText)
    kept.release?.()
  })
})
