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
import * as Crypto from "node:crypto"
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
  /**
   * Whether a commit may be applied without saying so: an answer lost on the way, or a client trying a call again
   * that had been applied (a remote store; `true` for etcd). `update` then tracks each transaction (see there).
   */
  readonly answersMayBeLost?: boolean
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
 * The prefix of the keys `update` writes besides a decision's on a store whose answers may be lost: one per
 * transaction (see `update`), so drivers must not use it for keys of their own.
 *
 * @since 0.1.0
 */
export const tokenPrefix = "txn/"

/** Per store, the tokens of transactions known to be written: the next transaction deletes them. */
const writtenTokens = new WeakMap<Service, Set<string>>()

const tokensOf = (store: Service): Set<string> => {
  let tokens = writtenTokens.get(store)
  if (tokens === undefined) {
    tokens = new Set()
    writtenTokens.set(store, tokens)
  }
  return tokens
}

/**
 * Commits `transaction` with a token key of its own (see `update`), read back when the commit fails or reports a
 * conflict: `true` when the transaction was applied, whatever the commit said.
 */
const commitTracked = (store: Service, transaction: Transaction): Effect.Effect<boolean, StoreUnavailable> => {
  const token = `${tokenPrefix}${Crypto.randomUUID()}`
  const stale = [...tokensOf(store)]
  const tracked: Transaction = {
    expect: transaction.expect,
    writes: new Map([...transaction.writes, [token, "1"], ...stale.map((t) => [t, undefined] as const)])
  }
  const landed = Effect.map(store.get([token]), (found) => found.has(token))
  return store.commit(tracked).pipe(
    Effect.catch((unavailable) =>
      // Unknown whether it was applied: the error stands unless the token says it was.
      Effect.flatMap(
        Effect.orElseSucceed(landed, () => false),
        (yes) => (yes ? Effect.succeed(true) : Effect.fail(unavailable))
      )
    ),
    Effect.flatMap((committed) => (committed ? Effect.succeed(true) : landed)),
    Effect.tap((committed) =>
      Effect.sync(() => {
        if (!committed) return
        const tokens = tokensOf(store)
        for (const t of stale) tokens.delete(t)
        tokens.add(token)
      })
    )
  )
}

/**
 * Reads `keys`, runs `decide` on their values (`undefined` when absent), and commits its writes if nobody changed
 * those keys meanwhile; on a conflict, reads again and decides again, after a short random pause so competing
 * writers spread out. A decision that fails fails the update and writes nothing.
 *
 * A store whose answers may be lost (`answersMayBeLost`, etcd) may apply a transaction and still not say so: its
 * answer lost on the way, or its client trying a call again that had been applied (etcd's client does, and its
 * second try then finds the versions changed by the first). Deciding again then would apply the decision twice (an
 * address handed out twice, one of them leaked). So on such a store each transaction also writes a token key of its
 * own (`tokenPrefix` and a random ID): when a commit fails or reports a conflict, `update` reads the token, and if it
 * is there the transaction was applied and its result stands. Each process deletes its tokens with its next
 * transaction, so at most one per process stays behind.
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
      const commit = store.answersMayBeLost === true ? commitTracked(store, transaction) : store.commit(transaction)
      return Effect.flatMap(commit, (committed) => {
        if (committed) return Effect.succeed(result)
        if (n >= attempts) return Effect.fail(new StoreContention({ store: store.name, attempts }))
        // Up to 1 ms early on, growing to 20 ms: contention on one pool resolves in a few rounds.
        const pause = Math.random() * Math.min(20, 1 + n)
        return Effect.andThen(Effect.sleep(`${pause} millis`), attempt(n + 1))
      })
    })
  return Effect.suspend(() => attempt(1))
}
