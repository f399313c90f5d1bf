/**
 * `dpk serve volume-local`.
 *
 * @since 0.1.0
 */
import { VolumeLocal } from "@docker-plugin-kit/drivers"
import * as Flag from "effect/cli/Flag"
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
      Flag.withDescription(
        `Folder holding one sub-folder per volume (default ${VolumeLocal.defaultRoot}; under the temp folder when not root)`
      ),
      Flag.withDefault(ServeFlags.defaultFolder(VolumeLocal.defaultRoot, "volume-local/volumes"))
    ),
    stateDir: Flag.String("state-dir").pipe(
      Flag.withDescription(
        `Folder holding the state files (default ${VolumeLocal.defaultStateDir}; under the temp folder when not root)`
      ),
      Flag.withDefault(ServeFlags.defaultFolder(VolumeLocal.defaultStateDir, "volume-local/state"))
    )
  },
  ({ root, stateDir }) => VolumeLocal.layerNode({ root, stateDir })
)
