import { LogBuffer, LogEntry } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"

const batch = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => LogEntry.make({ source: "stdout", line: String(from + i) }))
const texts = (es: ReadonlyArray<LogEntry.LogEntry>) => es.map(LogEntry.lineText)
/** Room for n entries of one-character lines. */
const room = (n: number) => n * (1 + LogBuffer.entryOverhead)

describe("LogBuffer", () => {
  it.effect("drop-newest keeps the oldest entries and counts what did not fit", () =>
    Effect.gen(function* () {
      const buffer = yield* LogBuffer.make({ maxBytes: room(3), overflow: "drop-newest" })
      expect(buffer.offer(batch(0, 2))).toBe(0)
      expect(buffer.offer(batch(2, 3))).toBe(2)
      expect(buffer.counts()).toEqual({ received: 5, dropped: 2 })
      expect(texts(yield* buffer.take(10))).toEqual(["0", "1", "2"])
    })
  )

  it.effect("drop-oldest keeps the newest entries and counts what was pushed out", () =>
    Effect.gen(function* () {
      const buffer = yield* LogBuffer.make({ maxBytes: room(3), overflow: "drop-oldest" })
      buffer.offer(batch(0, 2))
      expect(buffer.offer(batch(2, 3))).toBe(2)
      expect(buffer.counts()).toEqual({ received: 5, dropped: 2 })
      expect(texts(yield* buffer.take(10))).toEqual(["2", "3", "4"])
    })
  )

  it.effect("take waits for entries, respects its maximum, and answers [] once ended and drained", () =>
    Effect.gen(function* () {
      const buffer = yield* LogBuffer.make({ maxBytes: room(10), overflow: "drop-newest" })
      const waiting = yield* Effect.forkChild(buffer.take(2))
      yield* Effect.yieldNow
      buffer.offer(batch(0, 3))
      expect(texts(yield* Fiber.join(waiting))).toEqual(["0", "1"])
      buffer.end()
      expect(texts(yield* buffer.take(5))).toEqual(["2"])
      expect(yield* buffer.take(5)).toEqual([])
    })
  )

  it("validate names the bad setting", () => {
    expect(LogBuffer.validate({ maxBytes: 0, overflow: "drop-newest" })).toMatch(
      /size must be a positive number of bytes/
    )
    expect(LogBuffer.validate({ maxBytes: 1, overflow: "block" as LogBuffer.Overflow })).toMatch(/overflow must be/)
    expect(LogBuffer.validate(LogBuffer.defaultPolicy)).toBeUndefined()
  })
})
