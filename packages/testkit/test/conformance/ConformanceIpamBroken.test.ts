/**
 * The IpamDriver suite against ipam-pool drivers broken one way each, to show that each defect fails a check.
 */
import { IpamPool, Store, StoreMemory } from "@docker-plugin-kit/drivers"
import { IpamDriver } from "@docker-plugin-kit/protocol"
import { Conformance, ConformanceIpam, ConformanceSuites } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"

const isGateway = (options: IpamDriver.RequestAddressRequest["Options"]) =>
  options?.[IpamDriver.Labels.RequestAddressType] === IpamDriver.Labels.Gateway

/** The first host of an IPv4 pool, with the pool's prefix. */
const firstHost = (pool: string) => {
  const [net = "", len = ""] = pool.split("/")
  const o = net.split(".").map(Number)
  return `${o[0]}.${o[1]}.${o[2]}.${(o[3] ?? 0) + 1}/${len}`
}

/** ipam-pool (memory store) with some methods replaced (each replacement gets the original driver). */
const broken = (patch: (driver: IpamDriver.Driver, pools: Map<string, string>) => Partial<IpamDriver.Driver>) =>
  Layer.effect(
    IpamDriver.IpamDriver,
    Effect.map(IpamPool.make(), (driver) => {
      const pools = new Map<string, string>()
      const tracked: IpamDriver.Driver = {
        ...driver,
        requestPool: (r) =>
          Effect.tap(driver.requestPool(r), (a) => Effect.sync(() => void pools.set(a.PoolID, a.Pool)))
      }
      return { ...tracked, ...patch(tracked, pools) }
    })
  ).pipe(Layer.provide(Layer.sync(Store.Store, () => StoreMemory.make().service)))

const failures = (report: Conformance.Report) =>
  Object.fromEntries(report.outcomes.filter((o) => o.status === "fail").map((o) => [o.check, o.reason]))

const reportOf = <E>(layer: Layer.Layer<IpamDriver.IpamDriver, E>) =>
  Effect.flatMap(ConformanceSuites.inProcess(layer), (client) => Conformance.run(ConformanceIpam.suite, client))

describe("ConformanceIpam against broken drivers", () => {
  it.live("ipam-pool passes", () =>
    Effect.gen(function* () {
      expect(failures(yield* reportOf(broken(() => ({}))))).toEqual({})
    })
  )

  it.live("a gateway by convention: answered to the gateway request, never held, so docker run --ip gets it too", () =>
    Effect.gen(function* () {
      const report = yield* reportOf(
        broken((d, pools) => ({
          requestAddress: (r) =>
            Effect.gen(function* () {
              const gateway = firstHost(pools.get(r.PoolID) ?? "0.0.0.0/0")
              if (isGateway(r.Options)) return { Address: gateway }
              // "Any address" skips the gateway; an address by value is not checked against it.
              const got = yield* d.requestAddress(r)
              if (r.Address !== "" || got.Address !== gateway) return got
              const next = yield* d.requestAddress(r)
              yield* d.releaseAddress({ PoolID: r.PoolID, Address: gateway.split("/")[0]! })
              return next
            })
        }))
      )
      const failed = failures(report)
      // It answers the first host to every gateway request, to one naming another address (--gateway) too.
      expect(Object.keys(failed)).toEqual([
        "RequestAddress of the gateway by value (--gateway) answers that address, and holds it",
        "RequestAddress of an address already held fails cleanly"
      ])
      expect(failed["RequestAddress of an address already held fails cleanly"]).toMatch(
        /^RequestAddress of the gateway (\S+) \(docker run --ip\) should fail with a non-empty Error, but answered: \{"Address":"\1","Data":\{\}\}$/
      )
    })
  )

  it.live("a gateway named in RequestPool's Data that the driver then hands out to a container", () =>
    Effect.gen(function* () {
      const report = yield* reportOf(
        broken((d) => ({
          requestPool: (r) =>
            Effect.map(d.requestPool(r), (a) => ({
              ...a,
              Data: { ...a.Data, [IpamDriver.Labels.Gateway]: firstHost(a.Pool) }
            }))
        }))
      )
      const failed = failures(report)
      expect(Object.keys(failed)).toEqual([
        "A gateway named in RequestPool's Data is a CIDR in the pool, and no RequestAddress hands it out"
      ])
      expect(Object.values(failed)[0]).toMatch(/^RequestAddress handed out (\S+), the gateway named in Data$/)
    })
  )

  it.live("a gateway asked for by value (--gateway) answered with the first free address instead", () =>
    Effect.gen(function* () {
      const report = yield* reportOf(
        broken((d) => ({
          requestAddress: (r) => d.requestAddress(isGateway(r.Options) ? { ...r, Address: "" } : r)
        }))
      )
      const failed = failures(report)
      expect(Object.keys(failed)).toEqual([
        "RequestAddress of the gateway by value (--gateway) answers that address, and holds it"
      ])
      expect(Object.values(failed)[0]).toMatch(/^asked for the gateway (\d+\.\d+\.\d+)\.254, got \1\.1\/24$/)
    })
  )
})
