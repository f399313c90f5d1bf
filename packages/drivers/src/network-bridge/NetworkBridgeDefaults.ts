/**
 * The defaults of `network-bridge`, in a module of their own so that the CLI can show them without loading the driver.
 *
 * @since 0.1.0
 */

/**
 * Default folder holding the state files.
 *
 * @since 0.1.0
 */
export const defaultStateDir = "/var/lib/docker-plugin-kit/network-bridge"
