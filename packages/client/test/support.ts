// Test support: temp folders, plugin servers on temp sockets, and scripted raw HTTP plugins that record requests.
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import { Effect, Layer, type Scope } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"

/** A fresh temp folder, removed with the scope. */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-client-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** Serves driver layers with the real PluginServer on a Unix socket for the life of the scope. */
export const serve = (path: string, drivers: Layer.Layer<any, any>) =>
  Layer.build(
    PluginServer.layer({ name: Path.basename(path, ".sock"), listen: Listener.unix("x", { path }) }).pipe(
      Layer.provide(drivers)
    )
  )

/** A request as a raw plugin saw it. */
export interface Seen {
  readonly url: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

/** What a raw plugin answers: status and body text, or `"hang-up"` to drop the connection, `"never"` to stall. */
export type Answer = { readonly status: number; readonly body: string } | "hang-up" | "never"

/** A node:http plugin on a Unix socket that records every request and answers with `answer`. */
export const rawPlugin = (path: string, answer: (seen: Seen, index: number) => Answer) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly seen: Array<Seen>; readonly server: Http.Server }>((resume) => {
      const seen: Array<Seen> = []
      const server = Http.createServer((req, res) => {
        let body = ""
        req.setEncoding("utf8")
        req.on("data", (c) => (body += c))
        req.on("end", () => {
          const request = { url: req.url ?? "", headers: req.headers, body }
          seen.push(request)
          const reply = answer(request, seen.length - 1)
          if (reply === "never") return
          if (reply === "hang-up") return req.socket.destroy()
          res.writeHead(reply.status, { "content-type": "application/json" })
          res.end(reply.body)
        })
      })
      server.listen(path, () => resume(Effect.succeed({ seen, server })))
    }),
    ({ server }) =>
      Effect.promise(
        () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      )
  )
