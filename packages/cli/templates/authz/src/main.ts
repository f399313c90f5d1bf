// Serves the driver on a Unix socket: the first argument, else /run/docker/plugins/__NAME__.sock.
// Start dockerd with --authorization-plugin __NAME__ once it listens.
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import * as Driver from "./Driver.ts"

const socket = process.argv[2]

PluginServer.launch(
  { name: "__NAME__", listen: Listener.unix("__NAME__", socket === undefined ? {} : { path: socket }) },
  Driver.layer
)
