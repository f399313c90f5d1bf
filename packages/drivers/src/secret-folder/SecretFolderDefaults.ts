/**
 * The defaults of `secret-folder`, in a module of their own so that the CLI can show them without loading the driver.
 *
 * @since 0.1.0
 */

/**
 * Default folder the secrets are read from.
 *
 * @since 0.1.0
 */
export const defaultRoot = "/var/lib/docker-plugin-kit/secrets"
