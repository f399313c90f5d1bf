/**
 * `log-file` for the CLI: `dpk serve log-file [--dir DIR] [--buffer-size N] [--on-overflow drop-newest|drop-oldest]`.
 *
 * @since 0.1.0
 */
import { LogBuffer } from "@docker-plugin-kit/helpers"
import { LogDriver } from "@docker-plugin-kit/protocol"
import * as Flag from "effect/cli/Flag"
import * as Descriptor from "../Descriptor.ts"
import * as LogFile from "./LogFile.ts"

/**
 * The descriptor.
 *
 * @since 0.1.0
 */
export const descriptor = Descriptor.make({
  name: "log-file",
  description: "A LogDriver keeping each container's output in rotated JSON-lines files, served to docker logs",
  apis: [LogDriver.Api],
  flags: {
    dir: Flag.String("dir").pipe(
      Flag.withDescription(
        `Folder of the log files, one <container ID>.log each (default ${LogFile.defaultDir}; under the temp folder when not root)`
      ),
      Flag.withDefault(Descriptor.defaultFolder(LogFile.defaultDir, "log-file"))
    ),
    bufferSize: Flag.Int("buffer-size").pipe(
      Flag.withDescription(
        `Entries held per container while the disk is slow; beyond that entries are dropped, never the container blocked (default ${LogBuffer.defaultPolicy.capacity})`
      ),
      Flag.withDefault(LogBuffer.defaultPolicy.capacity)
    ),
    onOverflow: Flag.Literals("on-overflow", ["drop-newest", "drop-oldest"]).pipe(
      Flag.withDescription("Which entries a full buffer drops: the new ones (default) or the oldest buffered"),
      Flag.withDefault(LogBuffer.defaultPolicy.overflow)
    )
  },
  layer: ({ dir, bufferSize, onOverflow }) =>
    LogFile.layerNode({ dir, buffer: { capacity: bufferSize, overflow: onOverflow } }),
  managed: {
    mounts: [{ source: LogFile.defaultDir, destination: LogFile.defaultDir, options: ["rbind"] }]
  }
})
