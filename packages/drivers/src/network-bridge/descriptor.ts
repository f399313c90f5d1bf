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
    stateDir: Flag.String("state-dir").pipe(
      Flag.withDescription(
        `Folder holding the state files (default ${NetworkBridge.defaultStateDir}; under the temp folder when not root)`
      ),
      Flag.withDefault(Descriptor.defaultFolder(NetworkBridge.defaultStateDir, "network-bridge/state"))
    )
  },
  layer: ({ stateDir }) =>
    Descriptor.load(
      () => import("./NetworkBridge.ts"),
      (NetworkBridge) => NetworkBridge.layerNode({ stateDir })
    ),
  // LinksNode runs iproute2's `ip`: a managed plugin's rootfs must hold it.
  managed: { capabilities: ["CAP_NET_ADMIN"], network: "host", binaries: ["ip"] }
})
