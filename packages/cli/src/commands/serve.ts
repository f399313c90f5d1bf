/**
 * `dpk serve DRIVER`: serve a reference driver; one subcommand per driver descriptor.
 *
 * @since 0.1.0
 */
import { Descriptors } from "@docker-plugin-kit/drivers"
import * as Command from "effect/cli/Command"
import * as ServeFlags from "../ServeFlags.ts"

const drivers = Descriptors.all.map((d) => ServeFlags.command(d.name, d.description, d.flags, d.layer))

/**
 * The command; one subcommand per reference driver.
 *
 * @since 0.1.0
 */
export const command = Command.make("serve").pipe(
  Command.withDescription("Serve a reference plugin until SIGINT/SIGTERM"),
  // The registry is never empty; the tuple type is what withSubcommands asks for.
  Command.withSubcommands(drivers as [(typeof drivers)[number], ...typeof drivers])
)
