/**
 * `volume-memory` for the CLI: `dpk serve volume-memory [--mount-root DIR]`.
 *
 * @since 0.1.0
 */
import { VolumeDriver } from "@docker-plugin-kit/protocol"
import * as Flag from "effect/cli/Flag"
import * as Descriptor from "../Descriptor.ts"

/**
 * The descriptor.
 *
 * @since 0.1.0
 */
export const descriptor = Descriptor.make({
  name: "volume-memory",
  description: "An in-memory VolumeDriver (volumes vanish when the process exits)",
  apis: [VolumeDriver.Api],
  flags: {
    mountRoot: Flag.String("mount-root").pipe(
      Flag.withDescription("Prefix of the reported mountpoints"),
      Flag.withDefault("/run/docker-plugin-kit/memory")
    )
  },
  layer: ({ mountRoot }) =>
    Descriptor.load(
      () => import("./VolumeMemory.ts"),
      (VolumeMemory) => VolumeMemory.layer({ mountRoot })
    )
})
