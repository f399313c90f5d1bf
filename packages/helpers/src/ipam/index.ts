/**
 * IPAM: what an IpamDriver plugin needs to hand out pools and addresses the way Docker's built-in IPAM does.
 * Pure (no I/O); the caller stores pools where it likes (`AddressPool.encode`).
 *
 * @since 0.1.0
 */

/**
 * CIDR blocks and addresses (ipaddr.js), IPv4 and IPv6, as numbers.
 *
 * @since 0.1.0
 */
export * as Prefix from "./Prefix.ts"

/**
 * A run-length set of allocated positions.
 *
 * @since 0.1.0
 */
export * as AddressRuns from "./AddressRuns.ts"

/**
 * One pool: reserved addresses, sub-range, preferred addresses, serial allocation, release.
 *
 * @since 0.1.0
 */
export * as AddressPool from "./AddressPool.ts"

/**
 * Carving pools out of configured ranges; pools asked for by value unless they overlap.
 *
 * @since 0.1.0
 */
export * as PoolCarver from "./PoolCarver.ts"
