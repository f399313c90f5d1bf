// The IPAM driver: each RequestPool gets a pool of its own (the one asked for, unless it overlaps a pool in use, or
// the next free /24 of 10.200.0.0/16, /64 of fd0c:d0c::/48 for IPv6), and addresses come from the kit's allocator
// (network and broadcast kept out, --ip-range honoured, serial allocation). Pools live in memory: a restart of the
// plugin forgets them, so the networks that use it must be recreated (see the README).
import { Ipam } from "@docker-plugin-kit/helpers"
import { DriverError, IpamDriver } from "@docker-plugin-kit/protocol"
import { Effect, Layer, Result } from "effect"

const { AddressPool, PoolCarver, Prefix } = Ipam

/** Where pools come from when the request names none, and their length. */
const automatic = {
  4: { ranges: [Result.getOrThrow(Prefix.parse("10.200.0.0/16"))], length: 24 },
  6: { ranges: [Result.getOrThrow(Prefix.parse("fd0c:d0c::/48"))], length: 64 }
}

const failure = (e: { readonly message: string }) => new DriverError({ message: e.message })

const parsePrefix = (value: string, field: string) =>
  Effect.mapError(Effect.fromResult(Prefix.parse(value)), (e) => new DriverError({ message: `${field}: ${e.message}` }))

/** The driver. */
export const layer = Layer.sync(IpamDriver.IpamDriver, () => {
  // Pools by ID; the ID is the pool's CIDR, unique since pools in use never overlap.
  const pools = new Map<string, Ipam.AddressPool.AddressPool>()
  const poolOf = (PoolID: string) => {
    const pool = pools.get(PoolID)
    return pool === undefined
      ? Effect.fail(new DriverError({ message: `no such pool: ${PoolID}` }))
      : Effect.succeed(pool)
  }
  const inUse = () => [...pools.values()].map((p) => p.prefix)

  return IpamDriver.make({
    getCapabilities: () => Effect.succeed({ RequiresMACAddress: false, RequiresRequestReplay: false }),
    getDefaultAddressSpaces: () =>
      Effect.succeed({ LocalDefaultAddressSpace: "local", GlobalDefaultAddressSpace: "global" }),
    requestPool: ({ Pool, SubPool, V6 }) =>
      Effect.gen(function* () {
        if (Pool === "" && SubPool !== "") {
          return yield* new DriverError({ message: `SubPool ${SubPool} needs a Pool (--ip-range needs --subnet)` })
        }
        const family = V6 ? 6 : 4
        const prefix =
          Pool === ""
            ? yield* Effect.mapError(
                Effect.fromResult(PoolCarver.carve(automatic[family].ranges, automatic[family].length, inUse())),
                failure
              )
            : yield* Effect.flatMap(parsePrefix(Pool, "Pool"), (asked) =>
                Effect.mapError(Effect.fromResult(PoolCarver.claim(asked, inUse())), failure)
              )
        const range = SubPool === "" ? undefined : yield* parsePrefix(SubPool, "SubPool")
        const pool = yield* Effect.mapError(Effect.fromResult(AddressPool.make(prefix, range)), failure)
        const PoolID = Prefix.format(prefix)
        pools.set(PoolID, pool)
        return { PoolID, Pool: PoolID, Data: {} }
      }),
    releasePool: ({ PoolID }) =>
      Effect.map(poolOf(PoolID), () => {
        pools.delete(PoolID)
        return {}
      }),
    requestAddress: ({ PoolID, Address }) =>
      Effect.gen(function* () {
        const pool = yield* poolOf(PoolID)
        // The gateway (Options marks it) and endpoints are allocated alike: the first free address when none is asked.
        const preferred =
          Address === "" ? undefined : yield* Effect.mapError(Effect.fromResult(Prefix.parseAddress(Address)), failure)
        const value = yield* Effect.mapError(Effect.fromResult(AddressPool.allocate(pool, preferred)), failure)
        return { Address: Prefix.formatInterface(pool.prefix, value), Data: {} }
      }),
    releaseAddress: ({ PoolID, Address }) =>
      Effect.gen(function* () {
        const pool = yield* poolOf(PoolID)
        const address = yield* Effect.mapError(Effect.fromResult(Prefix.parseAddress(Address)), failure)
        yield* Effect.mapError(Effect.fromResult(AddressPool.release(pool, address)), failure)
        return {}
      })
  })
})
