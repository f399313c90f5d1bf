/**
 * A set of allocated positions kept as sorted runs (`[start, end]`, inclusive, never touching): a run-length
 * bitmap, as libnetwork's `bitseq`. A pool filled in order is one run whatever its size, so looking up, adding,
 * removing and finding the next free position cost a binary search over runs, never a scan of addresses, and an
 * IPv6 /64 is as cheap as a /30.
 *
 * @since 0.1.0
 */

/**
 * The runs; mutable, owned by one pool (copy with `clone`).
 *
 * @since 0.1.0
 */
export interface AddressRuns {
  readonly starts: Array<bigint>
  readonly ends: Array<bigint>
}

/**
 * An empty set.
 *
 * @since 0.1.0
 */
export const empty = (): AddressRuns => ({ starts: [], ends: [] })

/**
 * A copy that can be changed independently.
 *
 * @since 0.1.0
 */
export const clone = (runs: AddressRuns): AddressRuns => ({ starts: [...runs.starts], ends: [...runs.ends] })

/** Index of the last run starting at or before `x`, or -1. */
const runAtOrBefore = (runs: AddressRuns, x: bigint): number => {
  let lo = 0
  let hi = runs.starts.length - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (runs.starts[mid]! <= x) {
      found = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  return found
}

/**
 * Whether `x` is in the set.
 *
 * @since 0.1.0
 */
export const has = (runs: AddressRuns, x: bigint): boolean => {
  const i = runAtOrBefore(runs, x)
  return i >= 0 && runs.ends[i]! >= x
}

/**
 * Adds `x` (no-op when present), merging it with the runs it touches.
 *
 * @since 0.1.0
 */
export const add = (runs: AddressRuns, x: bigint): void => {
  const i = runAtOrBefore(runs, x)
  if (i >= 0 && runs.ends[i]! >= x) return
  const joinsLeft = i >= 0 && runs.ends[i]! === x - 1n
  const joinsRight = i + 1 < runs.starts.length && runs.starts[i + 1]! === x + 1n
  if (joinsLeft && joinsRight) {
    runs.ends[i] = runs.ends[i + 1]!
    runs.starts.splice(i + 1, 1)
    runs.ends.splice(i + 1, 1)
  } else if (joinsLeft) runs.ends[i] = x
  else if (joinsRight) runs.starts[i + 1] = x
  else {
    runs.starts.splice(i + 1, 0, x)
    runs.ends.splice(i + 1, 0, x)
  }
}

/**
 * Removes `x` (no-op when absent), splitting its run if needed.
 *
 * @since 0.1.0
 */
export const remove = (runs: AddressRuns, x: bigint): void => {
  const i = runAtOrBefore(runs, x)
  if (i < 0 || runs.ends[i]! < x) return
  const start = runs.starts[i]!
  const end = runs.ends[i]!
  if (start === end) {
    runs.starts.splice(i, 1)
    runs.ends.splice(i, 1)
  } else if (x === start) runs.starts[i] = x + 1n
  else if (x === end) runs.ends[i] = x - 1n
  else {
    runs.ends[i] = x - 1n
    runs.starts.splice(i + 1, 0, x + 1n)
    runs.ends.splice(i + 1, 0, end)
  }
}

/**
 * The first position not in the set in `[from, to]`, or `undefined`. Runs never touch, so the position after a
 * run is free: one lookup answers.
 *
 * @since 0.1.0
 */
export const firstFree = (runs: AddressRuns, from: bigint, to: bigint): bigint | undefined => {
  if (from > to) return undefined
  const i = runAtOrBefore(runs, from)
  const candidate = i >= 0 && runs.ends[i]! >= from ? runs.ends[i]! + 1n : from
  return candidate <= to ? candidate : undefined
}

/**
 * The next free position after `cursor` in `[from, to]`, wrapping around to `from`: serial allocation, so a
 * position just freed is handed out again only after every other free position was.
 *
 * @since 0.1.0
 */
export const nextFree = (runs: AddressRuns, from: bigint, to: bigint, cursor: bigint): bigint | undefined => {
  const after = cursor + 1n > from ? cursor + 1n : from
  return firstFree(runs, after, to) ?? firstFree(runs, from, after - 1n < to ? after - 1n : to)
}

/**
 * How many positions the set holds in `[from, to]`.
 *
 * @since 0.1.0
 */
export const countIn = (runs: AddressRuns, from: bigint, to: bigint): bigint => {
  let n = 0n
  for (let i = 0; i < runs.starts.length; i++) {
    const start = runs.starts[i]! > from ? runs.starts[i]! : from
    const end = runs.ends[i]! < to ? runs.ends[i]! : to
    if (end >= start) n += end - start + 1n
  }
  return n
}

/**
 * Writes the runs compactly (`"0-ff,101"`: hexadecimal, a single position without its end), as offsets from
 * `origin` (a pool's first address), so an IPv6 pool's runs are as short as an IPv4 one's.
 *
 * @since 0.1.0
 */
export const encode = (runs: AddressRuns, origin = 0n): string =>
  runs.starts
    .map((s, i) => {
      const start = (s - origin).toString(16)
      return s === runs.ends[i] ? start : `${start}-${(runs.ends[i]! - origin).toString(16)}`
    })
    .join(",")

/**
 * Reads what `encode` wrote (with the same `origin`); `undefined` when it is not sorted, touching or well-formed.
 *
 * @since 0.1.0
 */
export const decode = (text: string, origin = 0n): AddressRuns | undefined => {
  const runs = empty()
  if (text === "") return runs
  for (const part of text.split(",")) {
    const match = /^([0-9a-f]+)(?:-([0-9a-f]+))?$/.exec(part)
    if (match === null) return undefined
    const start = origin + BigInt(`0x${match[1]}`)
    const end = match[2] === undefined ? start : origin + BigInt(`0x${match[2]}`)
    const previous = runs.ends[runs.ends.length - 1]
    if (end < start || (previous !== undefined && start <= previous + 1n)) return undefined
    runs.starts.push(start)
    runs.ends.push(end)
  }
  return runs
}
