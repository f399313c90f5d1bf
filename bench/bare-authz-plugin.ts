/**
 * The floor for `pnpm bench authz`: a bare `node:http` authorization plugin that reads each hook's JSON body and
 * allows it, with no policy, no schema and no audit line. What the daemon's two extra round trips per API call cost
 * through the cheapest Node plugin there is; `authz-policy`'s figures are read against it.
 *
 * Usage: node bench/bare-authz-plugin.ts SOCKET_PATH
 */
import * as Fs from "node:fs"
import * as Http from "node:http"

const contentType = "application/vnd.docker.plugins.v1.1+json"
const activate = JSON.stringify({ Implements: ["authz"] })
const allow = JSON.stringify({ Allow: true })

const socketPath = process.argv[2]
if (socketPath === undefined) throw new Error("usage: bare-authz-plugin.ts SOCKET_PATH")
Fs.rmSync(socketPath, { force: true })

const server = Http.createServer({ keepAliveTimeout: 2_000, noDelay: true }, (request, response) => {
  const chunks: Array<Buffer> = []
  request.on("data", (chunk: Buffer) => chunks.push(chunk))
  request.on("end", () => {
    let body = allow
    try {
      const text = Buffer.concat(chunks).toString("utf8")
      if (text.trim() !== "") JSON.parse(text)
      if (request.url === "/Plugin.Activate") body = activate
    } catch (e) {
      body = JSON.stringify({ Err: `request body is not valid JSON (${(e as Error).message})` })
    }
    response.writeHead(200, { "content-type": contentType, "content-length": Buffer.byteLength(body) })
    response.end(body)
  })
})

process.on("SIGTERM", () => server.close(() => process.exit(0)))
server.listen(socketPath, () => console.log(`bare authz plugin: listening on ${socketPath}`))
