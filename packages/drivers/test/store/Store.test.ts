/**
 * The Store contract, run against every Layer: memory, file, and a private real etcd (two clients standing in
 * for two hosts).
 */
import { Store, StoreEtcd, StoreFile, StoreMemory } from "@docker-plugin-kit/drivers"
import { EtcdServer } from "@docker-plugin-kit/testkit"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Result, Schedule, type Scope } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-store-"))
const { etcd } = await EtcdServer.shared()
afterAll(async () => {
  await etcd?.close()
  Fs.rmSync(base, { recursive: true, force: true })
})

/** Builds a Store from a Layer for the test's scope. */
const open = <E>(layer: Layer.Layer<Store.Store, E>) =>
  Effect.flatMap(Layer.build(layer), (context) =>
    Effect.succeed(context.mapUnsafe.get(Store.Store.key) as Store.Service)
  )

let n = 0
const fresh = () => `run-${process.pid}-${++n}`

/** Adds one to the number at `key`; answers the number it took (so deciding twice would show). */
const increment = (store: Store.Service, key: string) =>
  Store.update(store, [key], (values) => {
    const n = Number(values.get(key) ?? "0")
    return Result.succeed({ result: n, writes: { [key]: String(n + 1) } })
  })

const contract = (
  label: string,
  make: () => Effect.Effect<readonly [Store.Service, Store.Service], unknown, Scope.Scope>
) =>
  describe(`Store contract: ${label}`, () => {
    it.live("commit applies when versions match, and writes nothing when one does not", () =>
      Effect.gen(function* () {
        const [store] = yield* make()
        const [a, b] = [`${fresh()}/a`, `${fresh()}/b`]
        expect(
          yield* store.commit({
            expect: new Map([[a, undefined]]),
            writes: new Map([
              [a, "1"],
              [b, "1"]
            ])
          })
        ).toBe(true)
        const first = yield* store.get([a, b, "missing"])
        expect([...first.keys()].sort()).toEqual([a, b].sort())
        expect(first.get(a)?.value).toBe("1")
        // Stale expectation on `a`: neither key changes.
        const stale = yield* store.commit({
          expect: new Map([
            [a, undefined],
            [b, first.get(b)!.version]
          ]),
          writes: new Map([
            [a, "2"],
            [b, "2"]
          ])
        })
        expect(stale).toBe(false)
        const second = yield* store.get([a, b])
        expect([second.get(a)?.value, second.get(b)?.value]).toEqual(["1", "1"])
        expect(
          yield* store.commit({ expect: new Map([[a, first.get(a)!.version]]), writes: new Map([[a, undefined]]) })
        ).toBe(true)
        expect((yield* store.get([a])).size).toBe(0)
      })
    )

    it.live("concurrent updates through two clients lose nothing", () =>
      Effect.gen(function* () {
        const [one, two] = yield* make()
        const key = `${fresh()}/counter`
        yield* Effect.forEach(
          Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? one : two)),
          (store) => increment(store, key),
          { concurrency: "unbounded" }
        )
        expect((yield* one.get([key])).get(key)?.value).toBe("60")
      })
    )

    it.live("a key is any string: the names of an object's own built-in properties are keys like the others", () =>
      Effect.gen(function* () {
        const [store] = yield* make()
        const names = ["__proto__", "constructor", "toString"]
        const prefix = fresh()
        // Bare as well as under a prefix: etcd's contract runs share one server, where the bare ones may be left.
        const keys = [...names, ...names.map((name) => `${prefix}/${name}`)]
        for (const key of keys) {
          if ((yield* store.get([key])).size > 0) continue
          const written = yield* store.commit({
            expect: new Map([[key, undefined]]),
            writes: new Map([[key, `v-${key}`]])
          })
          expect(written).toBe(true)
        }
        const read = yield* store.get([...keys, "hasOwnProperty"])
        expect([...read.keys()].sort()).toEqual([...keys].sort())
        for (const [key, entry] of read) expect(entry.value).toBe(`v-${key}`)
      })
    )

    it.live("a decision that fails writes nothing", () =>
      Effect.gen(function* () {
        const [store] = yield* make()
        const key = fresh()
        const exit = yield* Effect.exit(Store.update(store, [key], () => Result.fail("no")))
        expect(exit).toEqual(Exit.fail("no"))
        expect((yield* store.get([key])).size).toBe(0)
      })
    )
  })

contract("memory", () =>
  Effect.sync(() => {
    const store = StoreMemory.make().service
    return [store, store] as const
  })
)
contract("file", () => Effect.map(open(StoreFile.layer(Path.join(base, fresh()))), (store) => [store, store] as const))
if (etcd !== undefined) {
  contract("etcd", () =>
    Effect.all([
      open(StoreEtcd.layer({ hosts: [etcd.endpoint], prefix: "test/" })),
      open(StoreEtcd.layer({ hosts: [etcd.endpoint], prefix: "test/" }))
    ])
  )
}

describe("StoreMemory", () => {
  it.effect("switched off, every call fails naming the store", () =>
    Effect.gen(function* () {
      const memory = StoreMemory.make("test store")
      memory.setAvailable(false)
      const error = yield* Effect.flip(memory.service.get(["a"]))
      expect(error.message).toBe("test store unavailable: switched off")
    })
  )
})

/**
 * A store whose first commit is applied but answered wrongly: with an error (the answer lost), or as a conflict (a
 * client that tried the call again after it had been applied); `applied: false` fails that commit before applying it.
 */
const lossy = (inner: Store.Service, answer: "error" | "conflict", applied = true): Store.Service => {
  let first = true
  const lost = new Store.StoreUnavailable({ store: inner.name, reason: "answer lost" })
  return {
    ...inner,
    answersMayBeLost: true,
    commit: (transaction) => {
      if (!first) return inner.commit(transaction)
      first = false
      if (!applied) return Effect.fail(lost)
      return Effect.andThen(inner.commit(transaction), answer === "error" ? Effect.fail(lost) : Effect.succeed(false))
    }
  }
}

const tokensIn = (memory: StoreMemory.MemoryStore) =>
  [...memory.dump().keys()].filter((key) => key.startsWith(Store.tokenPrefix))

describe("Store.update when a commit does not say it was applied", () => {
  for (const answer of ["error", "conflict"] as const) {
    it.live(
      `applied but answered with ${answer === "error" ? "an error" : "a conflict"}: applied once, its result stands`,
      () =>
        Effect.gen(function* () {
          const memory = StoreMemory.make()
          const store = lossy(memory.service, answer)
          // Each update takes the next number: deciding again would take two.
          const take = increment(store, "next")
          expect(yield* take).toBe(0)
          expect(memory.dump().get("next")).toBe("1")
          expect(yield* take).toBe(1)
          expect(memory.dump().get("next")).toBe("2")
        })
    )
  }

  it.live("not applied and answered with an error: the update fails with it and nothing is written", () =>
    Effect.gen(function* () {
      const memory = StoreMemory.make()
      const error = yield* Effect.flip(increment(lossy(memory.service, "error", false), "k"))
      expect(error).toBeInstanceOf(Store.StoreUnavailable)
      expect(error.message).toBe("memory store unavailable: answer lost")
      expect(memory.dump()).toEqual(new Map())
    })
  )

  it.live("each process leaves at most one token behind; a store whose answers arrive keeps none", () =>
    Effect.gen(function* () {
      const memory = StoreMemory.make()
      const remote = { ...memory.service, answersMayBeLost: true }
      for (let i = 0; i < 5; i++) yield* increment(remote, `k${i % 2}`)
      expect(tokensIn(memory)).toHaveLength(1)
      expect(memory.dump().get("k0")).toBe("3")
      const local = StoreMemory.make()
      for (let i = 0; i < 5; i++) yield* increment(local.service, "k")
      expect([...local.dump().keys()]).toEqual(["k"])
    })
  )
})

describe("StoreFile", () => {
  it.live("keeps its keys across a reopen and refuses a folder another live process owns", () =>
    Effect.gen(function* () {
      const dir = Path.join(base, fresh())
      const keys = ["k", "__proto__"]
      yield* Effect.scoped(
        Effect.flatMap(open(StoreFile.layer(dir)), (s) => Effect.forEach(keys, (k) => increment(s, k)))
      )
      const again = yield* Effect.scoped(
        Effect.flatMap(open(StoreFile.layer(dir)), (s) => s.get([...keys, "toString"]))
      )
      expect([...again].map(([k, e]) => [k, e.value])).toEqual([
        ["k", "1"],
        ["__proto__", "1"]
      ])
      Fs.writeFileSync(Path.join(dir, "owner.pid"), `${process.ppid}\n`)
      const refused = yield* Effect.exit(Effect.scoped(open(StoreFile.layer(dir))))
      expect(String(refused)).toContain(`file store at ${dir} unavailable: it is in use by process ${process.ppid}`)
      // A dead owner (a crash) is taken over.
      Fs.writeFileSync(Path.join(dir, "owner.pid"), "999999999\n")
      yield* Effect.scoped(open(StoreFile.layer(dir)))
    })
  )

  it.live("a folder already open in this process is refused, through a symlink too, until that store is closed", () =>
    Effect.gen(function* () {
      // `owner.pid` names this process for both: the second store kept its own copy of the entries, and its first
      // commit erased every key the first store had written.
      const dir = Path.join(base, fresh())
      const alias = `${dir}-alias`
      yield* Effect.scoped(
        Effect.gen(function* () {
          const first = yield* open(StoreFile.layer(dir))
          yield* increment(first, "k")
          Fs.symlinkSync(dir, alias)
          for (const again of [dir, alias]) {
            const refused = yield* Effect.exit(Effect.scoped(open(Layer.fresh(StoreFile.layer(again)))))
            expect(String(refused)).toContain(
              `file store at ${again} unavailable: it is already open in this process (one store per folder; ` +
                "share that store instead)"
            )
          }
          yield* increment(first, "j")
        })
      )
      const reopened = yield* Effect.scoped(Effect.flatMap(open(StoreFile.layer(alias)), (s) => s.get(["k", "j"])))
      expect([...reopened].map(([k, e]) => [k, e.value])).toEqual([
        ["k", "1"],
        ["j", "1"]
      ])
    })
  )

  it.live("an owner file emptied by a crash, or naming no single process, is taken over", () =>
    Effect.gen(function* () {
      const dir = Path.join(base, fresh())
      Fs.mkdirSync(dir, { recursive: true })
      // An owner file written without fsync is empty after a power loss: read as 0 (this process group) it was
      // "in use by process 0" for ever; -1 (every process) likewise.
      for (const text of ["", "\n", "0\n", "-1\n"]) {
        Fs.writeFileSync(Path.join(dir, "owner.pid"), text)
        yield* Effect.scoped(open(StoreFile.layer(dir)))
      }
    })
  )

  it.live("an unreadable store file is an error naming the file, not an empty store", () =>
    Effect.gen(function* () {
      const dir = Path.join(base, fresh())
      Fs.mkdirSync(dir, { recursive: true })
      Fs.writeFileSync(Path.join(dir, "store.json"), "{ half")
      const exit = yield* Effect.exit(Effect.scoped(open(StoreFile.layer(dir))))
      expect(String(exit)).toContain(`${Path.join(dir, "store.json")} is unreadable`)
    })
  )
})

describe.skipIf(etcd === undefined)("StoreEtcd with etcd going away", () => {
  it.live(
    "etcd down: calls fail naming the store and write nothing; etcd back: calls work again, same client",
    () =>
      Effect.gen(function* () {
        const store = yield* open(StoreEtcd.layer({ hosts: [etcd!.endpoint], prefix: "fault/", timeoutMs: 1000 }))
        const key = fresh()
        yield* increment(store, key)
        yield* Effect.promise(() => etcd!.stop())
        const down = yield* Effect.exit(increment(store, key))
        expect(String(down)).toContain(`etcd store at ${etcd!.endpoint} unavailable: `)
        yield* Effect.promise(() => etcd!.start())
        // The client's circuit breaker may stay open for a few seconds after etcd returns.
        yield* increment(store, key).pipe(
          Effect.retry({ times: 40, schedule: Schedule.spaced("500 millis") }),
          Effect.orDie
        )
        expect((yield* store.get([key])).get(key)?.value).toBe("2")
      }),
    60_000
  )
})

describe.skipIf(etcd === undefined)("StoreEtcd with a value larger than etcd accepts", () => {
  it.live(
    "the update fails naming the size, writes nothing, and the store keeps answering other calls",
    () =>
      Effect.gen(function* () {
        // Beyond etcd's gRPC limit the answer was RESOURCE_EXHAUSTED, which the client takes for a failing server:
        // it sent the request three times, then refused every call ("the circuit breaker is open") for 5 s.
        const store = yield* open(StoreEtcd.layer({ hosts: [etcd!.endpoint], prefix: "large/" }))
        const [big, other] = [fresh(), fresh()]
        const huge = "x".repeat(2 * 1024 * 1024)
        const error = yield* Effect.flip(
          Store.update(store, [big], () => Result.succeed({ result: 0, writes: { [big]: huge } }))
        )
        // The value, its key twice (compared and written) and the transaction's token.
        expect(error.message).toMatch(
          /^etcd store at \S+ unavailable: a transaction of 20972\d\d bytes is larger than etcd accepts \(1572864 bytes, its --max-request-bytes\); nothing was written$/
        )
        expect((yield* store.get([big])).size).toBe(0)
        expect(yield* increment(store, other)).toBe(0)
        // A value that fits is written.
        const fits = "y".repeat(1024 * 1024)
        yield* Store.update(store, [big], () => Result.succeed({ result: 0, writes: { [big]: fits } }))
        expect((yield* store.get([big])).get(big)?.value).toBe(fits)
      }),
    60_000
  )
})

/**
 * A TCP proxy to `target` that can lose one answer: once `loseNextAnswer` is set, the first bytes coming back are
 * dropped and the connection is cut, after the request has reached etcd (as when a network breaks mid-call).
 */
const answerLosingProxy = (target: string) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<{ readonly endpoint: string; loseNextAnswer: boolean; readonly server: Net.Server }>((resolve) => {
          const [host, port] = target.split(":") as [string, string]
          const proxy = { endpoint: "", loseNextAnswer: false, server: Net.createServer() }
          proxy.server.on("connection", (client) => {
            const upstream = Net.connect(Number(port), host)
            client.pipe(upstream)
            upstream.on("data", (chunk: Buffer) => {
              if (!proxy.loseNextAnswer) return void client.write(chunk)
              proxy.loseNextAnswer = false
              client.destroy()
              upstream.destroy()
            })
            client.on("error", () => upstream.destroy())
            upstream.on("error", () => client.destroy())
            client.on("close", () => upstream.destroy())
          })
          proxy.server.listen(0, "127.0.0.1", () => {
            proxy.endpoint = `127.0.0.1:${(proxy.server.address() as Net.AddressInfo).port}`
            resolve(proxy)
          })
        })
    ),
    (proxy) => Effect.sync(() => proxy.server.close())
  )

describe.skipIf(etcd === undefined)("StoreEtcd with an answer lost", () => {
  it.live(
    "a transaction etcd applied but whose answer was lost is applied once: the client's retry finds its token",
    () =>
      Effect.gen(function* () {
        const proxy = yield* answerLosingProxy(etcd!.endpoint)
        const store = yield* open(StoreEtcd.layer({ hosts: [proxy.endpoint], prefix: "lost/", timeoutMs: 2000 }))
        const key = fresh()
        // Each update takes the next number: deciding again would take two.
        const take = (from: Store.Service) => increment(from, key)
        expect(yield* take(store)).toBe(0)
        // The next commit reaches etcd, and its answer is lost on the way back (once).
        let lost = false
        const losing: Store.Service = {
          ...store,
          commit: (transaction) =>
            Effect.suspend(() => {
              proxy.loseNextAnswer = !lost
              lost = true
              return store.commit(transaction)
            })
        }
        expect(yield* take(losing)).toBe(1)
        expect(proxy.loseNextAnswer).toBe(false)
        expect((yield* store.get([key])).get(key)?.value).toBe("2")
      }),
    60_000
  )
})
