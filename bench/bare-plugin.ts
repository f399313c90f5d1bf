/**
 * The bare plugins of the benches (bench/bare-*-plugin.ts: the cheapest Node plugin of a kind, the floor its driver
 * is measured against): starting one as a child process, on the socket where the daemon finds a plugin named
 * `name` (`serveBare`), and, in the plugin's own process, its `node:http` server (`listenBare`).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Path from "node:path"

/** Starts `script` (a file name in bench/) for plugin `name`; resolves once it listens. */
export const serveBare = (script: string, name: string): Promise<ChildProcess.ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(
      process.execPath,
      [Path.join(import.meta.dirname, script), `/run/docker/plugins/${name}.sock`],
      { stdio: ["ignore", "pipe", "inherit"] }
    )
    child.stdout.once("data", () => resolve(child))
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)))
  })

/** A bare plugin's answer: its body, and its content type when it is not the plugins' JSON one. */
export interface BareAnswer {
  readonly body: string
  readonly contentType?: string
}

const pluginJson = "application/vnd.docker.plugins.v1.1+json"

/**
 * Serves a bare plugin on the socket its script was given as first argument: each request's body is read whole and
 * handed to `answer` as text with the request's path; what `answer` throws is answered as `{"Err": message}`.
 * SIGTERM closes the server and exits.
 */
export const listenBare = (label: string, answer: (url: string, body: string) => BareAnswer): void => {
  const socketPath = process.argv[2]
  if (socketPath === undefined) throw new Error(`usage: ${label} SOCKET_PATH`)
  Fs.rmSync(socketPath, { force: true })
  const server = Http.createServer({ keepAliveTimeout: 2_000, noDelay: true }, (request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      let answered: BareAnswer
      try {
        answered = answer(request.url ?? "", Buffer.concat(chunks).toString("utf8"))
      } catch (e) {
        answered = { body: JSON.stringify({ Err: (e as Error).message }) }
      }
      const { body, contentType = pluginJson } = answered
      response.writeHead(200, { "content-type": contentType, "content-length": Buffer.byteLength(body) })
      response.end(body)
    })
  })
  process.on("SIGTERM", () => server.close(() => process.exit(0)))
  server.listen(socketPath, () => console.log(`${label}: listening on ${socketPath}`))
}
