/**
 * Choosing pools in an address space: carving the first free block of a given length out of configured ranges
 * (libnetwork's predefined pools: `10.200.0.0/16` in /24s), and accepting a pool asked for by value unless it
 * overlaps one in use. Pure.
 *
 * The search walks the blocks in use, not the candidates: a candidate that overlaps one jumps past it, so carving a
 * /64 out of a /48 that is nearly full costs as much as the number of pools in use, not 65,536 tries.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Result from "effect/Result"
import * as Prefix from "./Prefix.ts"

/**
 * A pool asked for by value overlaps one in use.
 *
 * @since 0.1.0
 */
export class PoolOverlaps extends Data.TaggedError("PoolOverlaps")<{
  readonly pool: string
  readonly overlapping: string
}> {
  override get message() {
    return `pool ${this.pool} overlaps pool ${this.overlapping}, which is in use`
  }
}

/**
 * Every block of that length in the configured ranges is taken.
 *
 * @since 0.1.0
 */
export class NoFreePool extends Data.TaggedError("NoFreePool")<{
  readonly ranges: ReadonlyArray<string>
  readonly length: number
}> {
  override get message() {
    return this.ranges.length === 0
      ? `no range is configured to carve /${this.length} pools from`
      : `no free /${this.length} pool left in ${this.ranges.join(", ")}`
  }
}

/**
 * A block length that cannot be carved from a range (shorter than the range, or longer than the family allows).
 *
 * @since 0.1.0
 */
export class InvalidPoolLength extends Data.TaggedError("InvalidPoolLength")<{
  readonly range: string
  readonly length: number
}> {
  override get message() {
    return `cannot carve /${this.length} pools from ${this.range}`
  }
}

/**
 * The first pool in use that overlaps `candidate`, if any.
 *
 * @since 0.1.0
 */
export const overlapping = (candidate: Prefix.Prefix, inUse: Iterable<Prefix.Prefix>): Prefix.Prefix | undefined => {
  for (const p of inUse) if (Prefix.overlaps(p, candidate)) return p
  return undefined
}

/**
 * Accepts a pool asked for by value unless it overlaps one in use.
 *
 * @since 0.1.0
 */
export const claim = (
  pool: Prefix.Prefix,
  inUse: Iterable<Prefix.Prefix>
): Result.Result<Prefix.Prefix, PoolOverlaps> => {
  const other = overlapping(pool, inUse)
  return other === undefined
    ? Result.succeed(pool)
    : Result.fail(new PoolOverlaps({ pool: Prefix.format(pool), overlapping: Prefix.format(other) }))
}

/**
 * Checks that blocks of `length` can be carved from `range`.
 *
 * @since 0.1.0
 */
export const checkLength = (range: Prefix.Prefix, length: number): Result.Result<void, InvalidPoolLength> =>
  Number.isInteger(length) && length >= range.length && length <= Prefix.bitsOf(range.family)
    ? Result.void
    : Result.fail(new InvalidPoolLength({ range: Prefix.format(range), length }))

/**
 * The first block of `length` in `ranges` (in order) that overlaps no pool in use.
 *
 * @since 0.1.0
 */
export const carve = (
  ranges: ReadonlyArray<Prefix.Prefix>,
  length: number,
  inUse: ReadonlyArray<Prefix.Prefix>
): Result.Result<Prefix.Prefix, NoFreePool | InvalidPoolLength> => {
  for (const range of ranges) {
    const checked = checkLength(range, length)
    if (Result.isFailure(checked)) return Result.fail(checked.failure)
  }
  for (const range of ranges) {
    const step = Prefix.size({ family: range.family, base: 0n, length })
    const taken = inUse
      .filter((p) => Prefix.overlaps(p, range))
      .map((p) => ({ first: p.base, last: Prefix.last(p) }))
      .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0))
    let base = range.base
    const end = Prefix.last(range)
    for (const t of taken) {
      if (t.first > base + step - 1n) break
      // Overlaps the candidate (or lies before it): the next candidate starts at the first block after it.
      if (t.last >= base) base = range.base + ((t.last - range.base) / step + 1n) * step
    }
    if (base + step - 1n <= end) return Result.succeed({ family: range.family, base, length })
  }
  return Result.fail(new NoFreePool({ ranges: ranges.map(Prefix.format), length }))
}
