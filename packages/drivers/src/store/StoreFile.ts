/**
 * `Store` in one file on the local disk, for a single host with no server: `DIR/store.json` holds every key, and
 * each transaction replaces it atomically (write a temporary file, fsync, rename, fsync the folder), so a crash or
 * `kill -9` at any moment leaves the state before or after the transaction, never a mix. Transactions in the
 * process are serialised; a second process on the same folder is refused (`DIR/owner.pid`).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Semaphore from "effect/Semaphore"
import * as Path from "node:path"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "effect/FileSystem"
import * as AtomicFile from "../shared/AtomicFile.ts"
import * as FolderOwner from "../shared/FolderOwner.ts"
import { type Entry, Store, StoreUnavailable } from "./Store.ts"

const StoreFileContent = Schema.Struct({
  version: Schema.Literal(1),
  revision: Schema.Number,
  entries: Schema.Record(Schema.String, Schema.Struct({ value: Schema.String, version: Schema.String }))
})

/**
 * The store's name in messages.
 *
 * @since 0.1.0
 */
export const nameOf = (dir: string): string => `file store at ${dir}`

/**
 * Claims the folder for this process (`DIR/owner.pid`, see `FolderOwner`): a live other owner is an error; a dead one
 * (a crash, a reboot) is taken over. A second store on the same folder in this process is refused too: it would keep
 * its own copy of the entries, and each commit would erase the other's.
 */
const claim = (dir: string, name: string) =>
  FolderOwner.claimScoped(dir).pipe(
    Effect.mapError(
      (e) =>
        new StoreUnavailable({
          store: name,
          reason:
            e._tag === "FolderOwnerError"
              ? e.message
              : e.inThisProcess
                ? "it is already open in this process (one store per folder; share that store instead)"
                : `it is in use by process ${e.owner} (one process per folder; share state between processes with etcd)`
        })
    )
  )

/**
 * Opens (or creates) the store in `dir`.
 *
 * @since 0.1.0
 */
export const make = (dir: string) =>
  Effect.gen(function* () {
    const root = Path.resolve(dir)
    const name = nameOf(root)
    const fs = yield* FileSystem.FileSystem
    const unavailable = (e: { message: string }) => new StoreUnavailable({ store: name, reason: e.message })
    const platform = (operation: string, path: string) => (e: Parameters<typeof AtomicFile.reasonOf>[0]) =>
      new StoreUnavailable({ store: name, reason: `${operation} ${path}: ${AtomicFile.reasonOf(e)}` })
    const file = Path.join(root, "store.json")
    const tmpDir = Path.join(root, "tmp")
    yield* fs.makeDirectory(root, { recursive: true, mode: 0o700 }).pipe(Effect.mapError(platform("mkdir", root)))
    yield* claim(root, name)
    // A temporary file left by a crash is a write that never happened: the store file is intact.
    yield* fs.remove(tmpDir, { recursive: true, force: true }).pipe(Effect.mapError(platform("remove", tmpDir)))
    const existing = yield* fs.exists(file).pipe(Effect.mapError(platform("stat", file)))
    let state: typeof StoreFileContent.Type = { version: 1, revision: 0, entries: {} }
    if (existing) {
      const text = yield* fs.readFileString(file).pipe(Effect.mapError(platform("read", file)))
      state = yield* Effect.try({
        try: () => Schema.decodeUnknownSync(StoreFileContent)(JSON.parse(text)),
        catch: (e) =>
          new StoreUnavailable({
            store: name,
            reason: `${file} is unreadable (${(e as Error).message.replace(/\n\s*/g, " ")}); fix or remove it`
          })
      })
    }
    const lock = yield* Semaphore.make(1)
    // Keys are any strings: `toString` or `__proto__` must not reach the entries' prototype.
    const entryOf = (key: string): Entry | undefined =>
      Object.hasOwn(state.entries, key) ? state.entries[key] : undefined
    return Store.of({
      name,
      get: (keys) =>
        Effect.sync(
          () =>
            new Map(
              keys.flatMap((k): ReadonlyArray<readonly [string, Entry]> => {
                const e = entryOf(k)
                return e === undefined ? [] : [[k, e]]
              })
            )
        ),
      commit: ({ expect, writes }) =>
        lock.withPermit(
          Effect.suspend(() => {
            for (const [key, version] of expect) if (entryOf(key)?.version !== version) return Effect.succeed(false)
            const revision = state.revision + 1
            const entries: Record<string, Entry> = Object.assign(Object.create(null), state.entries)
            for (const [key, value] of writes) {
              if (value === undefined) delete entries[key]
              else entries[key] = { value, version: String(revision) }
            }
            const next = { version: 1 as const, revision, entries }
            // Memory changes only once the file is durably replaced: a failed write leaves both as they were.
            return AtomicFile.write(file, `${JSON.stringify(next)}\n`, tmpDir).pipe(
              Effect.provideService(FileSystem.FileSystem, fs),
              Effect.mapError(unavailable),
              Effect.as(true),
              Effect.tap(() =>
                Effect.sync(() => {
                  state = next
                })
              )
            )
          })
        )
    })
  })

/**
 * The store in `dir` as a Layer (on the real disk).
 *
 * @since 0.1.0
 */
export const layer = (dir: string): Layer.Layer<Store, StoreUnavailable> =>
  Layer.effect(Store, make(dir)).pipe(Layer.provide(NodeFileSystem.layer))
