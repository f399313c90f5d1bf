/**
 * `log-file` for the CLI: `dpk serve log-file [--dir DIR] [--buffer-size N] [--on-overflow drop-newest|drop-oldest]`.
 *
 * @since 0.1.0
 */
import * as LogBuffer from "@docker-plugin-kit/helpers/log/LogBufferPolicy"
import { LogDriver } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Flag from "effect/cli/Flag"
import * as Layer from "effect/Layer"
import * as Descriptor from "../Descriptor.ts"
import * as LogFile from "./LogFileDefaults.ts"

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
    dir: Descriptor.folderFlag(
      "dir",
      "Folder of the log files, one <container ID>.log each",
      LogFile.defaultDir,
      "log-file"
    ),
    bufferSize: Flag.String("buffer-size").pipe(
      Flag.withDescription(
        "Bytes of log lines held per container while the disk is slow, e.g. 16m (the default); beyond that lines are dropped, the container is never blocked"
      ),
      Flag.withDefault("16m")
    ),
    onOverflow: Flag.Literals("on-overflow", ["drop-newest", "drop-oldest"]).pipe(
      Flag.withDescription("Which entries a full buffer drops: the new ones (default) or the oldest buffered"),
      Flag.withDefault(LogBuffer.defaultPolicy.overflow)
    )
  },
  layer: ({ dir, bufferSize, onOverflow }) =>
    Descriptor.load(
      () => Promise.all([import("./LogFile.ts"), import("./LogFileOptions.ts")]),
      ([LogFile, LogFileOptions]) =>
        Layer.unwrap(
          Effect.map(
            Effect.mapError(
              // An amount of memory: binary multiples, as the default (16m) is `LogBuffer.defaultPolicy`'s 16 MiB.
              Effect.fromResult(LogFileOptions.parseSize(bufferSize, 1024)),
              (reason) => new LogBuffer.InvalidPolicy({ reason: `--buffer-size ${bufferSize}: ${reason}` })
            ),
            (maxBytes) => LogFile.layerNode({ dir, buffer: { maxBytes, overflow: onOverflow } })
          )
        )
    ),
  managed: {
    mounts: [{ source: LogFile.defaultDir, destination: LogFile.defaultDir, options: ["rbind"] }]
  },
  // Young-generation collections without helper threads: a busy container keeps the daemon and itself on the CPUs,
  // where helpers wait to be scheduled and the pause grows; with one thread a scavenge took 0.63-0.67 ms instead
  // of 0.85-0.98 ms in `pnpm bench log` on two cores (log-file README).
  v8Flags: ["--no-parallel-scavenge"]
})
