/**
 * ipam-pool as the daemon uses it, in-process over the memory and file stores.
 */
import { IpamPool, Store, StoreFile, StoreMemory } from "@docker-plugin-kit/drivers"
import { IpamDriver } from "@docker-plugin-kit/protocol"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Result } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-ipam-pool-"))
afterAll(() => Fs.rmSync(base, { recursive: true, force: true }))

const gateway = { RequestAddressType: "com.docker.network.gateway" }
const anyPool = (V6 = false, Options: Record<string, string> | null = {}) => ({
  AddressSpace: "local",
  Pool: "",
  SubPool: "",
  Options,
  V6
})

/** The driver over a given memory store. */
const built = <E>(layer: Layer.Layer<IpamDriver.IpamDriver, E>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, IpamDriver.IpamDriver))
const driverOn = (memory: StoreMemory.MemoryStore, options: IpamPool.Options = {}) =>
  built(IpamPool.layer(options).pipe(Layer.provide(Layer.succeed(Store.Store, memory.service))))
const driver = (options: IpamPool.Options = {}) => driverOn(StoreMemory.make(), options)
const failure = <A, E extends { message: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (e) => e.message)

describe("ipam-pool", () => {
  it.effect("names its address spaces and needs neither MACs nor replays", () =>
    Effect.gen(function* () {
      const d = yield* driver()
      expect(yield* d.getDefaultAddressSpaces({})).toEqual({
        LocalDefaultAddressSpace: "local",
        GlobalDefaultAddressSpace: "global"
      })
      expect(yield* d.getCapabilities!({})).toEqual({ RequiresMACAddress: false, RequiresRequestReplay: false })
    })
  )

  it.effect("empty pool requests carve disjoint /24s and /64s from the defaults; Options come back in Data", () =>
    Effect.gen(function* () {
      const d = yield* driver()
      expect(yield* d.requestPool(anyPool(false, { io: "1" }))).toEqual({
        PoolID: "local/10.200.0.0/24",
        Pool: "10.200.0.0/24",
        Data: { io: "1" }
      })
      expect((yield* d.requestPool(anyPool(false, null))).Pool).toBe("10.200.1.0/24")
      expect((yield* d.requestPool(anyPool(true))).Pool).toBe("fd8a:7c2e:d0c1::/64")
      expect((yield* d.requestPool(anyPool(true))).Pool).toBe("fd8a:7c2e:d0c1:1::/64")
      // The global space is separate, as in Docker's own IPAM.
      expect((yield* d.requestPool({ ...anyPool(), AddressSpace: "global" })).Pool).toBe("10.200.0.0/24")
    })
  )

  it.effect("an explicit pool is taken unless it overlaps; the error names both", () =>
    Effect.gen(function* () {
      const d = yield* driver()
      const pool = { ...anyPool(), Pool: "10.77.0.5/24", SubPool: "10.77.0.128/25" }
      expect(yield* d.requestPool(pool)).toEqual({ PoolID: "local/10.77.0.0/24", Pool: "10.77.0.0/24", Data: {} })
      expect(yield* failure(d.requestPool({ ...anyPool(), Pool: "10.77.0.0/16" }))).toBe(
        'RequestPool 10.77.0.0/16 in address space "local": pool 10.77.0.0/16 overlaps pool 10.77.0.0/24, which is in use'
      )
      expect(yield* failure(d.requestPool({ ...anyPool(), Pool: "10.78.0.0/24", SubPool: "10.79.0.0/25" }))).toBe(
        'RequestPool 10.78.0.0/24 range 10.79.0.0/25 in address space "local": sub-range 10.79.0.0/25 is not inside pool 10.78.0.0/24'
      )
      expect(yield* failure(d.requestPool({ ...anyPool(), SubPool: "10.79.0.0/25" }))).toContain(
        "a sub-range (--ip-range) needs a subnet (--subnet)"
      )
      expect(yield* failure(d.requestPool({ ...anyPool(true), Pool: "10.80.0.0/24" }))).toContain(
        "10.80.0.0/24 is an IPv4 subnet but V6 is true"
      )
      expect(yield* failure(d.requestPool({ ...anyPool(), AddressSpace: "elsewhere" }))).toContain(
        'in address space "elsewhere": unknown address space (this driver serves "local" and "global")'
      )
    })
  )

  it.effect("a pool with an unspecified address (Engine 29: --subnet 0.0.0.0/25) asks only for a size", () =>
    Effect.gen(function* () {
      const d = yield* driver()
      expect(yield* d.requestPool({ ...anyPool(), Pool: "0.0.0.0/25" })).toEqual({
        PoolID: "local/10.200.0.0/25",
        Pool: "10.200.0.0/25",
        Data: {}
      })
      expect((yield* d.requestPool({ ...anyPool(), Pool: "0.0.0.0/25" })).Pool).toBe("10.200.0.128/25")
      expect((yield* d.requestPool({ ...anyPool(true), Pool: "::/56" })).Pool).toBe("fd8a:7c2e:d0c1::/56")
      // No length: the configured one, as for an empty Pool.
      expect((yield* d.requestPool({ ...anyPool(), Pool: "0.0.0.0/0" })).Pool).toBe("10.200.1.0/24")
      expect(yield* failure(d.requestPool({ ...anyPool(), Pool: "0.0.0.0/8" }))).toBe(
        'RequestPool 0.0.0.0/8 in address space "local": cannot carve /8 pools from 10.200.0.0/16'
      )
      expect(yield* failure(d.requestPool({ ...anyPool(), Pool: "0.0.0.0/24", SubPool: "10.0.0.0/25" }))).toContain(
        "a sub-range (--ip-range) needs a subnet (--subnet)"
      )
      expect(yield* failure(d.requestPool({ ...anyPool(true), Pool: "0.0.0.0/24" }))).toContain(
        "0.0.0.0/24 is an IPv4 subnet but V6 is true"
      )
      // Only the ranges that can hold that length are carved from.
      const two = yield* driver({ pools: ["10.9.0.0/24", "10.10.0.0/16"] })
      expect((yield* two.requestPool({ ...anyPool(), Pool: "0.0.0.0/20" })).Pool).toBe("10.10.0.0/20")
    })
  )

  it.effect("--ipam-opt com.docker.network.gateway is refused: the daemon would not reserve that gateway", () =>
    Effect.gen(function* () {
      const d = yield* driver()
      expect(
        yield* failure(d.requestPool(anyPool(false, { "com.docker.network.gateway": "10.200.0.1/24", io: "1" })))
      ).toBe(
        'RequestPool (any IPv4 pool) in address space "local": IPAM option com.docker.network.gateway=10.200.0.1/24 is not supported (the daemon would use it as the gateway without reserving it, and hand it to a container too): give the gateway with --gateway'
      )
      // Nothing was taken: the next pool is the first one.
      expect((yield* d.requestPool(anyPool())).Pool).toBe("10.200.0.0/24")
    })
  )

  it.effect("gateway, endpoint, aux and preferred addresses; CIDR answers; sub-range; errors say what and why", () =>
    Effect.gen(function* () {
      const d = yield* driver()
      const { PoolID } = yield* d.requestPool({ ...anyPool(), Pool: "10.77.0.0/24", SubPool: "10.77.0.128/25" })
      expect(yield* d.requestAddress({ PoolID, Address: "", Options: gateway })).toEqual({
        Address: "10.77.0.128/24",
        Data: {}
      })
      expect((yield* d.requestAddress({ PoolID, Address: "10.77.0.5", Options: null })).Address).toBe("10.77.0.5/24")
      const mac = { "com.docker.network.endpoint.macaddress": "02:42:b3:80:d5:fa" }
      expect((yield* d.requestAddress({ PoolID, Address: "", Options: mac })).Address).toBe("10.77.0.129/24")
      expect(yield* failure(d.requestAddress({ PoolID, Address: "10.77.0.5", Options: null }))).toBe(
        `RequestAddress 10.77.0.5 from pool ${PoolID}: address 10.77.0.5 is already allocated in pool 10.77.0.0/24`
      )
      expect(yield* failure(d.requestAddress({ PoolID, Address: "10.78.0.5", Options: gateway }))).toBe(
        `RequestAddress gateway 10.78.0.5 from pool ${PoolID}: address 10.78.0.5 is not in pool 10.77.0.0/24`
      )
      expect(yield* failure(d.requestAddress({ PoolID, Address: "10.77.0.255", Options: null }))).toContain(
        "is the broadcast address of pool 10.77.0.0/24"
      )
      expect(yield* failure(d.requestAddress({ PoolID: "local/10.1.0.0/24", Address: "", Options: null }))).toBe(
        'RequestAddress any address from pool local/10.1.0.0/24: no pool with ID "local/10.1.0.0/24" (never requested from this driver, or released)'
      )
      const v6 = yield* d.requestPool(anyPool(true))
      expect((yield* d.requestAddress({ PoolID: v6.PoolID, Address: "", Options: null })).Address).toBe(
        "fd8a:7c2e:d0c1::1/64"
      )
    })
  )

  it.effect("release then serial reuse; releasing a pool releases what it still holds; unknown IDs are errors", () =>
    Effect.gen(function* () {
      const d = yield* driver({ pools: ["10.9.0.0/16"], poolSize: 29 })
      const { PoolID, Pool } = yield* d.requestPool(anyPool())
      expect(Pool).toBe("10.9.0.0/29")
      const take = () => Effect.map(d.requestAddress({ PoolID, Address: "", Options: null }), (r) => r.Address)
      expect([yield* take(), yield* take()]).toEqual(["10.9.0.1/29", "10.9.0.2/29"])
      yield* d.releaseAddress({ PoolID, Address: "10.9.0.1" })
      yield* d.releaseAddress({ PoolID, Address: "10.9.0.1" })
      expect([yield* take(), yield* take(), yield* take(), yield* take(), yield* take()]).toEqual([
        "10.9.0.3/29",
        "10.9.0.4/29",
        "10.9.0.5/29",
        "10.9.0.6/29",
        "10.9.0.1/29"
      ])
      expect(yield* failure(take())).toContain("no free address left in pool 10.9.0.0/29")
      yield* d.releasePool({ PoolID })
      expect(yield* failure(d.releasePool({ PoolID }))).toContain(`no pool with ID "${PoolID}"`)
      expect(yield* failure(d.releaseAddress({ PoolID, Address: "10.9.0.1" }))).toContain(`no pool with ID`)
      // The subnet is free again, and starts empty.
      const again = yield* d.requestPool(anyPool())
      expect(again.Pool).toBe("10.9.0.0/29")
      expect((yield* d.requestAddress({ PoolID: again.PoolID, Address: "", Options: null })).Address).toBe(
        "10.9.0.1/29"
      )
    })
  )

  it.effect("the daemon's overlap loop gets a new pool each time while it holds the previous ones", () =>
    Effect.gen(function* () {
      const d = yield* driver()
      const first = yield* d.requestPool(anyPool())
      const second = yield* d.requestPool(anyPool())
      expect(second.Pool).not.toBe(first.Pool)
      yield* d.releasePool({ PoolID: first.PoolID })
      expect((yield* d.requestPool(anyPool())).Pool).toBe(first.Pool)
    })
  )

  it.effect("concurrent requests on one pool get distinct addresses", () =>
    Effect.gen(function* () {
      const d = yield* driver()
      const { PoolID } = yield* d.requestPool(anyPool())
      const addresses = yield* Effect.forEach(
        Array.from({ length: 200 }),
        () => Effect.map(d.requestAddress({ PoolID, Address: "", Options: null }), (r) => r.Address),
        { concurrency: "unbounded" }
      )
      expect(new Set(addresses).size).toBe(200)
    })
  )

  it.effect("a store that is away: the error names the call and the store; nothing is half-written", () =>
    Effect.gen(function* () {
      const memory = StoreMemory.make("etcd store at 127.0.0.1:1")
      const d = yield* driverOn(memory)
      const { PoolID } = yield* d.requestPool(anyPool())
      const before = memory.dump()
      memory.setAvailable(false)
      expect(yield* failure(d.requestAddress({ PoolID, Address: "", Options: null }))).toBe(
        `RequestAddress any address from pool ${PoolID}: etcd store at 127.0.0.1:1 unavailable: switched off`
      )
      expect(yield* failure(d.requestPool(anyPool()))).toContain("etcd store at 127.0.0.1:1 unavailable")
      memory.setAvailable(true)
      expect(memory.dump()).toEqual(before)
      expect((yield* d.requestAddress({ PoolID, Address: "", Options: null })).Address).toBe("10.200.0.1/24")
    })
  )

  it.effect("a space record with a pool that does not read back is reported, not skipped: no pool is given twice", () =>
    Effect.gen(function* () {
      const memory = StoreMemory.make()
      const d = yield* driverOn(memory)
      const { PoolID } = yield* d.requestPool(anyPool())
      yield* d.requestAddress({ PoolID, Address: "", Options: null })
      const record = memory.dump().get("ipam/pools/local/10.200.0.0/24")
      for (const pools of [{ [PoolID]: "garbage" }, { [PoolID]: 5 }, { [PoolID]: null }, ["10.200.0.0/24"]]) {
        yield* memory.service.commit({
          expect: new Map(),
          writes: new Map([["ipam/spaces/local", JSON.stringify({ pools })]])
        })
        expect(yield* failure(d.requestPool(anyPool()))).toBe(
          'RequestPool (any IPv4 pool) in address space "local": the stored record ipam/spaces/local is unreadable; fix it (removing it would free pools still in use)'
        )
        // The pool that record no longer shows keeps its addresses.
        expect(memory.dump().get("ipam/pools/local/10.200.0.0/24")).toBe(record)
      }
    })
  )

  it.effect(
    "a pool whose record is unreadable or was removed by hand is still released: its subnet is not leaked",
    () =>
      Effect.gen(function* () {
        const memory = StoreMemory.make()
        const d = yield* driverOn(memory)
        const overwrite = (key: string, value: string | undefined) =>
          memory.service.commit({ expect: new Map(), writes: new Map([[key, value]]) })
        const first = yield* d.requestPool(anyPool())
        yield* d.requestAddress({ PoolID: first.PoolID, Address: "", Options: null })
        yield* overwrite(`ipam/pools/${first.PoolID}`, "{garbage")
        expect(yield* failure(d.requestAddress({ PoolID: first.PoolID, Address: "", Options: null }))).toBe(
          `RequestAddress any address from pool ${first.PoolID}: the stored record ipam/pools/${first.PoolID} is unreadable; fix or remove it (no address of this pool is served meanwhile; ReleasePool frees it either way)`
        )
        // docker network rm: the release is refused no more (the daemon would only log it, and the subnet stay taken).
        yield* d.releasePool({ PoolID: first.PoolID })
        expect(memory.dump().has(`ipam/pools/${first.PoolID}`)).toBe(false)
        const again = yield* d.requestPool(anyPool())
        expect(again.Pool).toBe(first.Pool)
        expect((yield* d.requestAddress({ PoolID: again.PoolID, Address: "", Options: null })).Address).toBe(
          "10.200.0.1/24"
        )
        // A pool record removed by hand: released from its space all the same.
        const second = yield* d.requestPool({ ...anyPool(), Pool: "10.77.0.0/24" })
        yield* overwrite(`ipam/pools/${second.PoolID}`, undefined)
        yield* d.releasePool({ PoolID: second.PoolID })
        expect((yield* d.requestPool({ ...anyPool(), Pool: "10.77.0.0/24" })).PoolID).toBe(second.PoolID)
        // A pool neither record knows is still an error.
        expect(yield* failure(d.releasePool({ PoolID: "local/10.78.0.0/24" }))).toContain(
          'no pool with ID "local/10.78.0.0/24"'
        )
      })
  )

  it.effect("bad settings are refused at start-up, naming the flag", () =>
    Effect.gen(function* () {
      expect(Result.isFailure(IpamPool.config({ pools: ["fd00::/48"] }))).toBe(true)
      expect(yield* failure(driver({ pools: ["10.0.0.0/16"], poolSize: 8 }))).toBe(
        "--pool: cannot carve /8 pools from 10.0.0.0/16"
      )
      expect(yield* failure(driver({ pools6: ["10.0.0.0/16"] }))).toBe("--pool6: 10.0.0.0/16 is not an IPv6 range")
      // A size no range can hold, or with the ranges left at their default, is the size flag's fault.
      expect(yield* failure(driver({ poolSize: 33 }))).toBe("--pool-size: cannot carve /33 pools from 10.200.0.0/16")
      expect(yield* failure(driver({ pools: ["10.0.0.0/16"], poolSize: 33 }))).toBe(
        "--pool-size: cannot carve /33 pools from 10.0.0.0/16"
      )
      expect(yield* failure(driver({ poolSize: 8 }))).toBe("--pool-size: cannot carve /8 pools from 10.200.0.0/16")
      expect(yield* failure(driver({ pool6Size: 129 }))).toBe(
        "--pool6-size: cannot carve /129 pools from fd8a:7c2e:d0c1::/48"
      )
    })
  )

  it.live("on the file store, a restart keeps every pool and address", () =>
    Effect.gen(function* () {
      const dir = Path.join(base, "restart")
      const onFile = () => built(IpamPool.layer().pipe(Layer.provide(StoreFile.layer(dir))))
      const { PoolID, taken } = yield* Effect.scoped(
        Effect.gen(function* () {
          const d = yield* onFile()
          const { PoolID } = yield* d.requestPool(anyPool())
          const taken = yield* Effect.forEach([1, 2, 3], () =>
            Effect.map(d.requestAddress({ PoolID, Address: "", Options: null }), (r) => r.Address)
          )
          yield* d.releaseAddress({ PoolID, Address: "10.200.0.2" })
          return { PoolID, taken }
        })
      )
      expect(taken).toEqual(["10.200.0.1/24", "10.200.0.2/24", "10.200.0.3/24"])
      yield* Effect.scoped(
        Effect.gen(function* () {
          const d = yield* onFile()
          expect((yield* d.requestPool(anyPool())).Pool).toBe("10.200.1.0/24")
          expect(yield* failure(d.requestAddress({ PoolID, Address: "10.200.0.3", Options: null }))).toContain(
            "already allocated"
          )
          // Serial allocation continues where it stopped: .2 (released) comes after the rest of the pool.
          expect((yield* d.requestAddress({ PoolID, Address: "", Options: null })).Address).toBe("10.200.0.4/24")
        })
      )
    })
  )
})
