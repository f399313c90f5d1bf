import { LogRecord } from "@docker-plugin-kit/drivers"
import { LogEntry } from "@docker-plugin-kit/helpers"
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
    expect(LogEntry.lineText(LogRecord.forReading(entry))).toBe("hello\n")
    expect(LogEntry.lineText(LogRecord.forReading(LogEntry.make({ line: "cut", partial: true })))).toBe("cut")
  })

  it("refuses lines that are not records", () => {
    expect(Result.isFailure(LogRecord.decode("not json"))).toBe(true)
    const missing = LogRecord.decode('{"log":"x"}')
    expect(Result.isFailure(missing) && missing.failure.message).toBe(
      "corrupt log record: expected string fields log, stream and time"
    )
  })
})
