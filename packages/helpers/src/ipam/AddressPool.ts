/**
 * One pool of addresses, as libnetwork's default IPAM keeps it: a prefix, an optional sub-range the automatic
 * allocations come from (`--ip-range`), the addresses in use (run-length, `AddressRuns`) and a cursor for serial
 * allocation. Pure: no I/O; a pool is a plain value the caller stores (`encode`/`decode`).
 *
 * Rules:
 * - IPv4 pools of /30 and larger keep their network and broadcast addresses out of use; IPv6 pools of /127 and
 *   larger keep their first address (the subnet-router anycast address, RFC 4291) out of use (a /128 has one).
 * - An address asked for by value (a gateway, an aux address, `docker run --ip`) may be anywhere in the pool;
 *   automatic allocations come from the sub-range when there is one.
 * - Automatic allocation is serial: it continues after the last address it handed out and wraps around, so an
 *   address just released is not given out again before the rest of the range was.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Result from "effect/Result"
import * as AddressRuns from "./AddressRuns.ts"
import * as Prefix from "./Prefix.ts"

/**
 * A sub-range that is not inside its pool.
 *
 * @since 0.1.0
 */
export class RangeOutsidePool extends Data.TaggedError("RangeOutsidePool")<{
  readonly range: string
  readonly pool: string
}> {
  override get message() {
    return `sub-range ${this.range} is not inside pool ${this.pool}`
  }
}

/**
 * An address asked for by value that is not in the pool.
 *
 * @since 0.1.0
 */
export class AddressOutsidePool extends Data.TaggedError("AddressOutsidePool")<{
  readonly address: string
  readonly pool: string
}> {
  override get message() {
    return `address ${this.address} is not in pool ${this.pool}`
  }
}

/**
 * An address the pool never hands out (network, broadcast).
 *
 * @since 0.1.0
 */
export class AddressReserved extends Data.TaggedError("AddressReserved")<{
  readonly address: string
  readonly pool: string
  readonly role: string
}> {
  override get message() {
    return `address ${this.address} is the ${this.role} address of pool ${this.pool} and cannot be allocated`
  }
}

/**
 * An address asked for by value that is already allocated.
 *
 * @since 0.1.0
 */
export class AddressInUse extends Data.TaggedError("AddressInUse")<{
  readonly address: string
  readonly pool: string
}> {
  override get message() {
    return `address ${this.address} is already allocated in pool ${this.pool}`
  }
}

/**
 * No free address left where automatic allocations come from.
 *
 * @since 0.1.0
 */
export class PoolExhausted extends Data.TaggedError("PoolExhausted")<{
  readonly pool: string
  readonly range: string
}> {
  override get message() {
    return this.range === this.pool
      ? `no free address left in pool ${this.pool}`
      : `no free address left in range ${this.range} of pool ${this.pool}`
  }
}

/**
 * Every error of an allocation.
 *
 * @since 0.1.0
 */
export type AllocateError = AddressOutsidePool | AddressReserved | AddressInUse | PoolExhausted

/**
 * A pool.
 *
 * @since 0.1.0
 */
export interface AddressPool {
  readonly prefix: Prefix.Prefix
  /** Where automatic allocations come from (the whole prefix when no sub-range was given). */
  readonly range: Prefix.Prefix
  /** Addresses in use (absolute values). */
  readonly used: AddressRuns.AddressRuns
  /** The last address handed out automatically (serial allocation continues after it). */
  cursor: bigint
}

/**
 * The first and last address a pool may hand out.
 *
 * @since 0.1.0
 */
export const usable = (pool: AddressPool): { readonly first: bigint; readonly last: bigint } => {
  const { prefix } = pool
  const hostBits = Prefix.bitsOf(prefix.family) - prefix.length
  if (prefix.family === 4) {
    return hostBits >= 2
      ? { first: prefix.base + 1n, last: Prefix.last(prefix) - 1n }
      : { first: prefix.base, last: Prefix.last(prefix) }
  }
  return hostBits >= 1
    ? { first: prefix.base + 1n, last: Prefix.last(prefix) }
    : { first: prefix.base, last: prefix.base }
}

/**
 * The first and last address automatic allocations may hand out: the sub-range, less the reserved addresses.
 *
 * @since 0.1.0
 */
export const automaticRange = (pool: AddressPool): { readonly from: bigint; readonly to: bigint } => {
  const { first, last } = usable(pool)
  let from = pool.range.base
  let to = Prefix.last(pool.range)
  if (from < first) from = first
  if (to > last) to = last
  return { from, to }
}

/**
 * A new pool with nothing allocated; `range` must lie in `prefix`.
 *
 * @since 0.1.0
 */
export const make = (prefix: Prefix.Prefix, range?: Prefix.Prefix): Result.Result<AddressPool, RangeOutsidePool> =>
  range !== undefined && !Prefix.covers(prefix, range)
    ? Result.fail(new RangeOutsidePool({ range: Prefix.format(range), pool: Prefix.format(prefix) }))
    : Result.succeed({ prefix, range: range ?? prefix, used: AddressRuns.empty(), cursor: prefix.base - 1n })

/**
 * A copy that can be changed independently.
 *
 * @since 0.1.0
 */
export const clone = (pool: AddressPool): AddressPool => ({ ...pool, used: AddressRuns.clone(pool.used) })

const reservedRole = (pool: AddressPool, value: bigint): string | undefined => {
  const { first, last } = usable(pool)
  if (value < first) return pool.prefix.family === 4 ? "network" : "subnet-router anycast"
  if (value > last) return "broadcast"
  return undefined
}

/** An address of the pool that may be handed out at all: inside, and neither network nor broadcast. */
const checkAssignable = (
  pool: AddressPool,
  address: Prefix.Address
): Result.Result<bigint, AddressOutsidePool | AddressReserved> => {
  const shown = Prefix.formatAddress(address.family, address.value)
  const poolText = Prefix.format(pool.prefix)
  if (!Prefix.contains(pool.prefix, address)) {
    return Result.fail(new AddressOutsidePool({ address: shown, pool: poolText }))
  }
  const role = reservedRole(pool, address.value)
  return role === undefined
    ? Result.succeed(address.value)
    : Result.fail(new AddressReserved({ address: shown, pool: poolText, role }))
}

/**
 * Checks that an address asked for by value can be given (pure).
 *
 * @since 0.1.0
 */
export const checkPreferred = (
  pool: AddressPool,
  address: Prefix.Address
): Result.Result<bigint, AddressOutsidePool | AddressReserved | AddressInUse> =>
  Result.flatMap(checkAssignable(pool, address), (value) =>
    AddressRuns.has(pool.used, value)
      ? Result.fail(
          new AddressInUse({
            address: Prefix.formatAddress(address.family, value),
            pool: Prefix.format(pool.prefix)
          })
        )
      : Result.succeed(value)
  )

/**
 * Allocates an address: `preferred` when given and free, else the next free one of the range (serially).
 * Changes `pool` and answers the address.
 *
 * @since 0.1.0
 */
export const allocate = (pool: AddressPool, preferred?: Prefix.Address): Result.Result<bigint, AllocateError> => {
  if (preferred !== undefined) {
    return Result.map(checkPreferred(pool, preferred), (value) => {
      AddressRuns.add(pool.used, value)
      return value
    })
  }
  const { from, to } = automaticRange(pool)
  const value = AddressRuns.nextFree(pool.used, from, to, pool.cursor)
  if (value === undefined) {
    return Result.fail(new PoolExhausted({ pool: Prefix.format(pool.prefix), range: Prefix.format(pool.range) }))
  }
  AddressRuns.add(pool.used, value)
  pool.cursor = value
  return Result.succeed(value)
}

/**
 * Releases an address of the pool; releasing a free address is a no-op (the daemon may repeat a release), an
 * address outside the pool or reserved is an error.
 *
 * @since 0.1.0
 */
export const release = (
  pool: AddressPool,
  address: Prefix.Address
): Result.Result<void, AddressOutsidePool | AddressReserved> =>
  Result.map(checkAssignable(pool, address), (value) => AddressRuns.remove(pool.used, value))

/**
 * Whether an address is allocated.
 *
 * @since 0.1.0
 */
export const isAllocated = (pool: AddressPool, value: bigint): boolean => AddressRuns.has(pool.used, value)

/**
 * How many addresses are allocated.
 *
 * @since 0.1.0
 */
export const allocatedCount = (pool: AddressPool): bigint =>
  AddressRuns.countIn(pool.used, pool.prefix.base, Prefix.last(pool.prefix))

/**
 * The stored form of a pool.
 *
 * @since 0.1.0
 */
export interface Encoded {
  readonly pool: string
  readonly range: string
  /** Addresses in use, as hexadecimal offsets from the pool's first address (`AddressRuns.encode`). */
  readonly used: string
  /** The cursor as an offset from the pool's first address (`-1` before the first allocation). */
  readonly cursor: string
}

/**
 * Writes a pool as plain strings (JSON-ready).
 *
 * @since 0.1.0
 */
export const encode = (pool: AddressPool): Encoded => ({
  pool: Prefix.format(pool.prefix),
  range: Prefix.format(pool.range),
  used: AddressRuns.encode(pool.used, pool.prefix.base),
  cursor: (pool.cursor - pool.prefix.base).toString()
})

/** Runs that lie in the prefix, or `undefined`. */
const runsIn = (runs: AddressRuns.AddressRuns | undefined, prefix: Prefix.Prefix) =>
  runs !== undefined &&
  (runs.starts.length === 0 ||
    (runs.starts[0]! >= prefix.base && runs.ends[runs.ends.length - 1]! <= Prefix.last(prefix)))
    ? runs
    : undefined

/**
 * Reads what `encode` wrote; `undefined` when any part does not read back. Records written before 0.1.0 kept the
 * runs as absolute addresses: those are read too (unambiguously: for a prefix not at address 0, offsets are below
 * its size and absolute addresses at or above its base, which is a multiple of its size).
 *
 * @since 0.1.0
 */
export const decode = (encoded: Encoded): AddressPool | undefined => {
  const prefix = Prefix.parse(encoded.pool)
  const range = Prefix.parse(encoded.range)
  if (Result.isFailure(prefix) || Result.isFailure(range) || !/^-?\d+$/.test(encoded.cursor)) return undefined
  const used =
    runsIn(AddressRuns.decode(encoded.used, prefix.success.base), prefix.success) ??
    runsIn(AddressRuns.decode(encoded.used), prefix.success)
  if (used === undefined) return undefined
  const made = make(prefix.success, range.success)
  const cursor = BigInt(encoded.cursor)
  if (Result.isFailure(made) || cursor < -1n || cursor >= Prefix.size(prefix.success)) return undefined
  return { ...made.success, used, cursor: prefix.success.base + cursor }
}
