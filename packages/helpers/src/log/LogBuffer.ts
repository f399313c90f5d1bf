/**
 * The bounded buffer between a FIFO reader and a slow sink. The reader never waits: when the buffer is full,
 * entries are dropped, and counted, according to the policy, so a stalled sink costs log lines instead of
 * blocking the container (whose writes to stdout block once the FIFO's kernel buffer is full) and the daemon.
 *
 * The buffer holds frames as they were read (`LogFraming.FrameRun`, not decoded) and decodes them in `take`
 * (or hands them out still framed, `takeFrames`). Waiting entries thus cost their bytes only; decoded ones are made just before the sink uses them and are
 * gone soon after, so the garbage collector never has to copy or promote a backlog of small objects (which, when
 * entries were decoded as read, was the largest part of a log driver's CPU time).
 *
 * The bound is in bytes (each entry costs its frame: the line plus the stream, time and length, about 20 bytes),
 * since that is what a stall costs in memory: a million short lines and a thousand 16 KiB chunks are both about
 * 16 MiB.
 *
 * Policies:
 * - `drop-newest` (default): keep what is buffered; an entry that does not fit is dropped, with the rest of the
 *   frames read with it. What is kept is the start of the stall, in order.
 * - `drop-oldest`: make room by dropping the oldest buffered entries. What is kept is the latest output.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as LogEntry from "./LogEntry.ts"
import { defaultPolicy, type Policy } from "./LogBufferPolicy.ts"
import * as LogFraming from "./LogFraming.ts"

/** The policy's parts, defined in `LogBufferPolicy`. */
export {
  defaultPolicy,
  InvalidPolicy,
  type Overflow,
  type Policy,
  validate
} from "./LogBufferPolicy.ts"

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
  /**
   * Entries taken whose message was not a `LogEntry`, left out by `take` or by a visit of a `takeFrames` batch
   * (the frames around them are read on).
   */
  readonly corrupt: number
}

/**
 * A buffer.
 *
 * @since 0.1.0
 */
export interface LogBuffer {
  /** Adds frames without ever waiting; what does not fit is dropped per the policy. Answers how many dropped. */
  readonly offer: (runs: ReadonlyArray<LogFraming.FrameRun>) => number
  /**
   * Waits for at least one entry and takes up to `max`, decoded (fewer when some are corrupt: counted, left out);
   * an empty array once ended and empty.
   */
  readonly take: (max: number) => Effect.Effect<ReadonlyArray<LogEntry.LogEntry>>
  /**
   * `take` without decoding: waits for at least one entry and takes up to `max`, still framed; `undefined` once
   * ended and empty.
   */
  readonly takeFrames: (max: number) => Effect.Effect<LogFraming.FrameBatch | undefined>
  /** No more entries will be offered; `take` drains what is left, then answers `[]`. */
  readonly end: () => void
  /** Entries buffered now. */
  readonly size: () => number
  /** Bytes buffered now (as counted against `maxBytes`). */
  readonly bytes: () => number
  /** The counters so far. */
  readonly counts: () => Counts
}

/** A run being held: frames from `next` on are still buffered. */
interface Held {
  readonly run: LogFraming.FrameRun
  next: number
}

/**
 * A fresh buffer.
 *
 * @since 0.1.0
 */
export const make = (
  policy: Policy = defaultPolicy,
  options: {
    /**
     * Called when corrupt entries are left out (by `take`, or by a visit of a batch `takeFrames` answered), with
     * the reason of the first of them.
     */
    readonly onCorrupt?: (error: LogEntry.LogEntryCorrupt) => void
  } = {}
): Effect.Effect<LogBuffer> =>
  Effect.sync(() => {
    // A queue as an array and a head index: pushes and takes are O(1), the array is compacted now and then.
    let items: Array<Held> = []
    let head = 0
    let bytes = 0
    let count = 0
    let ended = false
    let received = 0
    let dropped = 0
    let corrupt = 0
    let wake: (() => void) | undefined

    const compact = () => {
      if (head > 1024 && head * 2 > items.length) {
        items = items.slice(head)
        head = 0
      }
    }
    const hold = (run: LogFraming.FrameRun, from: number, to: number) => {
      if (from >= to) return
      const held = to === run.ends.length ? run : { bytes: run.bytes, start: run.start, ends: run.ends.slice(0, to) }
      items.push({ run: held, next: from })
      bytes += held.ends[to - 1]! - LogFraming.frameStart(held, from)
      count += to - from
    }
    const dropOldest = () => {
      const held = items[head]!
      const end = held.run.ends[held.next]!
      bytes -= end - LogFraming.frameStart(held.run, held.next)
      count--
      dropped++
      if (++held.next === held.run.ends.length) head++
    }
    const offerRun = (run: LogFraming.FrameRun) => {
      const n = run.ends.length
      received += n
      const last = run.ends[n - 1]!
      if (bytes + last - run.start <= policy.maxBytes) return hold(run, 0, n)
      if (policy.overflow === "drop-newest") {
        // The longest prefix that fits; the rest of the run is dropped.
        let to = 0
        while (to < n && bytes + run.ends[to]! - run.start <= policy.maxBytes) to++
        dropped += n - to
        return hold(run, 0, to)
      }
      // Newest first: the run's own oldest frames go when the run alone is over the bound, then the buffer's.
      let from = 0
      while (from < n && last - LogFraming.frameStart(run, from) > policy.maxBytes) from++
      dropped += from
      while (head < items.length && bytes + last - LogFraming.frameStart(run, from) > policy.maxBytes) dropOldest()
      hold(run, from, n)
    }
    const offer = (runs: ReadonlyArray<LogFraming.FrameRun>) => {
      const before = dropped
      for (const run of runs) if (run.ends.length > 0) offerRun(run)
      compact()
      if (count > 0) wakeTaker()
      return dropped - before
    }
    const takeRunsNow = (max: number): ReadonlyArray<LogFraming.FrameRun> => {
      const runs: Array<LogFraming.FrameRun> = []
      let taken = 0
      while (taken < max && head < items.length) {
        const held = items[head]!
        const to = Math.min(held.run.ends.length, held.next + (max - taken))
        const start = LogFraming.frameStart(held.run, held.next)
        runs.push(
          held.next === 0 && to === held.run.ends.length
            ? held.run
            : { bytes: held.run.bytes, start, ends: held.run.ends.slice(held.next, to) }
        )
        bytes -= held.run.ends[to - 1]! - start
        count -= to - held.next
        taken += to - held.next
        held.next = to
        if (to === held.run.ends.length) head++
      }
      if (head === items.length) {
        items = []
        head = 0
      }
      return runs
    }
    const takeNow = (max: number): ReadonlyArray<LogEntry.LogEntry> => {
      const batch: Array<LogEntry.LogEntry> = []
      for (const run of takeRunsNow(max)) {
        const decoded = LogFraming.decodeRun(run)
        for (let i = 0; i < decoded.entries.length; i++) batch.push(decoded.entries[i]!)
        if (decoded.error !== undefined) leftOut(decoded.corrupt, decoded.error)
      }
      return batch
    }
    const leftOut = (entries: number, error: LogEntry.LogEntryCorrupt) => {
      corrupt += entries
      options.onCorrupt?.(error)
    }
    /** Resumes the take waiting for entries, if one is. */
    const wakeTaker = () => {
      const resume = wake
      wake = undefined
      resume?.()
    }
    const wait = <A>(then: Effect.Effect<A>): Effect.Effect<A> =>
      Effect.andThen(
        Effect.callback<void>((resume) => {
          // Checked again: the fiber may have yielded to the event loop between its check and this registration,
          // and an offer (or the end) that came meanwhile found no one to wake, which would leave its entries
          // waiting for the next offer (at a stop, for the flush timeout).
          if (count > 0 || ended) return resume(Effect.void)
          wake = () => resume(Effect.void)
          return Effect.sync(() => {
            wake = undefined
          })
        }),
        then
      )
    const takeFrames = (max: number): Effect.Effect<LogFraming.FrameBatch | undefined> =>
      Effect.suspend(() => {
        if (count > 0) return Effect.succeed(LogFraming.frameBatch(takeRunsNow(max), (error) => leftOut(1, error)))
        if (ended) return Effect.succeed(undefined)
        return wait(takeFrames(max))
      })
    const take = (max: number): Effect.Effect<ReadonlyArray<LogEntry.LogEntry>> =>
      Effect.suspend(() => {
        // A batch of corrupt entries only comes out empty: take on.
        while (count > 0) {
          const batch = takeNow(max)
          if (batch.length > 0) return Effect.succeed(batch)
        }
        if (ended) return Effect.succeed([])
        return wait(take(max))
      })
    return {
      offer,
      take,
      takeFrames,
      end: () => {
        ended = true
        wakeTaker()
      },
      size: () => count,
      bytes: () => bytes,
      counts: () => ({ received, dropped, corrupt })
    }
  })
