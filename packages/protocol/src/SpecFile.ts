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
 * Where a plugin listens, as the daemon dials it (`pkg/plugins` `newTransport` and go-connections `sockets`): a Unix
 * socket for `unix://`, and plain HTTP over TCP for every other scheme (`tcp://`, `http://`, `anything://`) except
 * `https://`, which is HTTPS. The path of a TCP URL is dropped: calls always go to `/<Subsystem>.<Method>`.
 *
 * @since 0.1.0
 */
export type Address =
  | { readonly _tag: "Unix"; readonly path: string }
  | { readonly _tag: "Tcp"; readonly host: string; readonly port: number; readonly https: boolean }

/**
 * The TLS settings the daemon ends up using for an `https://` plugin (go-connections `tlsconfig.Client`).
 *
 * @since 0.1.0
 */
export interface Tls {
  /** PEM CA bundle added to the system roots (read only when verifying); without one nothing is verified. */
  readonly caFile?: string
  /** Client certificate and key (PEM), always given together. */
  readonly certFile?: string
  readonly keyFile?: string
  /** Passphrase of an encrypted key. */
  readonly passphrase?: string
  /** `ExclusiveRootPools`: the CA file is the only trusted root, the system pool is left out. */
  readonly exclusiveRootPools?: boolean
  /** `MinVersion` (1.2 unless raised to 1.3). */
  readonly minVersion?: "TLSv1.3"
  readonly insecureSkipVerify: boolean
}

/**
 * A parsed spec file.
 *
 * @since 0.1.0
 */
export interface Spec {
  /** The URL as written (a `.spec` file's trimmed of white space). */
  readonly url: string
  readonly address: Address
  /** How an `https://` address is verified. */
  readonly tls: Tls
}

/**
 * The `TLSConfig` object of a `.json` spec file (go-connections `tlsconfig.Options`). `MinVersion` is Go's
 * `uint16` (`0x303` = 771 for TLS 1.2, `0x304` = 772 for 1.3); `ClientAuth` is read but only matters to servers.
 *
 * @since 0.1.0
 */
export const TlsConfig = Schema.Struct({
  CAFile: Schema.optionalKey(Schema.String),
  CertFile: Schema.optionalKey(Schema.String),
  KeyFile: Schema.optionalKey(Schema.String),
  InsecureSkipVerify: Schema.optionalKey(Schema.Boolean),
  ExclusiveRootPools: Schema.optionalKey(Schema.Boolean),
  MinVersion: Schema.optionalKey(Schema.Int),
  Passphrase: Schema.optionalKey(Schema.String),
  ClientAuth: Schema.optionalKey(Schema.Int)
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

/** Go's `stringContainsCTLByte`: ASCII control characters and DEL. */
const hasControl = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x20 || code === 0x7f) return true
  }
  return false
}

/** `sun_path`: go-connections refuses longer socket paths before dialing. */
const maxUnixSocketPath = 108

/** Go's `unescape`: `%XX` decoded, a malformed escape is an error. */
const unescapeUrl = (text: string): Result.Result<string, string> => {
  const bad = /%(?![0-9A-Fa-f]{2})/.exec(text)
  if (bad !== null) return Result.fail(`invalid URL escape ${JSON.stringify(text.slice(bad.index, bad.index + 3))}`)
  try {
    return Result.succeed(decodeURIComponent(text))
  } catch {
    // Escapes that are not UTF-8 stay as bytes in Go; a socket path or host made of them is not worth supporting.
    return Result.fail(`${JSON.stringify(text)} has escapes that are not UTF-8`)
  }
}

// What Go's `url.Parse` takes in a host besides letters, digits, non-ASCII text and `%` escapes (`shouldEscape` in
// host mode): the unreserved marks and the sub-delimiters.
const hostCharacter = /[A-Za-z0-9\-._~!$&'()*+,;=:[\]<>"%\u0080-\uffff]/

/**
 * Go's check of a host as written (before `%` escapes are decoded): a character it refuses (a space, `{`, `|`, ...)
 * or an escape of an ASCII character other than `%25` (RFC 3986 keeps escapes in hosts for non-ASCII bytes).
 */
const checkHost = (host: string): string | undefined => {
  for (let i = 0; i < host.length; i++) {
    const c = host[i]!
    if (!hostCharacter.test(c)) return `invalid character ${JSON.stringify(c)} in host name`
    if (c === "%" && /^[0-7][0-9A-Fa-f]$/.test(host.slice(i + 1, i + 3)) && host.slice(i, i + 3) !== "%25") {
      return `invalid URL escape ${JSON.stringify(host.slice(i, i + 3))}`
    }
  }
  return undefined
}

/** Go's host and port check of an authority (after any `user@`): `[v6]:port` or `host:port`, digits only. */
const splitHost = (hostport: string): Result.Result<{ host: string; port: string }, string> => {
  if (hostport.startsWith("[")) {
    const close = hostport.indexOf("]")
    if (close < 0) return Result.fail(`missing ']' in host ${JSON.stringify(hostport)}`)
    const rest = hostport.slice(close + 1)
    if (rest !== "" && !/^:\d*$/.test(rest)) return Result.fail(`invalid port ${JSON.stringify(rest)} after host`)
    return Result.succeed({ host: hostport.slice(1, close), port: rest.slice(1) })
  }
  const colon = hostport.lastIndexOf(":")
  if (colon < 0) return Result.succeed({ host: hostport, port: "" })
  const port = hostport.slice(colon)
  if (!/^:\d*$/.test(port)) return Result.fail(`invalid port ${JSON.stringify(port)} after host`)
  return Result.succeed({ host: hostport.slice(0, colon), port: port.slice(1) })
}

/**
 * Parses a plugin address URL as the daemon does: Go's `url.Parse`, then what `newTransport` dials. `unix://` dials
 * the URL's host when it has one (`unix://rel.sock`, `unix://host/ignored` dial `rel.sock` and `host`), else its
 * path; `npipe://` is refused (Windows only); every other scheme is plain HTTP to the host, `https://` HTTPS, with
 * the default port 80 or 443. A value without a scheme fails with the daemon's own `Unknown protocol`; one the
 * daemon would take but could only dial nowhere (no host, an empty or over-long socket path) fails here too.
 *
 * @since 0.1.0
 */
export const parseUrl = (url: string): Result.Result<Address, string> => {
  const shown = JSON.stringify(url)
  if (hasControl(url)) return Result.fail(`${shown}: net/url: invalid control character in URL`)
  if (url.startsWith(":")) return Result.fail(`${shown}: missing protocol scheme`)
  const scheme = schemePattern.exec(url)?.[1]?.toLowerCase()
  if (scheme === undefined) {
    return Result.fail(
      `Unknown protocol: ${shown} has no scheme (expected unix://PATH, tcp://HOST:PORT or https://HOST:PORT)`
    )
  }
  // The fragment, then the query, are cut off before the rest is read.
  let rest = url.slice(scheme.length + 1).replace(/#.*$/s, "")
  rest = rest.replace(/\?.*$/s, "")
  let authority = ""
  let path = ""
  if (rest.startsWith("//")) {
    const slash = rest.indexOf("/", 2)
    authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash)
    path = slash < 0 ? "" : rest.slice(slash)
  } else if (rest.startsWith("/")) {
    path = rest
  }
  // Anything else is an opaque URL (`unix:x.sock`, `localhost:8080`): no host and no path.
  const hostport = authority.slice(authority.lastIndexOf("@") + 1)
  const split = splitHost(hostport)
  if (Result.isFailure(split)) return Result.fail(`${shown}: ${split.failure}`)
  const refused = checkHost(split.success.host)
  if (refused !== undefined) return Result.fail(`${shown}: ${refused}`)
  const host = unescapeUrl(split.success.host)
  if (Result.isFailure(host)) return Result.fail(`${shown}: ${host.failure}`)
  const decodedPath = unescapeUrl(path)
  if (Result.isFailure(decodedPath)) return Result.fail(`${shown}: ${decodedPath.failure}`)
  if (scheme === "unix") {
    const socket = hostport !== "" ? hostport : decodedPath.success
    if (socket === "") {
      return Result.fail(`${shown} names no socket path (expected unix:///path/to/plugin.sock)`)
    }
    if (Buffer.byteLength(socket) > maxUnixSocketPath) {
      return Result.fail(`unix socket path ${JSON.stringify(socket)} is too long`)
    }
    return Result.succeed({ _tag: "Unix", path: socket })
  }
  if (scheme === "npipe") return Result.fail(`${shown}: protocol not available (npipe:// is for Windows named pipes)`)
  if (host.success === "") {
    const opaque = !rest.startsWith("/") && rest !== ""
    return Result.fail(
      opaque
        ? `${shown} reads as the scheme "${scheme}" with no host: write tcp://${url} (or https://)`
        : `${shown} names no host`
    )
  }
  const https = scheme === "https"
  const port = split.success.port === "" ? (https ? 443 : 80) : Number(split.success.port)
  if (port > 65535) return Result.fail(`${shown}: invalid port ${port}`)
  // An IPv6 address needs its brackets: the daemon dials `::1:8080` as written, which Go's dialer refuses.
  if (!hostport.startsWith("[") && host.success.includes(":")) {
    return Result.fail(`${shown}: too many colons in address (write an IPv6 host in brackets: [::1]:8080)`)
  }
  return Result.succeed({ _tag: "Tcp", host: host.success, port, https })
}

// Go's `strings.TrimSpace`: Unicode white space, which takes in U+0085 and leaves out the byte-order mark U+FEFF
// (JavaScript's `trim` does the opposite for both). A loop rather than a `…+$` pattern, which backtracks.
const goSpace = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/
const goTrimSpace = (text: string): string => {
  let start = 0
  let end = text.length
  while (start < end && goSpace.test(text[start]!)) start++
  while (end > start && goSpace.test(text[end - 1]!)) end--
  return text.slice(start, end)
}

/**
 * Parses the content of a `.spec` file: the whole file, trimmed of white space as Go trims it, is one URL. Such
 * plugins get no certificate verification.
 *
 * @since 0.1.0
 */
export const parseSpec = (content: string): Result.Result<Spec, string> => {
  const url = goTrimSpace(content)
  return Result.map(parseUrl(url), (address) => ({ url, address, tls: { insecureSkipVerify: true } }))
}

type Kind = "string" | "bool" | "int" | "object"

interface GoField {
  readonly name: string
  readonly kind: Kind
  /** Go's type name, for its error text. */
  readonly type: string
  readonly max?: number
}

const tlsFields: ReadonlyArray<GoField> = [
  { name: "CAFile", kind: "string", type: "string" },
  { name: "CertFile", kind: "string", type: "string" },
  { name: "KeyFile", kind: "string", type: "string" },
  { name: "InsecureSkipVerify", kind: "bool", type: "bool" },
  { name: "ClientAuth", kind: "int", type: "tls.ClientAuthType", max: 2 ** 63 },
  { name: "ExclusiveRootPools", kind: "bool", type: "bool" },
  { name: "MinVersion", kind: "int", type: "uint16", max: 65535 },
  { name: "Passphrase", kind: "string", type: "string" }
]

const pluginFields: ReadonlyArray<GoField> = [
  { name: "Addr", kind: "string", type: "string" },
  { name: "TLSConfig", kind: "object", type: "tlsconfig.Options" }
]

/** Go's key folding (`encoding/json` matches field names this way): simple case folding, ASCII names only here. */
const fold = (key: string): string =>
  Array.from(key, (c) => {
    const folded = c.toLowerCase().toUpperCase()
    return folded.length === 1 ? folded : c
  }).join("")

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Go's name for the kind of a JSON value, as its type errors say it. */
const jsonKind = (value: unknown): string =>
  Array.isArray(value) || value instanceof Entries
    ? Array.isArray(value)
      ? "array"
      : "object"
    : typeof value === "boolean"
      ? "bool"
      : typeof value === "number"
        ? "number"
        : typeof value

/** A JSON object with every key kept, duplicates included, in order (JSON.parse keeps only the last of each). */
class Entries {
  readonly entries: ReadonlyArray<readonly [string, unknown]>
  constructor(entries: ReadonlyArray<readonly [string, unknown]>) {
    this.entries = entries
  }
}

/** Reads the first JSON value of `text` with its objects as `Entries`; what follows it is ignored. */
const readFirst = (text: string): Result.Result<unknown, string> => {
  let i = 0
  const space = () => {
    while (i < text.length && " \t\r\n".includes(text[i]!)) i++
  }
  const fail = (what: string): never => {
    throw new Error(i >= text.length ? "unexpected EOF" : `invalid character ${JSON.stringify(text[i])} ${what}`)
  }
  const value = (): unknown => {
    space()
    const c = text[i]
    if (c === "{") {
      i++
      const entries: Array<readonly [string, unknown]> = []
      space()
      if (text[i] === "}") {
        i++
        return new Entries(entries)
      }
      for (;;) {
        space()
        if (text[i] !== '"') fail("looking for beginning of object key string")
        const key = value() as string
        space()
        if (text[i] !== ":") fail("after object key")
        i++
        entries.push([key, value()])
        space()
        if (text[i] === ",") {
          i++
          continue
        }
        if (text[i] === "}") {
          i++
          return new Entries(entries)
        }
        fail("after object key:value pair")
      }
    }
    if (c === "[") {
      i++
      const items: Array<unknown> = []
      space()
      if (text[i] === "]") {
        i++
        return items
      }
      for (;;) {
        items.push(value())
        space()
        if (text[i] === ",") {
          i++
          continue
        }
        if (text[i] === "]") {
          i++
          return items
        }
        fail("after array element")
      }
    }
    if (c === '"') {
      // To the closing quote; JSON.parse then checks the escapes and control characters in between.
      let j = i + 1
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1
      if (j >= text.length) {
        i = text.length
        fail("in string literal")
      }
      const literal = text.slice(i, j + 1)
      try {
        i = j + 1
        return JSON.parse(literal)
      } catch {
        i = j
        return fail("in string literal")
      }
    }
    const token = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i))
    if (token === null) fail("looking for beginning of value")
    i += token![0].length
    return JSON.parse(token![0])
  }
  space()
  if (i >= text.length) return Result.fail("EOF")
  try {
    return Result.succeed(value())
  } catch (e) {
    return Result.fail((e as Error).message)
  }
}

/**
 * Fills a Go struct from a JSON object as `encoding/json` does: every key, in order, goes to the field it names
 * ignoring case (so of two spellings of one field the last wins); `null` leaves a plain field as it was and sets a
 * pointer to nil; a nested object is decoded into the struct already there; unknown keys are ignored. A value of the
 * wrong type fails with Go's text, even when a later key would have been fine.
 */
const decodeStruct = (
  source: Entries,
  fields: ReadonlyArray<GoField>,
  into: Record<string, unknown>,
  path: string
): Result.Result<Record<string, unknown>, string> => {
  for (const [key, value] of source.entries) {
    const field = fields.find((f) => fold(f.name) === fold(key))
    if (field === undefined) continue
    const typeError = (shown: string) =>
      Result.fail(
        `json: cannot unmarshal ${shown} into Go struct field Plugin.${path}${field.name} of type ${field.type}`
      )
    if (value === null) {
      if (field.kind === "object") into[field.name] = null
      continue
    }
    switch (field.kind) {
      case "string":
        if (typeof value !== "string") return typeError(jsonKind(value))
        into[field.name] = value
        break
      case "bool":
        if (typeof value !== "boolean") return typeError(jsonKind(value))
        into[field.name] = value
        break
      case "int":
        if (typeof value !== "number") return typeError(jsonKind(value))
        if (!Number.isInteger(value) || value < 0 || value > field.max!) return typeError(`number ${value}`)
        into[field.name] = value
        break
      case "object": {
        if (!(value instanceof Entries)) return typeError(jsonKind(value))
        const current = into[field.name]
        const nested = decodeStruct(value, tlsFields, isRecord(current) ? current : {}, `${path}${field.name}.`)
        if (Result.isFailure(nested)) return nested
        into[field.name] = nested.success
      }
    }
  }
  return Result.succeed(into)
}

/** go-connections' `MinVersion` check: 0 keeps TLS 1.2, 1.2 and 1.3 are accepted, lower ones and others are not. */
const minVersionOf = (value: number | undefined): Result.Result<"TLSv1.3" | undefined, string> => {
  if (value === undefined || value === 0 || value === 0x0303) return Result.succeed(undefined)
  if (value === 0x0304) return Result.succeed("TLSv1.3")
  return Result.fail(
    value === 0x0301 || value === 0x0302
      ? `TLSConfig.MinVersion: requested minimum TLS version is too low. Should be at-least: 303`
      : `TLSConfig.MinVersion: invalid minimum TLS version: ${value.toString(16)}`
  )
}

/** The TLS settings of a decoded `.json` spec, checked as `tlsconfig.Client` checks them. */
const tlsOf = (config: typeof TlsConfig.Type | null | undefined): Result.Result<Tls, string> => {
  // No TLSConfig: Go's default client, which verifies against the system roots.
  if (config === undefined || config === null) return Result.succeed({ insecureSkipVerify: false })
  // Only one of the pair: the daemon reads the other as the file "" and fails.
  if (Boolean(config.CertFile) !== Boolean(config.KeyFile)) {
    const [given, missing] = config.CertFile ? ["CertFile", "KeyFile"] : ["KeyFile", "CertFile"]
    return Result.fail(
      `TLSConfig: ${given} is set but ${missing} is not; both are needed (the daemon fails with "could not load X509 key pair: open : no such file or directory")`
    )
  }
  return Result.map(
    minVersionOf(config.MinVersion),
    (minVersion): Tls => ({
      ...(config.CAFile ? { caFile: config.CAFile } : {}),
      ...(config.CertFile && config.KeyFile ? { certFile: config.CertFile, keyFile: config.KeyFile } : {}),
      ...(config.Passphrase ? { passphrase: config.Passphrase } : {}),
      ...(config.ExclusiveRootPools ? { exclusiveRootPools: true } : {}),
      ...(minVersion === undefined ? {} : { minVersion }),
      // The daemon switches verification off when TLSConfig names no CA file.
      insecureSkipVerify: !config.CAFile || (config.InsecureSkipVerify ?? false)
    })
  )
}

const decodeJsonSpec = WireCodec.decoder(JsonSpec)

const fromDecoded = (value: Record<string, unknown>): Result.Result<Spec, string> =>
  Result.flatMap(decodeJsonSpec(value), (spec) =>
    Result.flatMap(
      Result.mapError(parseUrl(spec.Addr), (e) => `Addr: ${e}`),
      (address): Result.Result<Spec, string> =>
        // Taken as written: the daemon does not trim `Addr`.
        Result.map(tlsOf(spec.TLSConfig), (tls): Spec => ({ url: spec.Addr, address, tls }))
    )
  )

/** A parsed JSON value (plain objects) as the ordered form `decodeStruct` reads. */
const toEntries = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(toEntries)
    : isRecord(value)
      ? new Entries(Object.entries(value).map(([k, v]) => [k, toEntries(v)] as const))
      : value

const fromEntries = (value: unknown): Result.Result<Spec, string> => {
  if (!(value instanceof Entries)) {
    return Result.fail(`expected a JSON object with an "Addr" field, got ${value === null ? "null" : jsonKind(value)}`)
  }
  return Result.flatMap(decodeStruct(value, pluginFields, {}, ""), fromDecoded)
}

/**
 * Builds a spec from the already-parsed value of a `.json` file (keys the parser merged cannot be told apart any
 * more: `parseJson` reads the text as the daemon does). TLS follows the daemon: with `TLSConfig` but no `CAFile`
 * verification is switched off; without `TLSConfig` an `https://` address is verified against the system roots.
 *
 * @since 0.1.0
 */
export const fromJsonValue = (value: unknown): Result.Result<Spec, string> => fromEntries(toEntries(value))

/**
 * Parses the content of a `.json` spec file as the daemon's `encoding/json` decoder reads it: the first JSON value
 * counts (what follows is ignored), keys match fields ignoring case, the last of duplicate keys wins, a type error
 * anywhere fails.
 *
 * @since 0.1.0
 */
export const parseJson = (content: string): Result.Result<Spec, string> =>
  Result.flatMap(
    Result.mapError(readFirst(content), (e) => `not valid JSON (${e})`),
    fromEntries
  )

/**
 * Renders an address back as the URL the daemon would accept.
 *
 * @since 0.1.0
 */
export const formatAddress = (address: Address): string =>
  address._tag === "Unix"
    ? `unix://${address.path}`
    : `${address.https ? "https" : "tcp"}://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}`
