/**
 * `pnpm bench ipam`: allocations per second of ipam-pool (`RequestAddress` through the driver, in-process) on the
 * file store and on a private etcd, in a /16 that is empty and one that is 95% full, in one run. The 95% pools are
 * filled two ways: serially (how the pool fills: one run of addresses) and scattered (5% of the addresses released
 * at random afterwards: ~3,000 holes, the worst case for a run-length set). The pure allocator (no store) is the
 * baseline measured in the same run. Ratios are full/empty for the same store: the target is ≥ 0.5 (an allocation
 * in a 95% full /16 costs within 2× of one in an empty /16). The last line is one JSON object.
 *
 * Options: --calls N allocations measured per case (200) --skip-etcd
 */
import { IpamPool, IpamState, Store, StoreEtcd, StoreFile } from "@docker-plugin-kit/drivers"
import { Ipam } from "@docker-plugin-kit/helpers"
import { IpamDriver } from "@docker-plugin-kit/protocol"
import { Context, Effect, Layer, Result } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"
// The testkit is not a dependency of the workspace root: its private etcd is imported by path.
import * as EtcdServer from "../../packages/testkit/src/engine/EtcdServer.ts"

const { values: flags } = parseArgs({
  options: { calls: { type: "string", default: "200" }, "skip-etcd": { type: "boolean", default: false } },
  allowPositionals: false
})
const calls = Number(flags.calls)
if (!(calls > 0 && Number.isInteger(calls))) throw new Error("--calls must be a positive integer")

type Fill = "empty" | "serial95" | "scattered95"
const fills: ReadonlyArray<Fill> = ["empty", "serial95", "scattered95"]

/** A /16 pool filled as asked (pure allocator). */
const filled = (fill: Fill, cidr: string): Ipam.AddressPool.AddressPool => {
  const pool = Result.getOrThrow(Ipam.AddressPool.make(Result.getOrThrow(Ipam.Prefix.parse(cidr))))
  if (fill === "empty") return pool
  const usable = 65_534
  const target = Math.floor(usable * 0.95)
  if (fill === "serial95") {
    for (let i = 0; i < target; i++) Result.getOrThrow(Ipam.AddressPool.allocate(pool))
    return pool
  }
  const all: Array<bigint> = []
  for (let i = 0; i < usable; i++) all.push(Result.getOrThrow(Ipam.AddressPool.allocate(pool)))
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[all[i], all[j]] = [all[j]!, all[i]!]
  }
  for (const value of all.slice(0, usable - target)) {
    Result.getOrThrow(Ipam.AddressPool.release(pool, { family: 4, value }))
  }
  return pool
}

const perSecond = (n: number, ms: number) => Math.round((n / ms) * 1000)

/** The pure allocator: `calls` allocations on a copy of each filled pool, the fills interleaved over 5 rounds. */
const allocatorRates = (): Record<Fill, number> => {
  const templates = fills.map((fill) => [fill, filled(fill, "10.50.0.0/16")] as const)
  const best = { empty: 0, serial95: 0, scattered95: 0 }
  // Round 0 warms the JIT up and is not counted; the best of the others is the least disturbed by other work.
  for (let round = 0; round < 6; round++) {
    for (const [fill, template] of templates) {
      const pool = Ipam.AddressPool.clone(template)
      const started = performance.now()
      for (let i = 0; i < calls; i++) Result.getOrThrow(Ipam.AddressPool.allocate(pool))
      if (round > 0) best[fill] = Math.max(best[fill], perSecond(calls, performance.now() - started))
    }
  }
  return best
}

/** The driver over a store: a pool is requested, filled directly in the store, then `calls` RequestAddress. */
const driverRate = (store: Layer.Layer<Store.Store, unknown>, fill: Fill, cidr: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const context = yield* Layer.build(IpamPool.layer().pipe(Layer.provideMerge(store)))
      const driver = Context.get(context, IpamDriver.IpamDriver)
      const storeService = Context.get(context, Store.Store)
      const { PoolID } = yield* driver.requestPool({
        AddressSpace: "local",
        Pool: cidr,
        SubPool: "",
        Options: {},
        V6: false
      })
      const pool = filled(fill, cidr)
      // Filling 62,000 addresses through the driver would take minutes of fsyncs: write the filled pool instead.
      yield* Store.update(storeService, [IpamState.poolKey(PoolID)], (values) => {
        const record = JSON.parse(values.get(IpamState.poolKey(PoolID))!)
        const allocation = Ipam.AddressPool.encode(pool)
        return Result.succeed({
          result: undefined,
          writes: { [IpamState.poolKey(PoolID)]: JSON.stringify({ ...record, allocation }) }
        })
      })
      // A few calls first, not counted: the first calls on a fresh store pay for loading and JIT.
      for (let i = 0; i < 10; i++) yield* driver.requestAddress({ PoolID, Address: "", Options: null })
      const started = performance.now()
      for (let i = 0; i < calls; i++) yield* driver.requestAddress({ PoolID, Address: "", Options: null })
      const rate = perSecond(calls, performance.now() - started)
      yield* driver.releasePool({ PoolID })
      return rate
    })
  )

const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-bench-ipam-"))
const results: Record<string, Record<Fill, number> | null> = {}
try {
  const pure = allocatorRates()
  results.allocator = pure
  console.log(`allocator (pure)  ${fills.map((f) => `${f} ${pure[f]}/s`).join("  ")}`)

  const fileRates = {} as Record<Fill, number>
  for (const [i, fill] of fills.entries()) {
    fileRates[fill] = await Effect.runPromise(
      driverRate(StoreFile.layer(Path.join(tmp, `file-${fill}`)), fill, `10.${51 + i}.0.0/16`)
    )
  }
  results.file = fileRates
  console.log(`file store        ${fills.map((f) => `${f} ${fileRates[f]}/s`).join("  ")}`)

  results.etcd = null
  if (!flags["skip-etcd"]) {
    const etcd = await EtcdServer.start().catch((e: Error) => {
      console.warn(`⚠ etcd store not measured: ${e.message}`)
      return undefined
    })
    if (etcd !== undefined) {
      try {
        const etcdRates = {} as Record<Fill, number>
        for (const [i, fill] of fills.entries()) {
          etcdRates[fill] = await Effect.runPromise(
            driverRate(StoreEtcd.layer({ hosts: [etcd.endpoint], prefix: "bench/" }), fill, `10.${61 + i}.0.0/16`)
          )
        }
        results.etcd = etcdRates
        console.log(`etcd store        ${fills.map((f) => `${f} ${etcdRates[f]}/s`).join("  ")}`)
      } finally {
        await etcd.close()
      }
    }
  }
} finally {
  Fs.rmSync(tmp, { recursive: true, force: true })
}

const ratios = (r: Record<Fill, number> | null | undefined) =>
  r == null
    ? null
    : {
        serial95_over_empty: Number((r.serial95 / r.empty).toFixed(3)),
        scattered95_over_empty: Number((r.scattered95 / r.empty).toFixed(3))
      }
console.log(
  JSON.stringify({
    calls,
    allocations_per_s: results,
    ratios: { allocator: ratios(results.allocator), file: ratios(results.file), etcd: ratios(results.etcd) }
  })
)
