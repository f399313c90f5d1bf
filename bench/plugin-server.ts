/**
 * The server under test: the real `PluginServer` (HttpRouter from `effect/http` served by @effect/platform-node's
 * NodeHttpServer on a Unix socket) with the memory VolumeDriver, launched the way `dpk serve` launches it. The
 * volume is created through the plugin API by the parent before the run.
 *
 * Usage: node --conditions=@docker-plugin-kit/source bench/plugin-server.ts SOCKET_PATH
 */
import * as VolumeMemory from "../packages/drivers/src/volume-memory/VolumeMemory.ts"
import { Listener, PluginServer } from "../packages/server/src/index.ts"
import { createdAt, mountRoot, serveParent } from "./shared.ts"

const socketPath = process.argv[2]
if (socketPath === undefined) throw new Error("usage: plugin-server.ts SOCKET_PATH")

serveParent()
PluginServer.launch(
  { name: "bench", listen: Listener.unix("bench", { path: socketPath }) },
  VolumeMemory.layer({ mountRoot, now: () => new Date(createdAt) })
)
