/**
 * What a `ReadLogs` asks for (`docker logs --since --until --tail -f`), as a filter over entries. The daemon
 * filters `Since`/`Until` again but never applies `Tail`, so the driver must; it applies `Tail` after
 * `Since`/`Until` (`--since 1h --tail 5` is the last five of the last hour).
 *
 * @since 0.1.0
 */
import type { LogEntry } from "@docker-plugin-kit/helpers"
import type { LogDriver } from "@docker-plugin-kit/protocol"
import * as Result from "effect/Result"
import { parseTime } from "./LogRecord.ts"

/**
 * A parsed `ReadConfig`. Times are Unix nanoseconds; `undefined` means no limit.
 *
 * @since 0.1.0
 */
export interface Selection {
  readonly since: bigint | undefined
  readonly until: bigint | undefined
  /** Last N entries of what is already written; `undefined` means all. */
  readonly tail: number | undefined
  readonly follow: boolean
}

/** Go's zero time, which the daemon sends for "no limit". */
const zeroTime = -62_135_596_800_000_000_000n

/**
 * Reads a `ReadConfig`; the zero time means no limit, a negative `Tail` means all.
 *
 * @since 0.1.0
 */
export const fromConfig = (config: LogDriver.ReadConfig): Result.Result<Selection, string> => {
  const since = parseTime(config.Since)
  const until = parseTime(config.Until)
  if (Result.isFailure(since)) return Result.fail(`Since: ${since.failure}`)
  if (Result.isFailure(until)) return Result.fail(`Until: ${until.failure}`)
  return Result.succeed({
    since: since.success === zeroTime ? undefined : since.success,
    until: until.success === zeroTime ? undefined : until.success,
    tail: config.Tail < 0 ? undefined : config.Tail,
    follow: config.Follow
  })
}

/**
 * Whether an entry is too old for `since`.
 *
 * @since 0.1.0
 */
export const beforeSince = (selection: Selection, entry: LogEntry.LogEntry): boolean =>
  selection.since !== undefined && entry.timeNano < selection.since

/**
 * Whether an entry is past `until` (reading stops at the first such entry, as the daemon does).
 *
 * @since 0.1.0
 */
export const pastUntil = (selection: Selection, entry: LogEntry.LogEntry): boolean =>
  selection.until !== undefined && entry.timeNano > selection.until

/**
 * Keeps the last `n` of the items pushed into it (a ring), so a tail never holds more than `n` entries.
 *
 * @since 0.1.0
 */
export const lastN = <A>(n: number) => {
  const ring: Array<A> = []
  let next = 0
  return {
    /** Adds an item, forgetting the oldest once `n` are held. */
    push: (item: A) => {
      if (n <= 0) return
      if (ring.length < n) ring.push(item)
      else ring[next] = item
      next = (next + 1) % n
    },
    /** The items held, oldest first. */
    items: (): ReadonlyArray<A> => (ring.length < n ? [...ring] : [...ring.slice(next), ...ring.slice(0, next)])
  }
}
