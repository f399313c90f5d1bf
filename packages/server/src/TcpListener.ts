/**
 * A plugin listening on a TCP port, announced to the daemon by a spec file: `NAME.spec` holding the URL, or
 * `NAME.json` when the plugin requires the daemon's client certificate. Both are written through the protocol's
 * own `SpecFile` definitions, atomically, and removed on shutdown.
 *
 * Whoever can call a plugin controls what it does as root, so a port that anyone who reaches it may call is
 * logged as a warning; with TLS and a client CA the handshake refuses a caller without a certificate signed by it.
 *
 * @since 0.1.0
 */
import { SpecFile } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as HttpServer from "effect/http/HttpServer"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Path from "node:path"
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
      const file = specFile(name, listen.specDir ?? defaultSpecDir, url, listen.tls)
      yield* Effect.acquireRelease(
        Effect.try({
          try: () => writeAtomically(file.path, file.content),
          catch: (e) => new ListenError({ address: file.path, reason: `could not write: ${(e as Error).message}` })
        }),
        () => Effect.sync(() => Fs.rmSync(file.path, { force: true }))
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
