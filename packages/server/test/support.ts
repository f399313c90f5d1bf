// Test support: temp folders and a minimal daemon-like HTTP client over Unix sockets or TCP.
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

export const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-server-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

export interface Reply {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly text: string
  readonly body: unknown
}

export type Target =
  | { readonly socketPath: string }
  | { readonly host: string; readonly port: number; readonly tls?: Https.RequestOptions }

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** POSTs like the daemon: no Content-Type, the v1.2 Accept header, JSON plus a trailing newline. */
export const post = (target: Target, path: string, body?: unknown): Effect.Effect<Reply, Error> =>
  Effect.callback<Reply, Error>((resume) => {
    const payload = body === undefined ? "" : typeof body === "string" ? body : `${JSON.stringify(body)}\n`
    const tls = "tls" in target ? target.tls : undefined
    const request = (tls === undefined ? Http : Https).request(
      {
        ...("socketPath" in target ? { socketPath: target.socketPath } : { host: target.host, port: target.port }),
        ...(tls ?? {}),
        method: "POST",
        path,
        agent: false,
        headers: { accept: "application/vnd.docker.plugins.v1.2+json", "content-length": Buffer.byteLength(payload) }
      },
      (response) => {
        let text = ""
        response.setEncoding("utf8")
        response.on("data", (c) => (text += c))
        response.on("end", () =>
          resume(
            Effect.succeed({ status: response.statusCode ?? 0, headers: response.headers, text, body: parse(text) })
          )
        )
        response.on("error", (e) => resume(Effect.fail(e)))
      }
    )
    request.on("error", (e) => resume(Effect.fail(e)))
    request.end(payload)
  })

/** Polls `check` every 50 ms until it holds or `timeoutMs` passes. */
export const waitFor = (check: () => boolean, timeoutMs = 10_000) =>
  Effect.promise(async () => {
    const end = Date.now() + timeoutMs
    while (!check()) {
      if (Date.now() > end) throw new Error("condition not reached in time")
      await new Promise((r) => setTimeout(r, 50))
    }
  })

/** A raw HTTP/1.1 POST as the daemon writes it, with `headers` (CRLF-ended lines) added before the length. */
export const rawRequest = (path: string, body: string, headers = "") =>
  `POST ${path} HTTP/1.1\r\nHost: plugin\r\nAccept: application/vnd.docker.plugins.v1.2+json\r\n${headers}` +
  `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`

/**
 * Sends `parts` on one connection (each part a separate write, `gapMs` apart) and returns every byte received until
 * the server closes it (end the last request with `Connection: close`, or half-close after the last part).
 */
export const rawExchange = (
  socketPath: string,
  parts: ReadonlyArray<string | Buffer>,
  gapMs = 0,
  options: { readonly halfClose?: boolean } = {}
) =>
  Effect.callback<Buffer, Error>((resume) => {
    const received: Array<Buffer> = []
    const socket = connectAndWrite(socketPath, parts, gapMs, (e) => resume(Effect.fail(e)), options)
    socket.on("data", (chunk: Buffer) => received.push(chunk))
    // Half-open so that a half-close of ours still reads every answer; the server's end closes our side too.
    socket.on("end", () => socket.end())
    socket.on("close", () => resume(Effect.succeed(Buffer.concat(received))))
    return Effect.sync(() => socket.destroy())
  })

/**
 * Connects to `socketPath` and writes `parts` once connected, each a separate write, `gapMs` apart; with
 * `halfClose`, the connection is half-open and our side is ended after the last part.
 */
export const connectAndWrite = (
  socketPath: string,
  parts: ReadonlyArray<string | Buffer>,
  gapMs: number,
  onError: (error: Error) => void,
  options: { readonly halfClose?: boolean } = {}
): Net.Socket => {
  const socket = Net.connect({ path: socketPath, allowHalfOpen: options.halfClose === true })
  socket.on("error", onError)
  socket.once("connect", async () => {
    for (const part of parts) {
      socket.write(part)
      if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs))
    }
    if (options.halfClose) socket.end()
  })
  return socket
}

/**
 * Sends `request` on a new connection and closes the connection entirely (no half-close, as the daemon gives up on
 * a call) `closeAfterMs` later; returns what was received until then.
 */
export const sendThenClose = (socketPath: string, request: string, closeAfterMs: number) =>
  Effect.callback<Buffer, Error>((resume) => {
    const received: Array<Buffer> = []
    const socket = connectAndWrite(socketPath, [request], 0, (e) => resume(Effect.fail(e)))
    socket.on("data", (chunk: Buffer) => received.push(chunk))
    const timer = setTimeout(() => {
      socket.destroy()
      resume(Effect.succeed(Buffer.concat(received)))
    }, closeAfterMs)
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.destroy()
    })
  })

/**
 * Throw-away certificates in `dir` (openssl, EC keys: fast): a CA; a server certificate for 127.0.0.1 and a client
 * certificate, both signed by it; and a client certificate signed by another CA.
 */
export const certificates = (dir: string) => {
  const file = (name: string) => Path.join(dir, name)
  const openssl = (...args: Array<string>) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
  const ca = (name: string) =>
    openssl(
      "req",
      "-x509",
      ...key,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "1",
      "-subj",
      `/CN=${name}`
    )
  const signed = (name: string, by: string, extensions: string) => {
    openssl("req", ...key, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`)
    Fs.writeFileSync(file(`${name}.ext`), `${extensions}\n`)
    openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${by}.pem`,
      "-CAkey",
      `${by}.key`,
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "1",
      "-extfile",
      `${name}.ext`
    )
  }
  ca("ca")
  ca("other-ca")
  signed("server", "ca", "subjectAltName=IP:127.0.0.1")
  signed("daemon", "ca", "extendedKeyUsage=clientAuth")
  signed("stranger", "other-ca", "extendedKeyUsage=clientAuth")
  const pair = (name: string) => ({ cert: file(`${name}.pem`), key: file(`${name}.key`) })
  return { ca: file("ca.pem"), server: pair("server"), daemon: pair("daemon"), stranger: pair("stranger") }
}
