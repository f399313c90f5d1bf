/**
 * One lock per volume name: calls on the same volume run one after the other (so a Mount cannot interleave with
 * the Remove of the same volume), calls on different volumes run in parallel.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"

/**
 * A set of locks keyed by name.
 *
 * @since 0.1.0
 */
export interface VolumeLocks {
  /** Runs `effect` while holding the lock of `name`. */
  readonly withLock: (name: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** How many names currently have a lock (held or awaited); locks are dropped when nobody uses them. */
  readonly size: () => number
}

/**
 * Creates an empty set of locks.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<VolumeLocks> = Effect.sync(() => {
  const locks = new Map<string, { readonly semaphore: Semaphore.Semaphore; users: number }>()
  const acquire = (name: string) =>
    Effect.sync(() => {
      let entry = locks.get(name)
      if (entry === undefined) {
        entry = { semaphore: Semaphore.makeUnsafe(1), users: 0 }
        locks.set(name, entry)
      }
      entry.users++
      return entry
    })
  const release = (name: string, entry: { users: number }) =>
    Effect.sync(() => {
      if (--entry.users === 0) locks.delete(name)
    })
  return {
    withLock:
      (name) =>
      <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.acquireUseRelease(
          acquire(name),
          (entry) => entry.semaphore.withPermit(effect),
          (entry) => release(name, entry)
        ),
    size: () => locks.size
  }
})
