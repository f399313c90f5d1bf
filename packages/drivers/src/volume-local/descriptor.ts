/**
 * `volume-local` for the CLI: `dpk serve volume-local [--root DIR] [--state-dir DIR]`.
 *
 * @since 0.1.0
 */
import { VolumeDriver } from "@docker-plugin-kit/protocol"
import * as Descriptor from "../Descriptor.ts"
import * as VolumeLocal from "./VolumeLocalDefaults.ts"

/**
 * The descriptor.
 *
 * @since 0.1.0
 */
export const descriptor = Descriptor.make({
  name: "volume-local",
  description: "A VolumeDriver keeping each volume in a folder, its metadata in crash-safe state files",
  apis: [VolumeDriver.Api],
  flags: {
    root: Descriptor.folderFlag(
      "root",
      "Folder holding one sub-folder per volume",
      VolumeLocal.defaultRoot,
      "volume-local/volumes"
    ),
    stateDir: Descriptor.folderFlag(
      "state-dir",
      "Folder holding the state files",
      VolumeLocal.defaultStateDir,
      "volume-local/state"
    )
  },
  layer: ({ root, stateDir }) =>
    Descriptor.load(
      () => import("./VolumeLocal.ts"),
      (VolumeLocal) => VolumeLocal.layerNode({ root, stateDir })
    ),
  // Mountpoints under the propagated mount are what the daemon can reach from the host.
  managed: { propagatedMount: "/var/lib/docker-plugin-kit" }
})
