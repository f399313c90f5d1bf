/**
 * `network-bridge` for the CLI: `dpk serve network-bridge [--state-dir DIR]`.
 *
 * @since 0.1.0
 */
import { NetworkDriver } from "@docker-plugin-kit/protocol"
import * as Flag from "effect/cli/Flag"
import * as Descriptor from "../Descriptor.ts"
import * as NetworkBridge from "./NetworkBridgeDefaults.ts"

/**
 * The descriptor.
 *
 * @since 0.1.0
 */
export const descriptor = Descriptor.make({
  name: "network-bridge",
  description: "A NetworkDriver making each network a Linux bridge and each endpoint a veth pair (needs CAP_NET_ADMIN)",
  apis: [NetworkDriver.Api],
  flags: {
    stateDir: Descriptor.folderFlag(
      "state-dir",
      "Folder holding the state files",
      NetworkBridge.defaultStateDir,
      "network-bridge/state"
    ),
    storedInstance: Flag.Boolean("stored-instance").pipe(
      Flag.withDescription(
        "Tag this instance's links with a random tag kept in the state folder (file instance) instead of a hash of the folder's path"
      ),
      Flag.withDefault(false)
    )
  },
  layer: ({ stateDir, storedInstance }) =>
    Descriptor.load(
      () => import("./NetworkBridge.ts"),
      (NetworkBridge) => NetworkBridge.layerNode({ stateDir, storedInstance })
    ),
  // LinksNode runs iproute2's `ip`: a managed plugin's rootfs must hold it. Every managed instance has the same
  // state path, each in its own rootfs, and all share the host's links: a path hash would make each one's start-up
  // remove the others' links, so each keeps a random tag of its own.
  managed: { capabilities: ["CAP_NET_ADMIN"], network: "host", binaries: ["ip"], serveFlags: ["--stored-instance"] }
})
