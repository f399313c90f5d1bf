/**
 * IP prefixes (CIDR blocks) and addresses as numbers, IPv4 and IPv6 alike. Parsing, formatting and masking are
 * ipaddr.js's; this module only turns an address into its position in the address space (a `bigint`, so a /64 or
 * a /48 costs the same as a /24) and back, which is what an allocator needs to count and compare.
 *
 * @since 0.1.0
 */
import ipaddr from "ipaddr.js"
import * as Data from "effect/Data"
import * as Result from "effect/Result"

/**
 * A string that is not the CIDR block or address it should be.
 *
 * @since 0.1.0
 */
export class InvalidAddress extends Data.TaggedError("InvalidAddress")<{
  readonly value: string
  readonly expected: string
}> {
  override get message() {
    return `"${this.value}" is not ${this.expected}`
  }
}

/**
 * `4` or `6`.
 *
 * @since 0.1.0
 */
export type Family = 4 | 6

/**
 * A prefix: its family, its first address as a number and its length. Always normalised: host bits are zero.
 *
 * @since 0.1.0
 */
export interface Prefix {
  readonly family: Family
  /** The network address as a number. */
  readonly base: bigint
  /** The prefix length (`24` in `10.0.0.0/24`). */
  readonly length: number
}

/**
 * An address with its family.
 *
 * @since 0.1.0
 */
export interface Address {
  readonly family: Family
  readonly value: bigint
}

/**
 * Address bits of a family.
 *
 * @since 0.1.0
 */
export const bitsOf = (family: Family): number => (family === 4 ? 32 : 128)

const familyOf = (ip: ipaddr.IPv4 | ipaddr.IPv6): Family => (ip.kind() === "ipv4" ? 4 : 6)

const toNumber = (ip: ipaddr.IPv4 | ipaddr.IPv6): bigint =>
  ip.toByteArray().reduce((n, byte) => n * 256n + BigInt(byte), 0n)

const fromNumber = (family: Family, value: bigint): ipaddr.IPv4 | ipaddr.IPv6 => {
  const bytes = new Array<number>(bitsOf(family) / 8)
  let rest = value
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = Number(rest % 256n)
    rest /= 256n
  }
  return ipaddr.fromByteArray(bytes)
}

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`) stays IPv6: Go's net.ParseCIDR treats it as IPv4, but nobody pools those. */
const parseIp = (value: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined =>
  ipaddr.isValid(value) && (ipaddr.IPv4.isValidFourPartDecimal(value) || ipaddr.IPv6.isValid(value))
    ? ipaddr.parse(value)
    : undefined

/**
 * Parses a CIDR block (`10.0.0.0/24`, `fd00::/64`); host bits are cleared (`10.0.0.5/24` is `10.0.0.0/24`).
 *
 * @since 0.1.0
 */
export const parse = (value: string): Result.Result<Prefix, InvalidAddress> => {
  const slash = value.indexOf("/")
  const ip = slash < 0 ? undefined : parseIp(value.slice(0, slash))
  if (ip === undefined || !/^\d{1,3}$/.test(value.slice(slash + 1)) || !ipaddr.isValidCIDR(value)) {
    return Result.fail(new InvalidAddress({ value, expected: "a CIDR block such as 10.0.0.0/24 or fd00::/64" }))
  }
  const length = ipaddr.parseCIDR(value)[1]
  const network =
    ip.kind() === "ipv4" ? ipaddr.IPv4.networkAddressFromCIDR(value) : ipaddr.IPv6.networkAddressFromCIDR(value)
  return Result.succeed({ family: familyOf(ip), base: toNumber(network), length })
}

/**
 * Parses a plain address (no prefix length).
 *
 * @since 0.1.0
 */
export const parseAddress = (value: string): Result.Result<Address, InvalidAddress> => {
  const ip = parseIp(value)
  return ip === undefined
    ? Result.fail(new InvalidAddress({ value, expected: "an IP address such as 10.0.0.1 or fd00::1" }))
    : Result.succeed({ family: familyOf(ip), value: toNumber(ip) })
}

/**
 * Writes an address as Go's `net.IP.String` does (dotted quad; RFC 5952 for IPv6).
 *
 * @since 0.1.0
 */
export const formatAddress = (family: Family, value: bigint): string => {
  const ip = fromNumber(family, value)
  return ip.kind() === "ipv6" ? (ip as ipaddr.IPv6).toRFC5952String() : ip.toString()
}

/**
 * Writes a prefix as `network/length`.
 *
 * @since 0.1.0
 */
export const format = (prefix: Prefix): string => `${formatAddress(prefix.family, prefix.base)}/${prefix.length}`

/**
 * Writes an address of a prefix with the prefix's length (`10.0.0.7/24`), the form IPAM answers in.
 *
 * @since 0.1.0
 */
export const formatInterface = (prefix: Prefix, value: bigint): string =>
  `${formatAddress(prefix.family, value)}/${prefix.length}`

/**
 * How many addresses a prefix holds.
 *
 * @since 0.1.0
 */
export const size = (prefix: Prefix): bigint => 2n ** BigInt(bitsOf(prefix.family) - prefix.length)

/**
 * The last address of a prefix.
 *
 * @since 0.1.0
 */
export const last = (prefix: Prefix): bigint => prefix.base + size(prefix) - 1n

/**
 * Whether an address lies in a prefix.
 *
 * @since 0.1.0
 */
export const contains = (prefix: Prefix, address: Address): boolean =>
  address.family === prefix.family && address.value >= prefix.base && address.value <= last(prefix)

/**
 * Whether `inner` lies wholly in `outer`.
 *
 * @since 0.1.0
 */
export const covers = (outer: Prefix, inner: Prefix): boolean =>
  outer.family === inner.family &&
  outer.length <= inner.length &&
  inner.base >= outer.base &&
  last(inner) <= last(outer)

/**
 * Whether two prefixes share an address (for prefixes: one holds the other).
 *
 * @since 0.1.0
 */
export const overlaps = (a: Prefix, b: Prefix): boolean => covers(a, b) || covers(b, a)
