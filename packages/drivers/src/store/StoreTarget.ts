/**
 * Where a store lives, as a driver's `--store` flag gives it: a folder (the file store) or
 * `etcd://HOST:PORT[,HOST:PORT…]` (the etcd store).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import type { Store, StoreUnavailable } from "./Store.ts"
import * as StoreEtcd from "./StoreEtcd.ts"
import * as StoreFile from "./StoreFile.ts"

/**
 * A `--store` value that is neither a folder nor an etcd URL.
 *
 * @since 0.1.0
 */
export class InvalidStoreTarget extends Data.TaggedError("InvalidStoreTarget")<{
  readonly value: string
  readonly reason: string
}> {
  override get message() {
    return `--store ${this.value}: ${this.reason} (expected a folder or etcd://HOST:PORT[,HOST:PORT...])`
  }
}

/**
 * A parsed target.
 *
 * @since 0.1.0
 */
export type StoreTarget =
  | { readonly _tag: "File"; readonly dir: string }
  | { readonly _tag: "Etcd"; readonly hosts: ReadonlyArray<string> }

/**
 * Parses a `--store` value.
 *
 * @since 0.1.0
 */
export const parse = (value: string): Result.Result<StoreTarget, InvalidStoreTarget> => {
  if (!value.includes("://")) {
    return value === ""
      ? Result.fail(new InvalidStoreTarget({ value, reason: "empty" }))
      : Result.succeed({ _tag: "File", dir: value })
  }
  if (!value.startsWith("etcd://")) {
    return Result.fail(new InvalidStoreTarget({ value, reason: "the only URL scheme is etcd://" }))
  }
  const hosts = value.slice("etcd://".length).replace(/\/$/, "").split(",")
  const bad = hosts.find((h) => !/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/.test(h))
  return bad === undefined
    ? Result.succeed({ _tag: "Etcd", hosts })
    : Result.fail(new InvalidStoreTarget({ value, reason: `"${bad}" is not HOST:PORT` }))
}

/**
 * The store a `--store` value names, as a Layer.
 *
 * @since 0.1.0
 */
export const layer = (value: string): Layer.Layer<Store, StoreUnavailable | InvalidStoreTarget> =>
  Layer.unwrap(
    Effect.map(Effect.fromResult(parse(value)), (target) =>
      target._tag === "File" ? StoreFile.layer(target.dir) : StoreEtcd.layer({ hosts: target.hosts })
    )
  )
