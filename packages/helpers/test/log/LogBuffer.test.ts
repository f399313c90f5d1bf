import { LogBuffer, LogEntry, LogFraming } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Scheduler } from "effect"

const entry = (i: number) => LogEntry.make({ source: "stdout", line: String(i) })
/** Entries `from` to `from + n - 1`, framed as the reader gets them: one run per chunk. */
const batch = (from: number, n: number): ReadonlyArray<LogFraming.FrameRun> =>
  LogFraming.decoder().pushFrames(LogFraming.encodeFrames(Array.from({ length: n }, (_, i) => entry(from + i)))).runs
const texts = (es: ReadonlyArray<LogEntry.LogEntry>) => es.map(LogEntry.lineText)
/** Room for n entries of one-character lines (a frame each: header, stream field, line field). */
const frameSize = LogFraming.encodeFrame(entry(0)).length
const room = (n: number) => n * frameSize

describe("LogBuffer", () => {
  it.effect("drop-newest keeps the oldest entries and counts what did not fit", () =>
    Effect.gen(function* () {
      const buffer = yield* LogBuffer.make({ maxBytes: room(3), overflow: "drop-newest" })
      expect(buffer.offer(batch(0, 2))).toBe(0)
      expect(buffer.offer(batch(2, 3))).toBe(2)
      expect(buffer.counts()).toEqual({ received: 5, dropped: 2, corrupt: 0 })
      expect(texts(yield* buffer.take(10))).toEqual(["0", "1", "2"])
    })
  )

  it.effect("drop-oldest keeps the newest entries and counts what was pushed out", () =>
    Effect.gen(function* () {
      const buffer = yield* LogBuffer.make({ maxBytes: room(3), overflow: "drop-oldest" })
      buffer.offer(batch(0, 2))
      expect(buffer.offer(batch(2, 3))).toBe(2)
      expect(buffer.counts()).toEqual({ received: 5, dropped: 2, corrupt: 0 })
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

  it.live("an offer made while a take yields between its check and its wait still wakes it", () =>
    Effect.gen(function* () {
      // A fiber yields to the event loop every few operations (here every 3): an offer from a FIFO read can come
      // between a take finding the buffer empty and the take registering its wake-up.
      const missed: Array<string> = []
      for (let turns = 0; turns < 12; turns++) {
        for (const which of ["take", "takeFrames"] as const) {
          const buffer = yield* LogBuffer.make()
          const take: Effect.Effect<unknown> = which === "take" ? buffer.take(10) : buffer.takeFrames(10)
          const taking = yield* Effect.forkChild(take.pipe(Effect.provideService(Scheduler.MaxOpsBeforeYield, 3)))
          yield* Effect.promise(
            () =>
              new Promise<void>((resolve) => {
                let n = 0
                const step = () => {
                  if (n++ < turns) return void setImmediate(step)
                  buffer.offer(batch(0, 1))
                  resolve()
                }
                step()
              })
          )
          const taken = yield* Fiber.join(taking).pipe(Effect.timeoutOption("200 millis"))
          if (taken._tag === "None") missed.push(`${which} after ${turns} turns`)
          yield* Fiber.interrupt(taking)
        }
      }
      expect(missed).toEqual([])
    })
  )

  it.effect("holds frames, not entries, and accounts their bytes until taken", () =>
    Effect.gen(function* () {
      const buffer = yield* LogBuffer.make({ maxBytes: room(10), overflow: "drop-newest" })
      buffer.offer(batch(0, 4))
      expect(buffer.size()).toBe(4)
      expect(buffer.bytes()).toBe(room(4))
      expect(texts(yield* buffer.take(3))).toEqual(["0", "1", "2"])
      expect(buffer.size()).toBe(1)
      expect(buffer.bytes()).toBe(room(1))
      // A frame split across chunks comes as a run of its own (a copy), then the chunk's own frames.
      const decoder = LogFraming.decoder()
      const framed = LogFraming.encodeFrames([entry(4), entry(5), entry(6)])
      expect(decoder.pushFrames(framed.subarray(0, 3)).runs).toEqual([])
      const runs = decoder.pushFrames(framed.subarray(3))
      expect(runs.runs.map((r) => r.ends.length)).toEqual([1, 2])
      buffer.offer(runs.runs)
      expect(buffer.bytes()).toBe(room(4))
      expect(texts(yield* buffer.take(10))).toEqual(["3", "4", "5", "6"])
      expect(buffer.bytes()).toBe(0)
    })
  )

  it.effect("drop-oldest makes room inside a run, and drops a run's own oldest frames when it alone is too big", () =>
    Effect.gen(function* () {
      const buffer = yield* LogBuffer.make({ maxBytes: room(3), overflow: "drop-oldest" })
      buffer.offer(batch(0, 2))
      expect(texts(yield* buffer.take(1))).toEqual(["0"])
      expect(buffer.offer(batch(2, 5))).toBe(3)
      expect(buffer.counts()).toEqual({ received: 7, dropped: 3, corrupt: 0 })
      expect(texts(yield* buffer.take(10))).toEqual(["4", "5", "6"])
    })
  )

  it.effect("take leaves out and counts entries that are not LogEntry messages, and never answers [] for them", () =>
    Effect.gen(function* () {
      const reasons: Array<string> = []
      const buffer = yield* LogBuffer.make(
        { maxBytes: 1024, overflow: "drop-newest" },
        { onCorrupt: (error) => reasons.push(error.message) }
      )
      const bad = Uint8Array.of(0, 0, 0, 2, 0x0a, 0x05)
      buffer.offer(LogFraming.decoder().pushFrames(bad).runs)
      buffer.offer(batch(0, 1))
      buffer.offer(LogFraming.decoder().pushFrames(Uint8Array.of(...bad, ...LogFraming.encodeFrame(entry(1)))).runs)
      // The first take finds only the corrupt frame, and goes on to the next good one.
      expect(texts(yield* buffer.take(1))).toEqual(["0"])
      expect(texts(yield* buffer.take(10))).toEqual(["1"])
      expect(buffer.counts()).toEqual({ received: 4, dropped: 0, corrupt: 2 })
      expect(reasons).toHaveLength(2)
      expect(reasons[0]).toMatch(/^corrupt log entry: /)
      buffer.offer(LogFraming.decoder().pushFrames(bad).runs)
      buffer.end()
      expect(yield* buffer.take(10)).toEqual([])
      expect(buffer.counts().corrupt).toBe(3)
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
