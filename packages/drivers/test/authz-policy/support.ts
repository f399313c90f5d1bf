/**
 * A plugin that answers raw JSON on a Unix socket, bypassing the toolkit's server, to show what conformance and
 * the fake daemon make of answers the server would never send.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"

/** Serves `answer(path)` as JSON (status 200, or `status` when given) until the scope closes. */
export const rawPlugin = (answer: (path: string) => unknown, status: (path: string) => number = () => 200) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly socket: string; readonly server: Http.Server; readonly dir: string }>((resume) => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-raw-plugin-"))
      const socket = Path.join(dir, "raw.sock")
      const server = Http.createServer((request, response) => {
        request.resume()
        request.on("end", () => {
          response.writeHead(status(request.url ?? ""), { "Content-Type": "application/json" })
          response.end(JSON.stringify(answer(request.url ?? "")))
        })
      })
      server.listen(socket, () => resume(Effect.succeed({ socket, server, dir })))
    }),
    ({ server, dir }) =>
      Effect.promise(
        () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => {
              Fs.rmSync(dir, { recursive: true, force: true })
              done()
            })
          })
      )
  )
