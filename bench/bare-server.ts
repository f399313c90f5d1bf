/**
 * The reference: a bare `node:http` server doing the same work as the plugin server for `VolumeDriver.Get`
 * (read the body, parse the JSON, look the volume up in a Map, answer the same JSON with the same content type).
 *
 * Usage: node bench/bare-server.ts SOCKET_PATH
 */
import * as Fs from "node:fs"
import * as Http from "node:http"
import { createdAt, mountRoot, path, serveParent, volumeName } from "./shared.ts"

interface VolumeRecord {
  readonly name: string
  readonly options: Readonly<Record<string, string>>
  readonly createdAt: string
  readonly mounts: ReadonlyArray<string>
}

const contentType = "application/vnd.docker.plugins.v1.1+json"
const volumes = new Map<string, VolumeRecord>([[volumeName, { name: volumeName, options: {}, createdAt, mounts: [] }]])

const describe = (record: VolumeRecord) => ({
  Name: record.name,
  Mountpoint: `${mountRoot}/${record.name}`,
  CreatedAt: record.createdAt,
  Status: { mounts: record.mounts.length, options: record.options }
})

const send = (response: Http.ServerResponse, status: number, body: string) => {
  response.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) })
  response.end(body)
}

const socketPath = process.argv[2]
if (socketPath === undefined) throw new Error("usage: bare-server.ts SOCKET_PATH")
Fs.rmSync(socketPath, { force: true })

const server = Http.createServer({ keepAliveTimeout: 2_000, noDelay: true }, (request, response) => {
  const chunks: Array<Buffer> = []
  request.on("data", (chunk: Buffer) => chunks.push(chunk))
  request.on("end", () => {
    if (request.url !== path) return send(response, 404, JSON.stringify({ Err: `unknown endpoint ${request.url}` }))
    let name: unknown
    try {
      const text = Buffer.concat(chunks).toString("utf8")
      name = text.trim() === "" ? undefined : (JSON.parse(text) as { Name?: unknown }).Name
    } catch (e) {
      return send(response, 400, JSON.stringify({ Err: `request body is not valid JSON (${(e as Error).message})` }))
    }
    if (typeof name !== "string") return send(response, 400, JSON.stringify({ Err: "Name: Expected string" }))
    const record = volumes.get(name)
    if (record === undefined) return send(response, 500, JSON.stringify({ Err: `no such volume: ${name}` }))
    send(response, 200, JSON.stringify({ Volume: describe(record) }))
  })
})

serveParent()
process.on("SIGTERM", () => server.close(() => process.exit(0)))
process.on("SIGINT", () => server.close(() => process.exit(0)))
server.listen(socketPath)
