/**
 * `graph-overlay` and `graph-vfs` for the CLI: `dpk serve graph-overlay [--root DIR]`. Without `--root` the layers
 * live where the daemon's `Init` says (`<data-root>/<plugin name>`), so each daemon has its own.
 *
 * @since 0.1.0
 */
import { GraphDriver } from "@docker-plugin-kit/protocol"
import * as Flag from "effect/cli/Flag"
import * as Option from "effect/Option"
import * as Descriptor from "../Descriptor.ts"
import type * as GraphOverlay from "./GraphOverlay.ts"

const rootFlag = Flag.String("root").pipe(
  Flag.withDescription("Folder holding the layers (default: the Home the daemon sends with Init)"),
  Flag.optional
)

const descriptorOf = (mode: GraphOverlay.Mode, name: string, description: string) =>
  Descriptor.make({
    name,
    description,
    apis: [GraphDriver.Api],
    flags: { root: rootFlag },
    layer: ({ root }) =>
      Descriptor.load(
        () => import("./GraphOverlay.ts"),
        (GraphOverlay) =>
          GraphOverlay.layerNode(Option.match(root, { onNone: () => ({ mode }), onSome: (root) => ({ mode, root }) }))
      ),
    managed: {
      capabilities: ["CAP_SYS_ADMIN"],
      propagatedMount: "/var/lib/docker-plugin-kit/graph",
      // The tools MountsNode and the layer-tar toolkit run: a managed plugin's rootfs must hold them.
      binaries: ["mount", "umount", "cp", "mknod", "setfattr", "getfattr"]
    },
    // ApplyDiff promotes an entry's short-lived state to the old generation, which V8 otherwise lets grow to about
    // four times what is live before collecting it: 150-160 MB peak RSS for a 1 GiB layer, 127 MB with the old
    // generation allowed to grow by 10% (README, Performance).
    v8Flags: ["--heap-growing-percent=10"],
    // Each body chunk read from the socket is a buffer of its own, freed only once a scavenge finds it dead: a 1 MB
    // young generation halves what waits (1 GiB ApplyDiff: peak RSS 98-103 MB against 110-117 MB; README).
    startFlags: ["--max-semi-space-size=1"]
  })

/**
 * `graph-overlay`: layers stacked with overlayfs.
 *
 * @since 0.1.0
 */
export const overlay = descriptorOf(
  "overlay",
  "graph-overlay",
  "A GraphDriver stacking layers with overlayfs (dockerd --experimental -s NAME)"
)

/**
 * `graph-vfs`: every layer a full copy of its parent, for where overlayfs cannot mount.
 *
 * @since 0.1.0
 */
export const vfs = descriptorOf(
  "vfs",
  "graph-vfs",
  "A GraphDriver keeping every layer as a full copy (where overlayfs cannot mount)"
)
