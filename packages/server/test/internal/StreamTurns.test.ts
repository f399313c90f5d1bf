// A streamed answer gives the event loop a turn once per `everyBytes` that went through, and keeps every byte in
// order; a stream whose chunks are made synchronously gets none without it.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Stream from "effect/Stream"
import * as StreamTurns from "../../src/internal/StreamTurns.ts"

const KiB = 1024

/**
 * Runs `wrap` over 8 chunks of 64 KiB (each numbered in its bytes) while a `setImmediate` loop counts the event
 * loop's turns: answers the count each chunk saw when it was made, and the bytes that came out.
 */
const turnsSeen = (wrap: (s: Stream.Stream<Uint8Array>) => Stream.Stream<Uint8Array>) =>
  Effect.gen(function* () {
    let turns = 0
    let running = true
    const tick = () => {
      turns++
      if (running) setImmediate(tick)
    }
    setImmediate(tick)
    const seen: Array<number> = []
    const chunks = Stream.fromArrays(...Array.from({ length: 8 }, (_, i) => [i])).pipe(
      Stream.map((i) => {
        seen.push(turns)
        return new Uint8Array(64 * KiB).fill(i)
      })
    )
    const out = yield* Stream.runCollect(wrap(chunks)).pipe(Effect.ensuring(Effect.sync(() => (running = false))))
    return { seen, firsts: out.map((c) => c[0]), bytes: out.reduce((n, c) => n + c.length, 0) }
  })

describe("StreamTurns.withTurns", () => {
  it.effect("pauses for a turn of the event loop after every `everyBytes`, keeping the chunks as they were", () =>
    Effect.gen(function* () {
      const { seen, firsts, bytes } = yield* turnsSeen((s) => StreamTurns.withTurns(s, 128 * KiB))
      // Chunks 0 and 1 (128 KiB) in one turn, then a turn before each further pair.
      const turnedBefore = seen.slice(1).map((t, i) => t > seen[i]!)
      expect(turnedBefore).toEqual([false, true, false, true, false, true, false])
      expect(firsts).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
      expect(bytes).toBe(8 * 64 * KiB)
    })
  )

  it.effect("without it, synchronously made chunks all come in one turn", () =>
    Effect.gen(function* () {
      const { seen } = yield* turnsSeen((s) => s)
      expect(new Set(seen).size).toBe(1)
    })
  )
})
