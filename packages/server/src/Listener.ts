/**
 * Where a plugin listens: a Unix socket in the daemon's discovery folder, a TCP port announced by a spec file, or
 * a socket inherited from systemd. Each listener prepares its address before the server binds and cleans up after
 * it closes.
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as HttpServer from "effect/http/HttpServer"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Net from "node:net"
import * as Path from "node:path"

/**
 * The daemon's socket discovery folder.
 *
 * @since 0.1.0
 */
export const defaultSocketDir = "/run/docker/plugins"

/**
 * The first spec-file discovery folder.
 *
 * @since 0.1.0
 */
export const defaultSpecDir = "/etc/docker/plugins"

/**
 * TLS settings of a TCP listener (PEM file paths).
 *
 * @since 0.1.0
 */
export interface TlsFiles {
  readonly certFile: string
  readonly keyFile: string
  /** CA bundle: when set, clients must present a certificate signed by it, and the spec file names it. */
  readonly caFile?: string
}

/**
 * A listener description.
 *
 * @since 0.1.0
 */
export type Listen =
  | { readonly _tag: "Unix"; readonly path: string; readonly group?: number | string }
  | {
      readonly _tag: "Tcp"
      readonly host: string
      readonly port: number
      readonly specDir?: string
      readonly tls?: TlsFiles
    }
  | { readonly _tag: "Systemd" }

/**
 * The listener could not be prepared or bound.
 *
 * @since 0.1.0
 */
export class ListenError extends Data.TaggedError("ListenError")<{ readonly message: string }> {}

/**
 * The default Unix socket of a plugin: `/run/docker/plugins/NAME.sock`.
 *
 * @since 0.1.0
 */
export const unix = (
  name: string,
  options: { readonly path?: string | undefined; readonly group?: number | string | undefined } = {}
): Listen => ({
  _tag: "Unix",
  path: options.path ?? Path.join(defaultSocketDir, `${name}.sock`),
  ...(options.group === undefined ? {} : { group: options.group })
})

const tryConnect = (path: string): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = Net.connect({ path })
    const done = (alive: boolean) => {
      socket.destroy()
      resolve(alive)
    }
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
    socket.setTimeout(1000, () => done(false))
  })

/**
 * Makes the socket path free to bind: creates the folder, refuses a socket that a live process answers on,
 * removes a stale one left by a crash, and refuses to touch anything that is not a socket.
 *
 * @since 0.1.0
 */
export const prepareSocketPath = (path: string): Effect.Effect<void, ListenError> =>
  Effect.tryPromise({
    try: async () => {
      Fs.mkdirSync(Path.dirname(path), { recursive: true })
      let stat: Fs.Stats
      try {
        stat = Fs.lstatSync(path)
      } catch {
        return
      }
      if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`)
      if (await tryConnect(path)) throw new Error(`${path} is served by another live process; refusing to steal it`)
      Fs.rmSync(path, { force: true })
    },
    catch: (e) => new ListenError({ message: (e as Error).message })
  })

const groupId = (group: number | string): number => {
  if (typeof group === "number") return group
  if (/^\d+$/.test(group)) return Number(group)
  const line = Fs.readFileSync("/etc/group", "utf8")
    .split("\n")
    .find((l) => l.split(":")[0] === group)
  const gid = line?.split(":")[2]
  if (gid === undefined) throw new Error(`unknown group ${group}`)
  return Number(gid)
}

const socketPermissions = (path: string, group: number | string | undefined) =>
  Effect.try({
    try: () => {
      Fs.chmodSync(path, 0o660)
      if (group !== undefined) Fs.chownSync(path, -1, groupId(group))
    },
    catch: (e) => new ListenError({ message: `could not set permissions of ${path}: ${(e as Error).message}` })
  })

/**
 * The address a TCP plugin announces in its spec file.
 *
 * @since 0.1.0
 */
export const tcpUrl = (host: string, port: number, tls: boolean): string =>
  `${tls ? "https" : "tcp"}://${host.includes(":") ? `[${host}]` : host}:${port}`

/**
 * The spec file a TCP plugin writes so the daemon can find it: `NAME.spec` holding the URL, or `NAME.json`
 * with the TLS settings when a CA is configured.
 *
 * @since 0.1.0
 */
export const specFile = (
  name: string,
  specDir: string,
  url: string,
  tls: TlsFiles | undefined
): { readonly path: string; readonly content: string } =>
  tls?.caFile === undefined
    ? { path: Path.join(specDir, `${name}.spec`), content: `${url}\n` }
    : {
        path: Path.join(specDir, `${name}.json`),
        content: `${JSON.stringify(
          {
            Name: name,
            Addr: url,
            TLSConfig: { InsecureSkipVerify: false, CAFile: tls.caFile, CertFile: tls.certFile, KeyFile: tls.keyFile }
          },
          null,
          2
        )}\n`
      }

const writeAtomically = (path: string, content: string) => {
  Fs.mkdirSync(Path.dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.tmp`
  Fs.writeFileSync(tmp, content, { mode: 0o644 })
  Fs.renameSync(tmp, path)
}

/** The Node internals `end` reads; declared here because @types/node does not list them. */
interface ResponseInternals {
  readonly _headerSent: boolean
  readonly _contentLength: number | null
}

/**
 * Node's `ServerResponse` with its single-write path restored for complete bodies.
 *
 * The platform turns `strictContentLength` on for every response. With it on, Node's `end(body)` skips its fast
 * path: instead of one write of headers and body with `finish` attached, it queues an extra empty chunk and flushes
 * both with `writev`, then schedules `finish` separately. For the small JSON answers the daemon asks for most, that
 * doubled the time spent in the socket write (see bench/README.md).
 *
 * When nothing has been sent yet and the final chunk is exactly the declared `Content-Length`, the strict check
 * cannot fail, so it is lifted for that call only; every other case (a chunk that does not match, a body written
 * in several parts, streams) goes through Node unchanged and is still checked.
 */
class ServerResponse<Request extends Http.IncomingMessage = Http.IncomingMessage> extends Http.ServerResponse<Request> {
  override end(chunk?: any, encoding?: any, callback?: any): this {
    if (this.strictContentLength && (typeof chunk === "string" || chunk instanceof Uint8Array)) {
      const internals = this as unknown as ResponseInternals
      const length =
        typeof chunk === "string"
          ? Buffer.byteLength(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8")
          : chunk.byteLength
      if (!internals._headerSent && internals._contentLength === length) {
        this.strictContentLength = false
        try {
          return super.end(chunk, encoding, callback)
        } finally {
          this.strictContentLength = true
        }
      }
    }
    return super.end(chunk, encoding, callback)
  }
}

/**
 * Starts the handler of each request in the event loop's check phase (`setImmediate`) after Node announces it,
 * instead of inside the parser's callback. By then the whole packet is parsed: a small body that arrived with the
 * headers is buffered and the request is complete, so the handler takes the body without suspending its fiber
 * (see `EndpointHandler`) and the platform has nothing to drain after the response; the handlers of the requests
 * read in one poll run back to back. A body still in flight is read as before. Requests keep their order.
 *
 * A microtask is not late enough: Node runs microtasks between the body and the end of the message, and the
 * platform's after-response drain then runs for every call (measured: 0.77 of the bare server against 0.83).
 */
const startHandlersAfterParse = <S extends Net.Server>(server: S): S => {
  const emit = server.emit
  // The requests announced since the last check phase, in order, and started together by one immediate.
  let pending: Array<unknown> = []
  const start = () => {
    const batch = pending
    pending = []
    let i = 0
    try {
      for (; i < batch.length; i += 2) emit.call(server, "request", batch[i], batch[i + 1])
    } finally {
      // A handler threw: the requests after it still start, in the next check phase.
      if (i + 2 < batch.length) {
        pending = batch.slice(i + 2).concat(pending)
        setImmediate(start)
      }
    }
  }
  server.emit = function (this: S, event: string | symbol, request?: unknown, response?: unknown): boolean {
    // biome-ignore lint/complexity/noArguments: forwards every argument of the other events untouched
    if (event !== "request") return Reflect.apply(emit, this, arguments)
    if (pending.length === 0) setImmediate(start)
    pending.push(request, response)
    return true
  }
  return server
}

/** A plain HTTP server with the daemon's options and the request start above. */
const createHttpServer = (): Http.Server => startHandlersAfterParse(Http.createServer(serverOptions))

/**
 * Node HTTP server options tuned for the daemon: keep-alive is kept short enough that a shutdown is not held up
 * by idle daemon connections; responses use the single-write `ServerResponse` above.
 */
const serverOptions: Http.ServerOptions = {
  keepAliveTimeout: 2_000,
  noDelay: true,
  ServerResponse: ServerResponse as typeof Http.ServerResponse
}

/**
 * How long a shutdown waits for in-flight calls before closing their connections.
 *
 * @since 0.1.0
 */
export const gracefulShutdownTimeout = Duration.seconds(10)

/**
 * How an inherited socket whose path Node cannot tell is named in the server address: `fd:3`.
 *
 * @since 0.1.0
 */
export const systemdAddressPrefix = "fd:"

/**
 * The systemd socket-activation fd (`LISTEN_FDS`), if this process was given one.
 *
 * @since 0.1.0
 */
export const systemdFd = (env: NodeJS.ProcessEnv = process.env): number | undefined => {
  const fds = Number(env.LISTEN_FDS ?? "0")
  const pid = env.LISTEN_PID
  if (!(fds >= 1) || (pid !== undefined && pid !== String(process.pid))) return undefined
  return 3
}

/**
 * The HttpServer layer of a listener, with its preparation and clean-up.
 *
 * @since 0.1.0
 */
export const layer = (name: string, listen: Listen): Layer.Layer<HttpServer.HttpServer, ListenError> => {
  const shutdown = { gracefulShutdownTimeout }
  switch (listen._tag) {
    case "Unix": {
      const prepare = Layer.effectDiscard(
        Effect.acquireRelease(prepareSocketPath(listen.path), () =>
          Effect.sync(() => Fs.rmSync(listen.path, { force: true }))
        )
      )
      const permissions = Layer.effectDiscard(socketPermissions(listen.path, listen.group))
      const server = NodeHttpServer.layer(createHttpServer, { path: listen.path, ...shutdown })
      return permissions.pipe(Layer.provideMerge(server), Layer.provide(prepare), asListenError)
    }
    case "Tcp": {
      const tls = listen.tls
      const create = () =>
        tls === undefined
          ? createHttpServer()
          : (startHandlersAfterParse(
              Https.createServer({
                ...serverOptions,
                cert: Fs.readFileSync(tls.certFile),
                key: Fs.readFileSync(tls.keyFile),
                ...(tls.caFile === undefined
                  ? {}
                  : { ca: Fs.readFileSync(tls.caFile), requestCert: true, rejectUnauthorized: true })
              })
            ) as unknown as Http.Server)
      const server = NodeHttpServer.layer(create, { host: listen.host, port: listen.port, ...shutdown })
      return specLayer(name, listen).pipe(Layer.provideMerge(server), asListenError)
    }
    case "Systemd": {
      const fd = systemdFd()
      if (fd === undefined) {
        return Layer.effect(
          HttpServer.HttpServer,
          Effect.fail(new ListenError({ message: "LISTEN_FDS is not set: this process was not socket-activated" }))
        )
      }
      const create = () => {
        const server = createHttpServer()
        // Node cannot name an inherited Unix socket (address() is null), which the platform needs: name it by fd.
        const address = server.address.bind(server)
        server.address = () => address() ?? `${systemdAddressPrefix}${fd}`
        return server
      }
      return NodeHttpServer.layer(create, { fd, ...shutdown } as NodeHttpServer.Options).pipe(asListenError)
    }
  }
}

const specLayer = (name: string, listen: Extract<Listen, { _tag: "Tcp" }>) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const server = yield* HttpServer.HttpServer
      const address = server.address
      const port = address._tag === "UnixPathAddress" ? listen.port : address.port
      const host = listen.host === "0.0.0.0" || listen.host === "::" ? "127.0.0.1" : listen.host
      const url = tcpUrl(host, port, listen.tls !== undefined)
      const file = specFile(name, listen.specDir ?? defaultSpecDir, url, listen.tls)
      yield* Effect.acquireRelease(
        Effect.try({
          try: () => writeAtomically(file.path, file.content),
          catch: (e) => new ListenError({ message: `could not write ${file.path}: ${(e as Error).message}` })
        }),
        () => Effect.sync(() => Fs.rmSync(file.path, { force: true }))
      )
    })
  )

/** Every failure of a listener layer, as one readable ListenError. */
const asListenError = <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, ListenError, R> =>
  Layer.catchCause(layer, (cause) =>
    Layer.effectDiscard(
      Effect.failCause(
        Cause.map(cause, (e) => (e instanceof ListenError ? e : new ListenError({ message: describeServe(e) })))
      )
    )
  ) as Layer.Layer<A, ListenError, R>

const describeServe = (e: unknown): string => {
  const cause = (e as { cause?: unknown }).cause
  return cause instanceof Error ? cause.message : e instanceof Error ? e.message : String(e)
}
