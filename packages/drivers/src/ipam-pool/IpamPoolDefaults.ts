/**
 * The defaults of `ipam-pool`, in a module of their own so that the CLI can show them without loading the driver.
 *
 * @since 0.1.0
 */

/**
 * Default IPv4 range pools are carved from.
 *
 * @since 0.1.0
 */
export const defaultPool = "10.200.0.0/16"

/**
 * Default length of the IPv4 pools carved.
 *
 * @since 0.1.0
 */
export const defaultPoolSize = 24

/**
 * Default IPv6 range (a unique local /48, RFC 4193) pools are carved from.
 *
 * @since 0.1.0
 */
export const defaultPool6 = "fd8a:7c2e:d0c1::/48"

/**
 * Default length of the IPv6 pools carved.
 *
 * @since 0.1.0
 */
export const defaultPool6Size = 64

/**
 * Default folder of the file store.
 *
 * @since 0.1.0
 */
export const defaultStateDir = "/var/lib/docker-plugin-kit/ipam"
