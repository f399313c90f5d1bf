/**
 * One lock per key (a volume, a network, a pool, a layer): calls on the same key run one after the other (so a
 * volume's Mount cannot interleave with its Remove), calls on different keys run in parallel. Shared by the drivers.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"

/**
 * A set of locks, one per key.
 *
 * @since 0.1.0
 */
export interface KeyedLocks {
  /** Runs `effect` while holding the lock of `key`. */
  readonly withLock: (key: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** How many keys currently have a lock (held or awaited); locks are dropped when nobody uses them. */
  readonly size: () => number
}

/**
 * Creates an empty set of locks.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<KeyedLocks> = Effect.sync(() => {
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
