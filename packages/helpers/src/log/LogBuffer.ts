/**
 * The bounded buffer between a FIFO reader and a slow sink. The reader never waits: when the buffer is full,
 * entries are dropped, and counted, according to the policy, so a stalled sink costs log lines instead of
 * blocking the container (whose writes to stdout block once the FIFO's kernel buffer is full) and the daemon.
 *
 * Policies:
 * - `drop-newest` (default): keep what is buffered, drop the entries that do not fit. What is kept is the start
 *   of the stall, in order, with no gap inside it.
 * - `drop-oldest`: make room by dropping the oldest buffered entries. What is kept is the latest output.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
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
  /** Entries held at most (each up to 16 KiB of line). */
  readonly capacity: number
  readonly overflow: Overflow
}

/**
 * 16 Ki entries (a few MiB of typical lines), dropping the newest.
 *
 * @since 0.1.0
 */
export const defaultPolicy: Policy = { capacity: 16_384, overflow: "drop-newest" }

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
  readonly counts: () => Counts
}

/**
 * Checks a policy: a positive integer capacity and a known overflow.
 *
 * @since 0.1.0
 */
export const validate = (policy: Policy): string | undefined =>
  !Number.isInteger(policy.capacity) || policy.capacity < 1
    ? `buffer capacity must be a positive integer, not ${policy.capacity}`
    : policy.overflow !== "drop-newest" && policy.overflow !== "drop-oldest"
      ? `buffer overflow must be drop-newest or drop-oldest, not ${policy.overflow}`
      : undefined

/**
 * A fresh buffer.
 *
 * @since 0.1.0
 */
export const make = (policy: Policy = defaultPolicy): Effect.Effect<LogBuffer> =>
  Effect.map(
    Queue.make<LogEntry.LogEntry, Cause.Done>({
      capacity: policy.capacity,
      strategy: policy.overflow === "drop-newest" ? "dropping" : "sliding"
    }),
    (queue) => {
      let received = 0
      let dropped = 0
      const offer = (entries: ReadonlyArray<LogEntry.LogEntry>) => {
        received += entries.length
        const before = Queue.sizeUnsafe(queue)
        const rest = Queue.offerAllUnsafe(queue, entries)
        // Dropping answers what did not fit; sliding takes everything and pushes the oldest out.
        const lost =
          policy.overflow === "drop-newest" ? rest.length : Math.max(0, before + entries.length - policy.capacity)
        dropped += lost
        return lost
      }
      const take = (max: number) =>
        Queue.takeBetween(queue, 1, max).pipe(Effect.catchTag("Done", () => Effect.succeed([])))
      return {
        offer,
        take,
        end: () => void Queue.endUnsafe(queue),
        size: () => Math.max(0, Queue.sizeUnsafe(queue)),
        counts: () => ({ received, dropped })
      }
    }
  )

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
