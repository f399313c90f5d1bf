/**
 * The bounded buffer between a FIFO reader and a slow sink. The reader never waits: when the buffer is full,
 * entries are dropped, and counted, according to the policy, so a stalled sink costs log lines instead of
 * blocking the container (whose writes to stdout block once the FIFO's kernel buffer is full) and the daemon.
 *
 * The bound is in bytes (each entry costs its line's bytes plus `entryOverhead`), since that is what a stall costs
 * in memory: a million short lines and a thousand 16 KiB chunks are both about 16 MiB.
 *
 * Policies:
 * - `drop-newest` (default): keep what is buffered, drop the entries that do not fit. What is kept is the start
 *   of the stall, in order, with no gap inside it.
 * - `drop-oldest`: make room by dropping the oldest buffered entries. What is kept is the latest output.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as LogEntry from "./LogEntry.ts"

/**
 * What to do when the buffer is full.
 *
 * @since 0.1.0
 */
export type Overflow = "drop-newest" | "drop-oldest"

/**
 * Size and overflow behaviour of the buffer.
 *
 * @since 0.1.0
 */
export interface Policy {
  /** Bytes held at most (lines plus `entryOverhead` per entry). */
  readonly maxBytes: number
  readonly overflow: Overflow
}

/**
 * What one entry costs besides its line (the object and its fields), in the `maxBytes` count.
 *
 * @since 0.1.0
 */
export const entryOverhead = 64

/**
 * 16 MiB per stream (seconds of a fast writer's output), dropping the newest.
 *
 * @since 0.1.0
 */
export const defaultPolicy: Policy = { maxBytes: 16 * 1024 * 1024, overflow: "drop-newest" }

/**
 * Counters of one buffer.
 *
 * @since 0.1.0
 */
export interface Counts {
  /** Entries offered. */
  readonly received: number
  /** Entries dropped because the buffer was full. */
  readonly dropped: number
}

/**
 * A buffer.
 *
 * @since 0.1.0
 */
export interface LogBuffer {
  /** Adds entries without ever waiting; what does not fit is dropped per the policy. Answers how many dropped. */
  readonly offer: (entries: ReadonlyArray<LogEntry.LogEntry>) => number
  /** Waits for at least one entry and takes up to `max`; an empty array once ended and empty. */
  readonly take: (max: number) => Effect.Effect<ReadonlyArray<LogEntry.LogEntry>>
  /** No more entries will be offered; `take` drains what is left, then answers `[]`. */
  readonly end: () => void
  /** Entries buffered now. */
  readonly size: () => number
  /** Bytes buffered now (as counted against `maxBytes`). */
  readonly bytes: () => number
  /** The counters so far. */
  readonly counts: () => Counts
}

/**
 * A policy that `validate` refuses.
 *
 * @since 0.1.0
 */
export class InvalidPolicy extends Data.TaggedError("InvalidPolicy")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

/**
 * Checks a policy: a positive integer size and a known overflow.
 *
 * @since 0.1.0
 */
export const validate = (policy: Policy): string | undefined =>
  !Number.isSafeInteger(policy.maxBytes) || policy.maxBytes < 1
    ? `buffer size must be a positive number of bytes, not ${policy.maxBytes}`
    : policy.overflow !== "drop-newest" && policy.overflow !== "drop-oldest"
      ? `buffer overflow must be drop-newest or drop-oldest, not ${policy.overflow}`
      : undefined

const cost = (entry: LogEntry.LogEntry) => entry.line.length + entryOverhead

/**
 * A fresh buffer.
 *
 * @since 0.1.0
 */
export const make = (policy: Policy = defaultPolicy): Effect.Effect<LogBuffer> =>
  Effect.sync(() => {
    // A queue as an array and a head index: pushes and takes are O(1), the array is compacted now and then.
    let items: Array<LogEntry.LogEntry> = []
    let head = 0
    let bytes = 0
    let ended = false
    let received = 0
    let dropped = 0
    let wake: (() => void) | undefined

    const compact = () => {
      if (head > 1024 && head * 2 > items.length) {
        items = items.slice(head)
        head = 0
      }
    }
    const dropOldest = () => {
      bytes -= cost(items[head]!)
      head++
      dropped++
    }
    const offer = (entries: ReadonlyArray<LogEntry.LogEntry>) => {
      const before = dropped
      received += entries.length
      for (const entry of entries) {
        const size = cost(entry)
        if (bytes + size > policy.maxBytes) {
          if (policy.overflow === "drop-oldest")
            while (head < items.length && bytes + size > policy.maxBytes) dropOldest()
          if (bytes + size > policy.maxBytes) {
            dropped++
            continue
          }
        }
        items.push(entry)
        bytes += size
      }
      compact()
      if (wake !== undefined && head < items.length) {
        const resume = wake
        wake = undefined
        resume()
      }
      return dropped - before
    }
    const takeNow = (max: number): ReadonlyArray<LogEntry.LogEntry> => {
      const end = Math.min(items.length, head + max)
      const batch = items.slice(head, end)
      for (const entry of batch) bytes -= cost(entry)
      head = end
      if (head === items.length) {
        items = []
        head = 0
      }
      return batch
    }
    const take = (max: number): Effect.Effect<ReadonlyArray<LogEntry.LogEntry>> =>
      Effect.suspend(() => {
        if (head < items.length) return Effect.succeed(takeNow(max))
        if (ended) return Effect.succeed([])
        return Effect.andThen(
          Effect.callback<void>((resume) => {
            wake = () => resume(Effect.void)
            return Effect.sync(() => {
              wake = undefined
            })
          }),
          Effect.sync(() => takeNow(max))
        )
      })
    return {
      offer,
      take,
      end: () => {
        ended = true
        const resume = wake
        wake = undefined
        resume?.()
      },
      size: () => items.length - head,
      bytes: () => bytes,
      counts: () => ({ received, dropped })
    }
  })
