// Serves the driver on a Unix socket: the first argument, else /run/docker/plugins/__NAME__.sock.
// As a managed plugin (npm run package), the socket path comes as the first argument too.
// The secrets come from the environment: SECRET_<NAME>=value, and SERVICES_<NAME>=web,api to allow only those.
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import * as Driver from "./Driver.ts"

const socket = process.argv[2]

PluginServer.launch(
  { name: "__NAME__", listen: Listener.unix("__NAME__", socket === undefined ? {} : { path: socket }) },
  Driver.layer(Driver.fromEnvironment(process.env))
)
