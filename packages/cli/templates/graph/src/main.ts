// Serves the driver on a Unix socket: the first argument, else /run/docker/plugins/__NAME__.sock.
// Start dockerd with --experimental --storage-driver __NAME__ once it listens (Engine 20.10 to 27; see the README).
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import * as Driver from "./Driver.ts"

const root = process.env.GRAPH_ROOT ?? "/var/lib/__NAME__/layers"
const socket = process.argv[2]

PluginServer.launch(
  { name: "__NAME__", listen: Listener.unix("__NAME__", socket === undefined ? {} : { path: socket }) },
  Driver.layer(root)
)
