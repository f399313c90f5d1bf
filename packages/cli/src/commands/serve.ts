/**
 * `dpk serve DRIVER`: serve a reference driver.
 *
 * @since 0.1.0
 */
import * as Command from "effect/cli/Command"
import * as VolumeLocal from "../drivers/volume-local.ts"
import * as VolumeMemory from "../drivers/volume-memory.ts"

/**
 * The command; one subcommand per reference driver.
 *
 * @since 0.1.0
 */
export const command = Command.make("serve").pipe(
  Command.withDescription("Serve a reference plugin until SIGINT/SIGTERM"),
  Command.withSubcommands([VolumeMemory.command, VolumeLocal.command])
)
