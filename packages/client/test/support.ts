// Test support: temp folders, plugin servers on temp sockets, and scripted raw HTTP plugins that record requests.
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import { Effect, Layer, type Scope } from "effect"
import { HttpServer } from "effect/http"
import { execFileSync } from "node:child_process"
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

/** A throw-away CA and a server certificate for 127.0.0.1 signed by it (openssl, EC keys: fast). */
export const certificates = (dir: string) => {
  const file = (name: string) => Path.join(dir, name)
  const openssl = (...args: Array<string>) => execFileSync("openssl", args, { stdio: "pipe" })
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
  openssl(
    "req",
    "-x509",
    ...key,
    "-keyout",
    file("ca.key"),
    "-out",
    file("ca.pem"),
    "-days",
    "1",
    "-subj",
    "/CN=dpk test CA"
  )
  openssl("req", ...key, "-keyout", file("server.key"), "-out", file("server.csr"), "-subj", "/CN=127.0.0.1")
  Fs.writeFileSync(file("san.cnf"), "subjectAltName=IP:127.0.0.1\n")
  openssl(
    "x509",
    "-req",
    "-in",
    file("server.csr"),
    "-CA",
    file("ca.pem"),
    "-CAkey",
    file("ca.key"),
    "-CAcreateserial",
    "-out",
    file("server.pem"),
    "-days",
    "1",
    "-extfile",
    file("san.cnf")
  )
  openssl(
    "req",
    "-x509",
    ...key,
    "-keyout",
    file("other.key"),
    "-out",
    file("other.pem"),
    "-days",
    "1",
    "-subj",
    "/CN=other"
  )
  return { ca: file("ca.pem"), cert: file("server.pem"), key: file("server.key"), otherCa: file("other.pem") }
}

/** Serves the memory driver on 127.0.0.1 (random port), writing its spec file into `specDir`; returns the port. */
export const serveTcp = (name: string, specDir: string, tls?: Listener.TlsFiles) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      PluginServer.layer({
        name,
        listen: { _tag: "Tcp", host: "127.0.0.1", port: 0, specDir, ...(tls === undefined ? {} : { tls }) }
      }).pipe(Layer.provide(VolumeMemory.layer()))
    )
    const address = (yield* Effect.provide(HttpServer.HttpServer, context)).address
    return address._tag === "UnixPathAddress" ? 0 : address.port
  })
