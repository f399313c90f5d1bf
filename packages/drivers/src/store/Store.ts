/**
 * A small keyed store with compare-and-set transactions, for driver state that must survive restarts and may be
 * shared by several processes or hosts: read some keys, decide, then write only if none of them changed in the
 * meantime. `update` wraps that loop (retrying on conflicts), so a driver writes a pure function of what it read.
 *
 * Layers: `StoreFile` (one host, no server; the default), `StoreEtcd` (a fleet sharing one etcd), `StoreMemory`
 * (tests). Every Layer writes a transaction whole or not at all.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"

/**
 * The store cannot be reached or written; the message names the store (`etcd store at 127.0.0.1:2379 unavailable:
 * …`) so the user knows where to look.
 *
 * @since 0.1.0
 */
export class StoreUnavailable extends Data.TaggedError("StoreUnavailable")<{
  readonly store: string
  readonly reason: string
}> {
  override get message() {
    return `${this.store} unavailable: ${this.reason}`
  }
}

/**
 * Other writers kept changing the same keys: the update gave up after `attempts` tries.
 *
 * @since 0.1.0
 */
export class StoreContention extends Data.TaggedError("StoreContention")<{
  readonly store: string
  readonly attempts: number
}> {
  override get message() {
    return `${this.store}: gave up after ${this.attempts} conflicting concurrent updates; try again`
  }
}

/**
 * A stored value and its version (opaque; changes on every write of the key).
 *
 * @since 0.1.0
 */
export interface Entry {
  readonly value: string
  readonly version: string
}

/**
 * What a transaction expects and writes: `expect` maps each key read to the version it had (`undefined`: absent);
 * `writes` maps keys to new values (`undefined`: delete).
 *
 * @since 0.1.0
 */
export interface Transaction {
  readonly expect: ReadonlyMap<string, string | undefined>
  readonly writes: ReadonlyMap<string, string | undefined>
}

/**
 * The operations of a store.
 *
 * @since 0.1.0
 */
export interface Service {
  /** What errors call it, e.g. `file store at /var/lib/x`, `etcd store at 127.0.0.1:2379`. */
  readonly name: string
  /** The entries of the keys that exist. */
  readonly get: (keys: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, Entry>, StoreUnavailable>
  /** Applies `writes` if every key of `expect` still has its version; `false` (and nothing written) otherwise. */
  readonly commit: (transaction: Transaction) => Effect.Effect<boolean, StoreUnavailable>
}

/**
 * The service key.
 *
 * @since 0.1.0
 */
export class Store extends Context.Service<Store, Service>()("@docker-plugin-kit/drivers/Store") {}

/**
 * What an update decided: the answer, and what to write (`undefined` deletes a key; absent keys stay as they are).
 *
 * @since 0.1.0
 */
export interface Decision<A> {
  readonly result: A
  readonly writes: Readonly<Record<string, string | undefined>>
}

/**
 * How hard `update` tries.
 *
 * @since 0.1.0
 */
export interface UpdateOptions {
  /** Tries before `StoreContention` (default 200). */
  readonly attempts?: number
}

/**
 * Reads `keys`, runs `decide` on their values (`undefined` when absent), and commits its writes if nobody changed
 * those keys meanwhile; on a conflict, reads again and decides again, after a short random pause so competing
 * writers spread out. A decision that fails fails the update and writes nothing.
 *
 * @since 0.1.0
 */
export const update = <A, E>(
  store: Service,
  keys: ReadonlyArray<string>,
  decide: (values: ReadonlyMap<string, string | undefined>) => Result.Result<Decision<A>, E>,
  options: UpdateOptions = {}
): Effect.Effect<A, E | StoreUnavailable | StoreContention> => {
  const attempts = options.attempts ?? 200
  const attempt = (n: number): Effect.Effect<A, E | StoreUnavailable | StoreContention> =>
    Effect.flatMap(store.get(keys), (entries) => {
      const values = new Map(keys.map((k) => [k, entries.get(k)?.value] as const))
      const decided = decide(values)
      if (Result.isFailure(decided)) return Effect.fail(decided.failure)
      const { result, writes } = decided.success
      const changes = Object.entries(writes).filter(([k, v]) => v !== values.get(k) || !keys.includes(k))
      if (changes.length === 0) return Effect.succeed(result)
      const transaction: Transaction = {
        expect: new Map(keys.map((k) => [k, entries.get(k)?.version] as const)),
        writes: new Map(changes)
      }
      return Effect.flatMap(store.commit(transaction), (committed) => {
        if (committed) return Effect.succeed(result)
        if (n >= attempts) return Effect.fail(new StoreContention({ store: store.name, attempts }))
        // Up to 1 ms early on, growing to 20 ms: contention on one pool resolves in a few rounds.
        const pause = Math.random() * Math.min(20, 1 + n)
        return Effect.andThen(Effect.sleep(`${pause} millis`), attempt(n + 1))
      })
    })
  return Effect.suspend(() => attempt(1))
}
