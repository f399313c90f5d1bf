/**
 * The defaults of `log-file`, in a module of their own so that the CLI can show them without loading the driver.
 *
 * @since 0.1.0
 */

/**
 * Default folder of the log files.
 *
 * @since 0.1.0
 */
export const defaultDir = "/var/lib/docker-plugin-kit/logs"
