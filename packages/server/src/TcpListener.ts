/**
 * A plugin listening on a TCP port, announced to the daemon by a spec file: `NAME.spec` holding the URL, or
 * `NAME.json` when the plugin requires the daemon's client certificate. Both are written through the protocol's
 * own `SpecFile` definitions, atomically, and removed on shutdown if they still hold what was written. A spec file
 * of that name naming an address where nothing answers is removed first (the daemon reads `NAME.spec` before
 * `NAME.json`); one naming an address where another process answers refuses the start.
 *
 * Whoever can call a plugin controls what it does as root, so a port that anyone who reaches it may call is
 * logged as a warning; with TLS and a client CA the handshake refuses a caller without a certificate signed by it.
 *
 * @since 0.1.0
 */
import { SpecFile } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as HttpServer from "effect/http/HttpServer"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Path from "node:path"
import * as ConnectAttempt from "./internal/ConnectAttempt.ts"
import * as NodeServer from "./internal/NodeServer.ts"
import { ListenError } from "./ListenError.ts"

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
  /** The plugin's certificate and key. */
  readonly certFile: string
  readonly keyFile: string
  /**
   * CA bundle the daemon's client certificate must be signed by. With it, a caller without such a certificate is
   * refused during the handshake, and the spec file is `NAME.json`, naming this CA (with which the daemon verifies
   * the plugin's certificate) and the certificate the daemon presents.
   */
  readonly caFile?: string
  /**
   * The certificate and key the daemon presents (`CertFile` and `KeyFile` of `NAME.json`); only with `caFile`.
   * Default: the plugin's own pair, which serves when the CA signed it for client use too.
   */
  readonly daemonCertFile?: string
  readonly daemonKeyFile?: string
}

/**
 * A TCP listener.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly host: string
  /** 0 picks a free port; the spec file names the one bound. */
  readonly port: number
  /** Where the spec file goes (default `/etc/docker/plugins`). */
  readonly specDir?: string
  readonly tls?: TlsFiles
}

/**
 * Whether the listener refuses callers that do not present a certificate signed by its CA.
 *
 * @since 0.1.0
 */
export const requiresClientCertificates = (tls: TlsFiles | undefined): tls is TlsFiles & { readonly caFile: string } =>
  tls?.caFile !== undefined

/**
 * The address a TCP plugin announces in its spec file.
 *
 * @since 0.1.0
 */
export const tcpUrl = (host: string, port: number, tls: boolean): string =>
  SpecFile.formatAddress({ _tag: "Tcp", host, port, https: tls })

const encodeJsonSpec = Schema.encodeSync(SpecFile.JsonSpec)

/**
 * The spec file a TCP plugin writes so the daemon can find it: `NAME.spec` holding the URL, or `NAME.json` with
 * the TLS settings the daemon uses when the plugin requires client certificates.
 *
 * @since 0.1.0
 */
export const specFile = (
  name: string,
  specDir: string,
  url: string,
  tls: TlsFiles | undefined
): { readonly path: string; readonly content: string } =>
  requiresClientCertificates(tls)
    ? {
        path: Path.join(specDir, `${name}.json`),
        content: `${JSON.stringify(
          encodeJsonSpec({
            Name: name,
            Addr: url,
            TLSConfig: {
              InsecureSkipVerify: false,
              CAFile: tls.caFile,
              CertFile: tls.daemonCertFile ?? tls.certFile,
              KeyFile: tls.daemonKeyFile ?? tls.keyFile
            }
          }),
          null,
          2
        )}\n`
      }
    : { path: Path.join(specDir, `${name}.spec`), content: `${url}\n` }

/**
 * The warning a listener that anyone who reaches it may call logs once it is bound, or `undefined` when the
 * handshake checks the caller.
 *
 * @since 0.1.0
 */
export const exposureWarning = (url: string, tls: TlsFiles | undefined): string | undefined =>
  requiresClientCertificates(tls)
    ? undefined
    : `${url}: anyone who can reach this port controls the plugin (it answers every caller${
        tls === undefined ? ", in plain text" : ""
      }); prefer a Unix socket, or TLS with a client CA (dpk serve --tls-ca) so that only the daemon's certificate is accepted`

const writeAtomically = (path: string, content: string) => {
  Fs.mkdirSync(Path.dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.tmp`
  try {
    Fs.writeFileSync(tmp, content, { mode: 0o644 })
    Fs.renameSync(tmp, path)
  } catch (e) {
    // A spec path taken by a folder, a full disk: the start fails, leaving no temporary file in the daemon's folder.
    Fs.rmSync(tmp, { force: true })
    throw e
  }
}

/** The most a spec file left in the folder is read of: a URL, or a few settings, are far smaller. */
const maxSpecBytes = 64 * 1024

/**
 * The address a spec file already in the folder names, or `undefined` when it is not a regular file of at most
 * `maxSpecBytes` or does not parse (not a plugin's announcement that anyone could be answering at).
 */
const namedAddress = (path: string): SpecFile.Address | undefined => {
  let content: string
  try {
    const stat = Fs.lstatSync(path)
    if (!stat.isFile() || stat.size > maxSpecBytes) return undefined
    content = Fs.readFileSync(path, "utf8")
  } catch {
    return undefined
  }
  const parsed = path.endsWith(".json") ? SpecFile.parseJson(content) : SpecFile.parseSpec(content)
  return Result.isSuccess(parsed) ? parsed.success.address : undefined
}

/** Whether something accepts a connection at `address` within a second. */
const answers = (address: SpecFile.Address): Promise<boolean> =>
  ConnectAttempt.attempt(
    address._tag === "Unix" ? { path: address.path } : { host: address.host, port: address.port }
  ).then((outcome) => outcome._tag === "Connected")

/**
 * Makes way for this plugin's spec file. The daemon reads `NAME.spec` before `NAME.json`, so one left by an earlier
 * start would hide this start's other form, or send the daemon to a dead address: a file naming an address where
 * nothing answers is removed. One naming an address where something answers (another live instance of this
 * plugin, not this one's own port) is left alone, and this start refused: replacing it would cut that instance off
 * from the daemon, and its stop would then remove this start's file.
 */
const makeWay = (
  name: string,
  specDir: string,
  own: { readonly host: string; readonly port: number }
): Effect.Effect<void, ListenError> =>
  Effect.forEach(
    [".spec", ".json"].map((ext) => Path.join(specDir, `${name}${ext}`)),
    (path) =>
      Effect.gen(function* () {
        const address = namedAddress(path)
        if (address === undefined) return
        const ours =
          address._tag === "Tcp" && address.port === own.port && [own.host, "localhost"].includes(address.host)
        if (!ours && (yield* Effect.promise(() => answers(address)))) {
          return yield* new ListenError({
            address: path,
            reason: `names ${SpecFile.formatAddress(address)}, where another live process answers; refusing to replace it (remove the file if that is not this plugin)`
          })
        }
        yield* Effect.try({
          try: () => Fs.rmSync(path, { force: true }),
          catch: (e) => new ListenError({ address: path, reason: `could not remove: ${(e as Error).message}` })
        })
      }),
    { discard: true }
  )

/** Removes the spec file at `path` if it still holds `content`: one another start wrote since is theirs. */
const removeIfOurs = (path: string, content: string) => {
  try {
    if (Fs.lstatSync(path).isFile() && Fs.readFileSync(path, "utf8") === content) Fs.rmSync(path, { force: true })
  } catch {
    // Gone already, or unreadable: nothing of ours to remove.
  }
}

const createServer = (tls: TlsFiles | undefined) => (options: Http.ServerOptions) =>
  tls === undefined
    ? Http.createServer(options)
    : (Https.createServer({
        ...options,
        cert: Fs.readFileSync(tls.certFile),
        key: Fs.readFileSync(tls.keyFile),
        ...(requiresClientCertificates(tls)
          ? { ca: Fs.readFileSync(tls.caFile), requestCert: true, rejectUnauthorized: true }
          : {})
      }) as unknown as Http.Server)

const announce = (name: string, listen: Options) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const server = yield* HttpServer.HttpServer
      const address = server.address
      const port = address._tag === "UnixPathAddress" ? listen.port : address.port
      const host = listen.host === "0.0.0.0" || listen.host === "::" ? "127.0.0.1" : listen.host
      const url = tcpUrl(host, port, listen.tls !== undefined)
      const specDir = listen.specDir ?? defaultSpecDir
      const file = specFile(name, specDir, url, listen.tls)
      yield* makeWay(name, specDir, { host, port })
      yield* Effect.acquireRelease(
        Effect.try({
          try: () => writeAtomically(file.path, file.content),
          catch: (e) => new ListenError({ address: file.path, reason: `could not write: ${(e as Error).message}` })
        }),
        () => Effect.sync(() => removeIfOurs(file.path, file.content))
      )
      const warning = exposureWarning(url, listen.tls)
      if (warning !== undefined) yield* Effect.logWarning(warning)
    })
  )

/**
 * The HttpServer layer of a TCP listener, with its spec file.
 *
 * @since 0.1.0
 */
export const layer = (name: string, listen: Options): Layer.Layer<HttpServer.HttpServer, ListenError> => {
  const address = tcpUrl(listen.host, listen.port, listen.tls !== undefined)
  const server = NodeServer.layer(address, createServer(listen.tls), { host: listen.host, port: listen.port })
  return announce(name, listen).pipe(Layer.provideMerge(server))
}
