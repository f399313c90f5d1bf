/**
 * The `dpk` command line, as a library.
 *
 * @since 0.1.0
 */
export * as Cli from "./Cli.ts"
export * as ServeFlags from "./ServeFlags.ts"
