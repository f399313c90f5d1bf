/**
 * `dpk serve volume-memory`.
 *
 * @since 0.1.0
 */
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import * as Flag from "effect/cli/Flag"
import * as ServeFlags from "../ServeFlags.ts"

/**
 * The command.
 *
 * @since 0.1.0
 */
export const command = ServeFlags.command(
  "volume-memory",
  "An in-memory VolumeDriver (volumes vanish when the process exits)",
  {
    mountRoot: Flag.String("mount-root").pipe(
      Flag.withDescription("Prefix of the reported mountpoints"),
      Flag.withDefault("/run/docker-plugin-kit/memory")
    )
  },
  ({ mountRoot }) => VolumeMemory.layer({ mountRoot })
)
