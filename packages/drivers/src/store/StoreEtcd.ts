/**
 * `Store` on etcd, for fleets: every process pointed at the same etcd (and prefix) shares the keys, and a commit is
 * one etcd transaction comparing each key's modification revision, so two hosts can never both win the same
 * change. Calls have a deadline, so an etcd that is down answers an error naming it instead of hanging; the
 * client reconnects by itself once etcd is back.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Store, StoreUnavailable } from "./Store.ts"

/**
 * Where the etcd is.
 *
 * @since 0.1.0
 */
export interface Options {
  /** `host:port` of each member (or full `http://` URLs). */
  readonly hosts: ReadonlyArray<string>
  /** Prefix of every key (default `docker-plugin-kit/`), so a shared etcd can hold other data. */
  readonly prefix?: string
  /** Deadline of each call in milliseconds (default 5000). */
  readonly timeoutMs?: number
  /** Largest transaction sent, in bytes of keys and values: etcd's `--max-request-bytes` (default 1.5 MiB). */
  readonly maxRequestBytes?: number
}

/**
 * etcd's default `--max-request-bytes`.
 *
 * @since 0.1.0
 */
export const defaultMaxRequestBytes = 1.5 * 1024 * 1024

/**
 * The store's name in messages.
 *
 * @since 0.1.0
 */
export const nameOf = (hosts: ReadonlyArray<string>): string => `etcd store at ${hosts.join(",")}`

/**
 * Connects (lazily: the first call dials) and closes the client with the scope.
 *
 * @since 0.1.0
 */
export const make = (options: Options) =>
  Effect.gen(function* () {
    const name = nameOf(options.hosts)
    const timeoutMs = options.timeoutMs ?? 5000
    // Loaded on first use: gRPC is heavy, and every `dpk serve` would otherwise pay for it at start-up.
    const { Etcd3 } = yield* Effect.promise(() => import("etcd3"))
    const client = yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new Etcd3({
            hosts: options.hosts.map((h) => (h.includes("://") ? h : `http://${h}`)),
            dialTimeout: timeoutMs,
            defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeoutMs })
          })
      ),
      (c) => Effect.sync(() => c.close())
    )
    const prefix = options.prefix ?? "docker-plugin-kit/"
    const maxRequestBytes = options.maxRequestBytes ?? defaultMaxRequestBytes
    const kv = client.namespace(prefix)
    const call = <A>(f: () => Promise<A>) =>
      Effect.tryPromise({
        try: f,
        catch: (e) => new StoreUnavailable({ store: name, reason: e instanceof Error ? e.message : String(e) })
      })
    return Store.of({
      name,
      // A call past its deadline, or one the client tries again after a broken connection, may have been applied.
      answersMayBeLost: true,
      get: (keys) =>
        call(async () => {
          const answers = await Promise.all(keys.map((k) => kv.get(k).exec()))
          const found = new Map<string, { value: string; version: string }>()
          answers.forEach((answer, i) => {
            const kv0 = answer.kvs[0]
            if (kv0 !== undefined) found.set(keys[i]!, { value: kv0.value.toString(), version: kv0.mod_revision })
          })
          return found
        }),
      commit: ({ expect, writes }) => {
        // etcd refuses a request beyond its gRPC limit (512 KiB above `--max-request-bytes`) with an error its client
        // takes for a failing server: sent three times, then every call of the store refused for 5 s. So a
        // transaction that cannot fit is refused here, before anything is sent.
        const keyBytes = (k: string) => Buffer.byteLength(prefix + k)
        const bytes =
          [...expect.keys()].reduce((n, k) => n + keyBytes(k), 0) +
          [...writes].reduce((n, [k, v]) => n + keyBytes(k) + (v === undefined ? 0 : Buffer.byteLength(v)), 0)
        if (bytes > maxRequestBytes) {
          return Effect.fail(
            new StoreUnavailable({
              store: name,
              reason:
                `a transaction of ${bytes} bytes is larger than etcd accepts (${maxRequestBytes} bytes, its ` +
                "--max-request-bytes); nothing was written"
            })
          )
        }
        return call(async () => {
          const compares = [...expect]
          const ops = [...writes].map(([k, v]) => (v === undefined ? kv.delete().key(k) : kv.put(k).value(v)))
          if (compares.length === 0) {
            // Nothing to compare: a condition that always holds keeps the writes in one transaction.
            const [someKey = ""] = writes.keys()
            await kv
              .if(someKey, "Mod", ">", -1)
              .then(...ops)
              .commit()
            return true
          }
          const [[firstKey, firstVersion], ...rest] = compares as [[string, string | undefined], ...typeof compares]
          // An absent key has modification revision 0; a present one its last write's revision.
          let txn = kv.if(firstKey, "Mod", "==", firstVersion ?? 0)
          for (const [k, v] of rest) txn = txn.and(k, "Mod", "==", v ?? 0)
          const answer = await txn.then(...ops).commit()
          return answer.succeeded
        })
      }
    })
  })

/**
 * The etcd store as a Layer.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Store> => Layer.effect(Store, make(options))
