/**
 * The rules of `ipam-pool`, pure: each IPAM call is a function from the stored records it reads to an answer and
 * the records to write (a `Store.Decision`). The driver runs them inside `Store.update`, so the same rules hold
 * for one process on a file and for many hosts on one etcd.
 *
 * Records (JSON values in the store):
 * - `ipam/spaces/<space>`: the pools in use in an address space (`{"pools":{"<PoolID>":"<CIDR>"}}`), read by every
 *   RequestPool, so two hosts can never both take overlapping pools;
 * - `ipam/pools/<PoolID>`: one pool, its sub-range, the addresses in use and the serial cursor, read by the
 *   address calls of that pool only, so pools do not contend with each other.
 *
 * @since 0.1.0
 */
import { Ipam } from "@docker-plugin-kit/helpers"
import { IpamDriver } from "@docker-plugin-kit/protocol"
import * as Data from "effect/Data"
import * as Result from "effect/Result"
import type { Decision } from "../store/Store.ts"

const { AddressPool, PoolCarver, Prefix } = Ipam

/**
 * A call that cannot be answered; the message says what was asked and why it failed (the daemon shows it).
 *
 * @since 0.1.0
 */
export class IpamError extends Data.TaggedError("IpamError")<{
  readonly request: string
  readonly reason: string
}> {
  override get message() {
    return `${this.request}: ${this.reason}`
  }
}

/**
 * What the driver hands out.
 *
 * @since 0.1.0
 */
export interface Config {
  /** IPv4 ranges pools are carved from, in order. */
  readonly pools4: ReadonlyArray<Ipam.Prefix.Prefix>
  /** Length of the IPv4 pools carved (24: /24s). */
  readonly size4: number
  readonly pools6: ReadonlyArray<Ipam.Prefix.Prefix>
  readonly size6: number
}

/**
 * The address spaces (`GetDefaultAddressSpaces`): local-scope networks use the first, swarm-scope ones the second.
 *
 * @since 0.1.0
 */
export const spaces = { local: "local", global: "global" } as const

/**
 * The store key of an address space.
 *
 * @since 0.1.0
 */
export const spaceKey = (space: string): string => `ipam/spaces/${space}`

/**
 * The store key of a pool.
 *
 * @since 0.1.0
 */
export const poolKey = (poolId: string): string => `ipam/pools/${poolId}`

/**
 * The pool ID for a pool of a space: readable in logs and `docker network inspect` (`local/10.200.3.0/24`).
 *
 * @since 0.1.0
 */
export const poolIdOf = (space: string, pool: Ipam.Prefix.Prefix): string => `${space}/${Prefix.format(pool)}`

interface SpaceRecord {
  readonly pools: Readonly<Record<string, string>>
}

interface PoolRecord {
  readonly space: string
  readonly options: Readonly<Record<string, string>>
  readonly allocation: Ipam.AddressPool.Encoded
}

const corrupt = (request: string, key: string, advice: string) =>
  new IpamError({ request, reason: `the stored record ${key} is unreadable; ${advice}` })

const readSpace = (request: string, space: string, text: string | undefined) => {
  if (text === undefined) return Result.succeed<SpaceRecord>({ pools: {} })
  try {
    const parsed = JSON.parse(text) as SpaceRecord
    // Every pool must read back: one skipped would be carved again, and its record (its addresses) overwritten.
    const pools: unknown = parsed?.pools
    if (
      typeof pools === "object" &&
      pools !== null &&
      !Array.isArray(pools) &&
      Object.values(pools).every((cidr) => typeof cidr === "string" && Result.isSuccess(Prefix.parse(cidr)))
    ) {
      return Result.succeed(parsed)
    }
  } catch {
    // Reported below.
  }
  // Not "or remove it": without the record its pools, still in use, would be carved again, their records overwritten.
  return Result.fail(corrupt(request, spaceKey(space), "fix it (removing it would free pools still in use)"))
}

const readPool = (request: string, poolId: string, text: string | undefined) => {
  if (text === undefined) {
    return Result.fail(
      new IpamError({ request, reason: `no pool with ID "${poolId}" (never requested from this driver, or released)` })
    )
  }
  try {
    const record = JSON.parse(text) as PoolRecord
    const pool = AddressPool.decode(record.allocation)
    if (pool !== undefined) return Result.succeed({ record, pool })
  } catch {
    // Reported below.
  }
  return Result.fail(
    corrupt(
      request,
      poolKey(poolId),
      "fix or remove it (no address of this pool is served meanwhile; ReleasePool frees it either way)"
    )
  )
}

const encodePool = (record: Omit<PoolRecord, "allocation">, pool: Ipam.AddressPool.AddressPool): string =>
  JSON.stringify({ ...record, allocation: AddressPool.encode(pool) } satisfies PoolRecord)

const parseOr = <A>(request: string, result: Result.Result<A, { message: string }>) =>
  Result.mapError(result, (e) => new IpamError({ request, reason: e.message }))

/**
 * Describes a RequestPool for messages.
 *
 * @since 0.1.0
 */
export const describePoolRequest = (r: IpamDriver.RequestPoolRequest): string =>
  `RequestPool ${r.Pool === "" ? `(any ${r.V6 ? "IPv6" : "IPv4"} pool)` : r.Pool}${r.SubPool === "" ? "" : ` range ${r.SubPool}`} in address space "${r.AddressSpace}"`

/**
 * The prefix of a `Pool` whose address is unspecified (`0.0.0.0/24`, `::/64`): Engine 29 sends that for `--subnet
 * 0.0.0.0/24`, asking for any free pool of that length (`/0`: of the configured length), as its own IPAM reads it.
 *
 * @since 0.1.0
 */
export const sizeOnly = (pool: string): Ipam.Prefix.Prefix | undefined => {
  const address = Prefix.parseAddress(pool.slice(0, pool.indexOf("/")))
  const prefix = Prefix.parse(pool)
  return Result.isSuccess(address) && address.success.value === 0n && Result.isSuccess(prefix)
    ? prefix.success
    : undefined
}

/**
 * RequestPool: reads the space record; the decision writes the space record and the new pool.
 *
 * @since 0.1.0
 */
export const requestPool =
  (config: Config, r: IpamDriver.RequestPoolRequest) =>
  (
    values: ReadonlyMap<string, string | undefined>
  ): Result.Result<Decision<IpamDriver.RequestPoolResponse>, IpamError> => {
    const request = describePoolRequest(r)
    const fail = (reason: string) => Result.fail(new IpamError({ request, reason }))
    if (r.AddressSpace !== spaces.local && r.AddressSpace !== spaces.global) {
      return fail(`unknown address space (this driver serves "${spaces.local}" and "${spaces.global}")`)
    }
    const sized = sizeOnly(r.Pool)
    if ((r.Pool === "" || sized !== undefined) && r.SubPool !== "") {
      return fail("a sub-range (--ip-range) needs a subnet (--subnet)")
    }
    const options = r.Options ?? {}
    if (Object.hasOwn(options, IpamDriver.Labels.Gateway)) {
      return fail(
        `IPAM option ${IpamDriver.Labels.Gateway}=${options[IpamDriver.Labels.Gateway]} is not supported (the daemon would use it as the gateway without reserving it, and hand it to a container too): give the gateway with --gateway`
      )
    }
    return Result.gen(function* () {
      const space = yield* readSpace(request, r.AddressSpace, values.get(spaceKey(r.AddressSpace)))
      const family = r.V6 ? 6 : 4
      const inUse = Object.values(space.pools).flatMap((cidr) => {
        const p = Prefix.parse(cidr)
        return Result.isSuccess(p) ? [p.success] : []
      })
      let prefix: Ipam.Prefix.Prefix
      if (r.Pool === "" || sized !== undefined) {
        if (sized !== undefined && sized.family !== family) {
          return yield* fail(`${r.Pool} is an IPv${sized.family} subnet but V6 is ${r.V6}`)
        }
        const configured = family === 4 ? config.pools4 : config.pools6
        const size =
          sized === undefined || sized.length === 0 ? (family === 4 ? config.size4 : config.size6) : sized.length
        // A length asked for is carved from the ranges that can hold it (as the engine's IPAM does); none: an error.
        const fitting = configured.filter((range) => Result.isSuccess(PoolCarver.checkLength(range, size)))
        prefix = yield* parseOr(request, PoolCarver.carve(fitting.length > 0 ? fitting : configured, size, inUse))
      } else {
        prefix = yield* parseOr(request, Prefix.parse(r.Pool))
        if (prefix.family !== family) {
          return yield* fail(`${r.Pool} is an IPv${prefix.family} subnet but V6 is ${r.V6}`)
        }
        yield* parseOr(request, PoolCarver.claim(prefix, inUse))
      }
      const range = r.SubPool === "" ? undefined : yield* parseOr(request, Prefix.parse(r.SubPool))
      const pool = yield* parseOr(request, AddressPool.make(prefix, range))
      const poolId = poolIdOf(r.AddressSpace, prefix)
      return {
        result: { PoolID: poolId, Pool: Prefix.format(prefix), Data: { ...options } },
        writes: {
          [spaceKey(r.AddressSpace)]: JSON.stringify({
            pools: { ...space.pools, [poolId]: Prefix.format(prefix) }
          } satisfies SpaceRecord),
          [poolKey(poolId)]: encodePool({ space: r.AddressSpace, options }, pool)
        }
      }
    })
  }

/**
 * The space a pool ID belongs to (the part before the first `/`), for the keys ReleasePool reads.
 *
 * @since 0.1.0
 */
export const spaceOfPoolId = (poolId: string): string => poolId.slice(0, Math.max(0, poolId.indexOf("/")))

/**
 * ReleasePool: reads the pool and its space; deletes the pool with every address still held in it (the daemon
 * releases a pool only once it is done with the network, e.g. on a rollback where endpoint addresses may remain;
 * refusing would leak the pool, since the daemon only logs the error). For the same reason a pool the space lists
 * is released even when its own record is unreadable or was removed by hand: refused, it would stay in use forever.
 *
 * @since 0.1.0
 */
export const releasePool =
  (poolId: string) =>
  (values: ReadonlyMap<string, string | undefined>): Result.Result<Decision<{}>, IpamError> => {
    const request = `ReleasePool ${poolId}`
    const space = spaceOfPoolId(poolId)
    return Result.gen(function* () {
      const read = readPool(request, poolId, values.get(poolKey(poolId)))
      const record = yield* readSpace(request, space, values.get(spaceKey(space)))
      if (Result.isFailure(read) && !Object.hasOwn(record.pools, poolId)) return yield* Result.fail(read.failure)
      const { [poolId]: _released, ...pools } = record.pools
      return { result: {}, writes: { [poolKey(poolId)]: undefined, [spaceKey(space)]: JSON.stringify({ pools }) } }
    })
  }

/**
 * RequestAddress: reads the pool; writes it back with the address taken. A gateway request is an ordinary request
 * (as in Docker's own IPAM: the first free address of the range, or the one asked for).
 *
 * @since 0.1.0
 */
export const requestAddress =
  (r: IpamDriver.RequestAddressRequest) =>
  (
    values: ReadonlyMap<string, string | undefined>
  ): Result.Result<Decision<IpamDriver.RequestAddressResponse>, IpamError> => {
    const isGateway = r.Options?.[IpamDriver.Labels.RequestAddressType] === IpamDriver.Labels.Gateway
    const what = `${isGateway ? "gateway " : ""}${r.Address === "" ? "any address" : r.Address}`
    const request = `RequestAddress ${what} from pool ${r.PoolID}`
    return Result.gen(function* () {
      const { record, pool } = yield* readPool(request, r.PoolID, values.get(poolKey(r.PoolID)))
      const preferred = r.Address === "" ? undefined : yield* parseOr(request, Prefix.parseAddress(r.Address))
      const value = yield* parseOr(request, AddressPool.allocate(pool, preferred))
      return {
        result: { Address: Prefix.formatInterface(pool.prefix, value), Data: {} },
        writes: { [poolKey(r.PoolID)]: encodePool(record, pool) }
      }
    })
  }

/**
 * ReleaseAddress: reads the pool; writes it back without the address (a free address stays free).
 *
 * @since 0.1.0
 */
export const releaseAddress =
  (r: IpamDriver.ReleaseAddressRequest) =>
  (values: ReadonlyMap<string, string | undefined>): Result.Result<Decision<{}>, IpamError> => {
    const request = `ReleaseAddress ${r.Address} from pool ${r.PoolID}`
    return Result.gen(function* () {
      const { record, pool } = yield* readPool(request, r.PoolID, values.get(poolKey(r.PoolID)))
      const address = yield* parseOr(request, Prefix.parseAddress(r.Address))
      yield* parseOr(request, AddressPool.release(pool, address))
      return { result: {}, writes: { [poolKey(r.PoolID)]: encodePool(record, pool) } }
    })
  }
