/**
 * The transport the daemon uses: `node:http` over a Unix socket or TCP, `node:https` for `https://` addresses,
 * keep-alive connections, and exactly the daemon's headers (no `Content-Type`, `Content-Length` on JSON bodies,
 * chunked streams).
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import type { SpecFile } from "@docker-plugin-kit/protocol"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Tls from "node:tls"
import { readSmallFile } from "./internal/readSmallFile.ts"
import { AttemptFailed, daemonHeaders, ResponseBodyError, type Transport, type WireResponse } from "./Transport.ts"

/**
 * The TLS files of an `https://` address could not be read.
 *
 * @since 0.1.0
 */
export class TlsFilesError extends Data.TaggedError("TlsFilesError")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

/**
 * Host header of local connections. Debian's 20.10.24 sends an empty one; newer engines send this; plugins must
 * accept any value.
 *
 * @since 0.1.0
 */
export const localHost = "plugin.moby.localhost"

const describe = (e: unknown): string => {
  const error = e as NodeJS.ErrnoException & { readonly address?: string }
  if (error?.code === "ECONNRESET" && error.syscall === undefined) {
    return "the plugin closed the connection without answering (socket hang up)"
  }
  if (error?.code === "ENOENT" || error?.code === "ECONNREFUSED" || error?.code === "ECONNRESET") {
    return `${error.syscall ?? "connect"} ${error.code}${error.address ? ` ${error.address}` : ""}`
  }
  return e instanceof Error ? e.message : String(e)
}

const readPem = (label: string, file: string): Buffer => {
  try {
    // The file is named by a spec file: a FIFO or a device there must fail, not hang.
    return readSmallFile(file)
  } catch (e) {
    throw new TlsFilesError({ reason: `cannot read the TLS ${label} ${file}: ${(e as Error).message}` })
  }
}

/** Go's `AppendCertsFromPEM` succeeds when at least one `CERTIFICATE` block of the file parses. */
const hasCertificate = (pem: Buffer): boolean =>
  (pem.toString("latin1").match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).some(
    (block) => {
      try {
        new Crypto.X509Certificate(block)
        return true
      } catch {
        return false
      }
    }
  )

/**
 * The roots Go's `crypto/x509` trusts: the host's store (`SSL_CERT_FILE`, `SSL_CERT_DIR`, `/etc/ssl/certs`, ...),
 * which holds a private CA an operator installed, rather than the Mozilla bundle compiled into Node.
 */
const systemRoots = (): ReadonlyArray<string> => Tls.getCACertificates("system")

/**
 * The TLS options of `tls`, loaded as go-connections' `tlsconfig.Client` loads them: the CA only when verifying
 * (added to the host's trust store, or alone with `exclusiveRootPools`; a file without a certificate fails), the
 * key pair whenever it is named (a pair that does not match, a wrong passphrase fail), the minimum version; no
 * `caFile` while verifying means the host's trust store. Throws `TlsFilesError` for a file that cannot be read or
 * used, or a key pair given by half.
 *
 * @since 0.1.0
 */
export const tlsOptions = (
  tls: SpecFile.Tls,
  options: {
    /** Leave the host's store out (for plain HTTP, where the roots are never used but the files still checked). */
    readonly withoutSystemRoots?: boolean
  } = {}
): Tls.ConnectionOptions => {
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    const missing = tls.certFile === undefined ? "certificate" : "key"
    throw new TlsFilesError({ reason: `could not load X509 key pair: no ${missing} file given with the other` })
  }
  const verify = !tls.insecureSkipVerify
  const ca = (): Array<string | Buffer> => {
    const roots = tls.exclusiveRootPools || options.withoutSystemRoots ? [] : [...systemRoots()]
    if (tls.caFile === undefined) return roots
    const pem = readPem("CA", tls.caFile)
    if (!hasCertificate(pem)) {
      throw new TlsFilesError({
        reason: `failed to append certificates from PEM file: no certificate in the TLS CA file ${tls.caFile}`
      })
    }
    return [...roots, pem]
  }
  const pair = (certFile: string, keyFile: string) => {
    const loaded = {
      cert: readPem("certificate", certFile),
      key: readPem("key", keyFile),
      ...(tls.passphrase === undefined ? {} : { passphrase: tls.passphrase })
    }
    try {
      // What tls.X509KeyPair checks, now rather than at each connection (where it would be retried as unreachable).
      Tls.createSecureContext(loaded)
    } catch (e) {
      throw new TlsFilesError({
        reason: `could not load X509 key pair ${certFile} and ${keyFile}: ${(e as Error).message}`
      })
    }
    return loaded
  }
  return {
    rejectUnauthorized: verify,
    minVersion: tls.minVersion ?? "TLSv1.2",
    ...(verify ? { ca: ca() } : {}),
    ...(tls.certFile !== undefined && tls.keyFile !== undefined ? pair(tls.certFile, tls.keyFile) : {})
  }
}

/** The daemon builds the TLS config of a `.json` spec before it looks at the scheme: its files are read for any. */
const agentFor = (address: SpecFile.Address, tls: SpecFile.Tls | undefined): Http.Agent => {
  const https = address._tag === "Tcp" && address.https
  const { rejectUnauthorized, ...context } = tlsOptions(tls ?? { insecureSkipVerify: false }, {
    withoutSystemRoots: !https
  })
  // One secure context for every connection: built from the host's few hundred roots, it takes tens of ms.
  return https
    ? new Https.Agent({ keepAlive: true, rejectUnauthorized, secureContext: Tls.createSecureContext(context) })
    : new Http.Agent({ keepAlive: true })
}

/**
 * A transport to `address` for the life of the scope (its connections are closed with it).
 *
 * @since 0.1.0
 */
export const make = (
  address: SpecFile.Address,
  tls?: SpecFile.Tls
): Effect.Effect<Transport, TlsFilesError, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.try({
        try: () => agentFor(address, tls),
        catch: (e) => (e instanceof TlsFilesError ? e : new TlsFilesError({ reason: describe(e) }))
      }),
      (agent) => Effect.sync(() => agent.destroy())
    ),
    (agent): Transport => {
      const secure = address._tag === "Tcp" && address.https
      const target =
        address._tag === "Unix"
          ? { socketPath: address.path, headers: { ...daemonHeaders, Host: localHost } }
          : { host: address.host, port: address.port, headers: daemonHeaders }
      const formatted =
        address._tag === "Unix"
          ? `unix://${address.path}`
          : `${secure ? "https" : "tcp"}://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}`
      return {
        address: formatted,
        send: (request) =>
          Effect.callback<WireResponse, AttemptFailed>((resume) => {
            let bodyStarted = false
            const options: Http.RequestOptions = { ...target, agent, method: "POST", path: request.path }
            const req = secure ? Https.request(options) : Http.request(options)
            req.once("response", (res) => {
              const headers: Record<string, string> = {}
              for (const [k, v] of Object.entries(res.headers)) {
                if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v
              }
              resume(
                Effect.succeed({
                  status: res.statusCode ?? 0,
                  headers,
                  body: NodeStream.fromReadable<Uint8Array, ResponseBodyError>({
                    evaluate: () => res,
                    onError: (e) => new ResponseBodyError({ reason: describe(e) })
                  })
                })
              )
            })
            req.once("error", (e) =>
              resume(Effect.fail(new AttemptFailed({ reason: describe(e), retryable: !bodyStarted })))
            )
            const body = request.body
            if (body._tag === "Stream") {
              // No Content-Length: node sends the stream chunked, as the daemon does for GraphDriver.ApplyDiff.
              // Not pulled before the connection is up (TLS handshake included): piped at once, the stream would
              // flow into the request's buffer while a missing socket or a refused connect is still being found,
              // and that failure, which the daemon retries with the stream untouched, could not be retried.
              const start = () => {
                if (req.destroyed) return
                const readable = NodeStream.toReadableNever(body.stream)
                readable.once("data", () => {
                  bodyStarted = true
                })
                readable.once("error", (e) => {
                  // The caller's stream failed: sending it again would fail again.
                  bodyStarted = true
                  req.destroy(e)
                })
                // A request that ends early (the plugin dropped the connection, the call was interrupted) does not
                // end its source: without this the caller's stream would stay suspended, its finalizers never run.
                req.once("close", () => readable.destroy())
                readable.pipe(req)
              }
              req.once("socket", (socket) => {
                // A kept-alive socket is connected (and past its handshake) already.
                if (!socket.connecting) return start()
                socket.once(socket instanceof Tls.TLSSocket ? "secureConnect" : "connect", start)
              })
            } else {
              const bytes = body._tag === "Bytes" ? body.bytes : new Uint8Array(0)
              req.setHeader("Content-Length", bytes.length)
              req.end(bytes)
            }
            return Effect.sync(() => req.destroy())
          })
      }
    }
  )
