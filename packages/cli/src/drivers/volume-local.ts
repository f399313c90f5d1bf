/**
 * `dpk serve volume-local`.
 *
 * @since 0.1.0
 */
import { VolumeLocal } from "@docker-plugin-kit/drivers"
import { Flag } from "effect/cli"
import * as ServeFlags from "../ServeFlags.ts"

/**
 * The command.
 *
 * @since 0.1.0
 */
export const command = ServeFlags.command(
  "volume-local",
  "A VolumeDriver keeping each volume in a folder, its metadata in crash-safe state files",
  {
    root: Flag.String("root").pipe(
      Flag.withDescription("Folder holding one sub-folder per volume"),
      Flag.withDefault(VolumeLocal.defaultRoot)
    ),
    stateDir: Flag.String("state-dir").pipe(
      Flag.withDescription("Folder holding the state files"),
      Flag.withDefault(VolumeLocal.defaultStateDir)
    )
  },
  ({ root, stateDir }) => VolumeLocal.layerNode({ root, stateDir })
)
