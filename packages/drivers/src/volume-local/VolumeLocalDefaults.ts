/**
 * The defaults of `volume-local`, in a module of their own so that the CLI can show them without loading the driver.
 *
 * @since 0.1.0
 */

/**
 * Default folder holding one sub-folder per volume.
 *
 * @since 0.1.0
 */
export const defaultRoot = "/var/lib/docker-plugin-kit/volumes"

/**
 * Default folder holding the state files.
 *
 * @since 0.1.0
 */
export const defaultStateDir = "/var/lib/docker-plugin-kit/state"
