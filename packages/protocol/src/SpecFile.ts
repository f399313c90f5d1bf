/**
 * The two spec-file formats through which the daemon finds a v1 plugin that does not sit in the socket folder:
 * `NAME.spec` (one URL) and `NAME.json` (`Addr` plus optional `TLSConfig`). Pure parsers with readable errors; the
 * client reads the files and decides which one wins.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as WireCodec from "./WireCodec.ts"

/**
 * Where a plugin listens: a Unix socket, or a TCP address spoken to in plain HTTP (`tcp://`, `http://`) or HTTPS
 * (`https://`). The path of a TCP URL is dropped, as the daemon does: calls always go to `/<Subsystem>.<Method>`.
 *
 * @since 0.1.0
 */
export type Address =
  | { readonly _tag: "Unix"; readonly path: string }
  | { readonly _tag: "Tcp"; readonly host: string; readonly port: number; readonly https: boolean }

/**
 * The TLS settings the daemon ends up using for an `https://` plugin.
 *
 * @since 0.1.0
 */
export interface Tls {
  /** PEM CA bundle added to the system roots; without one the certificate is not verified at all. */
  readonly caFile?: string
  /** Client certificate and key (PEM); sent only when both are given. */
  readonly certFile?: string
  readonly keyFile?: string
  readonly insecureSkipVerify: boolean
}

/**
 * A parsed spec file.
 *
 * @since 0.1.0
 */
export interface Spec {
  /** The URL as written (trimmed). */
  readonly url: string
  readonly address: Address
  /** How an `https://` address is verified. */
  readonly tls: Tls
}

/**
 * The `TLSConfig` object of a `.json` spec file (go-connections `tlsconfig.Options`; other fields are ignored).
 *
 * @since 0.1.0
 */
export const TlsConfig = Schema.Struct({
  CAFile: Schema.optionalKey(Schema.String),
  CertFile: Schema.optionalKey(Schema.String),
  KeyFile: Schema.optionalKey(Schema.String),
  InsecureSkipVerify: Schema.optionalKey(Schema.Boolean)
})

/**
 * A `.json` spec file. `Name` is shown in the docs but ignored: the file name is the plugin name.
 *
 * @since 0.1.0
 */
export const JsonSpec = Schema.Struct({
  Name: Schema.optionalKey(Schema.Unknown),
  Addr: Schema.String,
  TLSConfig: Schema.optionalKey(Schema.NullOr(TlsConfig))
})

/**
 * @since 0.1.0
 */
export type JsonSpec = typeof JsonSpec.Type

// Go's url.Parse: a scheme is a letter followed by letters, digits, `+`, `-` or `.`, then `:`.
const schemePattern = /^([A-Za-z][A-Za-z0-9+.-]*):/

const defaultPorts: Record<string, number> = { tcp: 80, http: 80, https: 443 }

/**
 * Parses a plugin address URL as the daemon does. A value without a scheme fails with the daemon's own
 * `Unknown protocol`.
 *
 * @since 0.1.0
 */
export const parseUrl = (text: string): Result.Result<Address, string> => {
  const url = text.trim()
  const scheme = schemePattern.exec(url)?.[1]?.toLowerCase()
  if (scheme === undefined) {
    return Result.fail(
      `Unknown protocol: ${JSON.stringify(url)} has no scheme (expected unix://PATH, tcp://HOST:PORT or https://HOST:PORT)`
    )
  }
  if (scheme === "unix") {
    // `unix:///abs.sock` has an empty host; `unix://rel.sock` puts the path in the host, which the daemon dials too.
    const rest = url.slice("unix:".length)
    const path = rest.startsWith("//") ? rest.slice(2) : rest.startsWith("/") ? rest : ""
    if (path === "") {
      return Result.fail(`${JSON.stringify(url)} names no socket path (expected unix:///path/to/plugin.sock)`)
    }
    return Result.succeed({ _tag: "Unix", path })
  }
  if (!(scheme in defaultPorts)) {
    return Result.fail(
      `unsupported protocol "${scheme}" in ${JSON.stringify(url)} (expected unix://, tcp://, http:// or https://)`
    )
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return Result.fail(`${JSON.stringify(url)} is not a valid URL`)
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1")
  if (host === "") return Result.fail(`${JSON.stringify(url)} names no host`)
  return Result.succeed({
    _tag: "Tcp",
    host,
    port: parsed.port === "" ? defaultPorts[scheme]! : Number(parsed.port),
    https: scheme === "https"
  })
}

/**
 * Parses the content of a `.spec` file: the whole file, trimmed, is one URL. Such plugins get no certificate
 * verification.
 *
 * @since 0.1.0
 */
export const parseSpec = (content: string): Result.Result<Spec, string> =>
  Result.map(parseUrl(content), (address) => ({ url: content.trim(), address, tls: { insecureSkipVerify: true } }))

// Go's encoding/json matches keys case-insensitively (an exact match wins); canonicalise before decoding.
const canonicalKeys = (value: unknown, names: ReadonlyArray<string>): unknown => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value
  const record = value as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const name of names) {
    const key = Object.hasOwn(record, name)
      ? name
      : Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase())
    if (key !== undefined) out[name] = record[key]
  }
  return out
}

const decodeJsonSpec = WireCodec.decoder(JsonSpec)

/**
 * Builds a spec from the decoded value of a `.json` file. TLS follows the daemon: with `TLSConfig` but no
 * `CAFile` verification is switched off; without `TLSConfig` an `https://` address is verified against the system
 * roots.
 *
 * @since 0.1.0
 */
export const fromJsonValue = (value: unknown): Result.Result<Spec, string> => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return Result.fail(`expected a JSON object with an "Addr" field, got ${value === null ? "null" : typeof value}`)
  }
  const top = canonicalKeys(value, ["Name", "Addr", "TLSConfig"]) as Record<string, unknown>
  if (top.TLSConfig !== undefined) {
    top.TLSConfig = canonicalKeys(top.TLSConfig, ["CAFile", "CertFile", "KeyFile", "InsecureSkipVerify"])
  }
  return Result.flatMap(decodeJsonSpec(top), (spec) =>
    Result.map(
      Result.mapError(parseUrl(spec.Addr), (e) => `Addr: ${e}`),
      (address): Spec => {
        const config = spec.TLSConfig ?? undefined
        const files: { caFile?: string; certFile?: string; keyFile?: string } = {}
        if (config?.CAFile) files.caFile = config.CAFile
        if (config?.CertFile) files.certFile = config.CertFile
        if (config?.KeyFile) files.keyFile = config.KeyFile
        const insecureSkipVerify =
          config === undefined ? false : files.caFile === undefined || (config.InsecureSkipVerify ?? false)
        return { url: spec.Addr.trim(), address, tls: { ...files, insecureSkipVerify } }
      }
    )
  )
}

/**
 * Parses the content of a `.json` spec file.
 *
 * @since 0.1.0
 */
export const parseJson = (content: string): Result.Result<Spec, string> => {
  let value: unknown
  try {
    value = JSON.parse(content)
  } catch (e) {
    return Result.fail(`not valid JSON (${(e as Error).message})`)
  }
  return fromJsonValue(value)
}

/**
 * Renders an address back as the URL the daemon would accept.
 *
 * @since 0.1.0
 */
export const formatAddress = (address: Address): string =>
  address._tag === "Unix"
    ? `unix://${address.path}`
    : `${address.https ? "https" : "tcp"}://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}`
