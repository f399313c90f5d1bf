/**
 * `Store` in memory, for tests: the same transactions as the real stores, plus a switch that makes it unavailable
 * so drivers can be tested against a store that goes away.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type Entry, Store, type Service, StoreUnavailable } from "./Store.ts"

/**
 * A memory store and its switch.
 *
 * @since 0.1.0
 */
export interface MemoryStore {
  readonly service: Service
  /** While `false`, every call fails with `StoreUnavailable`. */
  readonly setAvailable: (available: boolean) => void
  /** Every key and value (to look inside in tests). */
  readonly dump: () => ReadonlyMap<string, string>
}

/**
 * Creates an empty memory store.
 *
 * @since 0.1.0
 */
export const make = (name = "memory store"): MemoryStore => {
  const entries = new Map<string, Entry>()
  let revision = 0
  let available = true
  const guard = <A>(f: () => A) =>
    Effect.suspend(() =>
      available ? Effect.succeed(f()) : Effect.fail(new StoreUnavailable({ store: name, reason: "switched off" }))
    )
  return {
    service: {
      name,
      get: (keys) => guard(() => new Map(keys.flatMap((k) => (entries.has(k) ? [[k, entries.get(k)!] as const] : [])))),
      commit: ({ expect, writes }) =>
        guard(() => {
          for (const [key, version] of expect) if (entries.get(key)?.version !== version) return false
          revision++
          for (const [key, value] of writes) {
            if (value === undefined) entries.delete(key)
            else entries.set(key, { value, version: String(revision) })
          }
          return true
        })
    },
    setAvailable: (a) => {
      available = a
    },
    dump: () => new Map([...entries].map(([k, e]) => [k, e.value] as const))
  }
}

/**
 * A fresh memory store as a Layer.
 *
 * @since 0.1.0
 */
export const layer = (name?: string): Layer.Layer<Store> => Layer.sync(Store, () => make(name).service)
