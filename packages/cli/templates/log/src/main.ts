// Serves the driver on a Unix socket: the first argument, else /run/docker/plugins/__NAME__.sock.
// As a managed plugin (npm run package), the socket path comes as the first argument too.
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import * as Driver from "./Driver.ts"

const dir = process.env.LOG_DIR ?? "/var/lib/__NAME__/logs"
const socket = process.argv[2]

PluginServer.launch(
  { name: "__NAME__", listen: Listener.unix("__NAME__", socket === undefined ? {} : { path: socket }) },
  Driver.layer(dir)
)
