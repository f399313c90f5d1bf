/**
 * The `dpk` command line.
 *
 * @since 0.1.0
 */
import * as Command from "effect/cli/Command"
import * as Discover from "./commands/discover.ts"
import * as Probe from "./commands/probe.ts"
import * as Schema from "./commands/schema.ts"
import * as Serve from "./commands/serve.ts"

/**
 * The root command.
 *
 * @since 0.1.0
 */
export const root = Command.make("dpk").pipe(
  Command.withDescription("docker-plugin-kit: write, serve, test and ship Docker Engine plugins"),
  Command.withSubcommands([Serve.command, Schema.command, Discover.command, Probe.command])
)

/**
 * Runs the command line on `process.argv`.
 *
 * @since 0.1.0
 */
export const run = Command.run(root, { version: "0.1.0" })
