/**
 * Engine API routes as an authorization plugin needs them: the `RequestUri` the daemon forwards
 * (`/v1.41/containers/abc/exec?x=1`) matched against a table of the Engine API's routes, across the optional
 * `/vX.Y` prefix, with named parameters (`containers/{id}/exec` with `id = "abc"`).
 *
 * The path is matched the way the daemon's router sees it: percent-escapes decoded, `.`/`..` and repeated slashes
 * resolved (the router redirects unclean paths to their clean form, which is then authorized again), so
 * `/v1.41/containers/cre%61te` is `containers/create`, not an unknown route a policy would let through.
 *
 * @since 0.1.0
 */
import * as Path from "node:path"

/**
 * A route template: segments separated by `/`, and parameters matched as the daemon's router matches them. The
 * daemon registers most of its routes with `{name:.*}`, so a parameter takes any text, slashes included: a container
 * can be named `p/x` (the alias `docker run --link c1:x` gives it in container `p`), and `containers/p/x/exec` is an
 * exec in it. Only the swarm objects' routes (`nodes`, `services`, `tasks`, `secrets`, `configs`) take one segment.
 * `{name*}` marks the parameters that hold slashes by nature (image and plugin references, e.g.
 * `images/{name*}/json` for `images/library/busybox:latest/json`).
 *
 * @since 0.1.0
 */
export type Template = string

/**
 * One entry of the route table: the HTTP methods it answers and its template.
 *
 * @since 0.1.0
 */
export interface RouteSpec {
  readonly methods: ReadonlyArray<string>
  readonly template: Template
}

const r = (methods: string, template: Template): RouteSpec => ({ methods: methods.split(","), template })

/**
 * The Engine API routes (API 1.41, Engine 20.10), fixed routes before parameterised ones that could also match
 * them (e.g. `images/create` before `images/{name*}`).
 *
 * @since 0.1.0
 */
export const routes: ReadonlyArray<RouteSpec> = [
  r("GET,HEAD", "_ping"),
  r("GET", "version"),
  r("GET", "info"),
  r("GET", "events"),
  r("POST", "auth"),
  r("GET", "system/df"),
  r("POST", "session"),
  r("GET", "containers/json"),
  r("POST", "containers/create"),
  r("POST", "containers/prune"),
  r("GET", "containers/{id}/json"),
  r("GET", "containers/{id}/top"),
  r("GET", "containers/{id}/logs"),
  r("GET", "containers/{id}/changes"),
  r("GET", "containers/{id}/export"),
  r("GET", "containers/{id}/stats"),
  r("POST", "containers/{id}/resize"),
  r("POST", "containers/{id}/start"),
  r("POST", "containers/{id}/stop"),
  r("POST", "containers/{id}/restart"),
  r("POST", "containers/{id}/kill"),
  r("POST", "containers/{id}/update"),
  r("POST", "containers/{id}/rename"),
  r("POST", "containers/{id}/pause"),
  r("POST", "containers/{id}/unpause"),
  r("POST", "containers/{id}/attach"),
  r("GET", "containers/{id}/attach/ws"),
  r("POST", "containers/{id}/wait"),
  r("GET,HEAD,PUT", "containers/{id}/archive"),
  r("POST", "containers/{id}/exec"),
  r("DELETE", "containers/{id}"),
  r("POST", "exec/{id}/start"),
  r("POST", "exec/{id}/resize"),
  r("GET", "exec/{id}/json"),
  r("GET", "images/json"),
  r("POST", "images/create"),
  r("GET", "images/search"),
  r("POST", "images/prune"),
  r("GET", "images/get"),
  r("POST", "images/load"),
  r("GET", "images/{name*}/json"),
  r("GET", "images/{name*}/history"),
  r("POST", "images/{name*}/push"),
  r("POST", "images/{name*}/tag"),
  r("GET", "images/{name*}/get"),
  r("DELETE", "images/{name*}"),
  r("POST", "build"),
  r("POST", "build/prune"),
  r("POST", "build/cancel"),
  r("POST", "commit"),
  r("GET", "distribution/{name*}/json"),
  r("GET", "networks"),
  r("POST", "networks/create"),
  r("POST", "networks/prune"),
  r("POST", "networks/{id}/connect"),
  r("POST", "networks/{id}/disconnect"),
  r("GET,DELETE", "networks/{id}"),
  r("GET", "volumes"),
  r("POST", "volumes/create"),
  r("POST", "volumes/prune"),
  r("GET,DELETE", "volumes/{name}"),
  r("GET,POST", "swarm"),
  r("POST", "swarm/init"),
  r("POST", "swarm/join"),
  r("POST", "swarm/leave"),
  r("POST", "swarm/update"),
  r("GET", "swarm/unlockkey"),
  r("POST", "swarm/unlock"),
  r("GET", "nodes"),
  r("POST", "nodes/{id}/update"),
  r("GET,DELETE", "nodes/{id}"),
  r("GET", "services"),
  r("POST", "services/create"),
  r("POST", "services/{id}/update"),
  r("GET", "services/{id}/logs"),
  r("GET,DELETE", "services/{id}"),
  r("GET", "tasks"),
  r("GET", "tasks/{id}/logs"),
  r("GET", "tasks/{id}"),
  r("GET", "secrets"),
  r("POST", "secrets/create"),
  r("POST", "secrets/{id}/update"),
  r("GET,DELETE", "secrets/{id}"),
  r("GET", "configs"),
  r("POST", "configs/create"),
  r("POST", "configs/{id}/update"),
  r("GET,DELETE", "configs/{id}"),
  r("GET", "plugins"),
  r("GET", "plugins/privileges"),
  r("POST", "plugins/pull"),
  r("POST", "plugins/create"),
  r("GET", "plugins/{name*}/json"),
  r("POST", "plugins/{name*}/enable"),
  r("POST", "plugins/{name*}/disable"),
  r("POST", "plugins/{name*}/upgrade"),
  r("POST", "plugins/{name*}/push"),
  r("POST", "plugins/{name*}/set"),
  r("DELETE", "plugins/{name*}")
]

/**
 * Every template of the table, for validating what a policy names.
 *
 * @since 0.1.0
 */
export const templates: ReadonlySet<Template> = new Set(routes.map((route) => route.template))

/**
 * A request target as the plugin should reason about it.
 *
 * @since 0.1.0
 */
export interface EngineRoute {
  /** The API version of the `/vX.Y` prefix, absent when the client sent none. */
  readonly version: string | undefined
  /** The clean, decoded path without the version prefix and without the leading slash, e.g. `containers/abc/exec`. */
  readonly path: string
  /** The matched template (e.g. `containers/{id}/exec`), or `undefined` for a path outside the table. */
  readonly template: Template | undefined
  /** The template's named parameters, decoded. */
  readonly params: Readonly<Record<string, string>>
  /** The query string, every value of each key in order (an object without a prototype: every key was sent). */
  readonly query: Readonly<Record<string, ReadonlyArray<string>>>
}

interface Compiled {
  readonly spec: RouteSpec
  readonly pattern: RegExp
  readonly names: ReadonlyArray<string>
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** The route families the daemon registers with a one-segment `{id}` (swarm objects); the others take `{name:.*}`. */
const oneSegment: ReadonlySet<string> = new Set(["nodes", "services", "tasks", "secrets", "configs"])

const compile = (spec: RouteSpec): Compiled => {
  const names: Array<string> = []
  const segments = spec.template.split("/")
  const single = oneSegment.has(segments[0]!)
  const source = segments
    .map((segment) => {
      const param = /^\{([a-zA-Z]+)(\*?)\}$/.exec(segment)
      if (param === null) return escapeRegExp(segment)
      names.push(param[1]!)
      return single && param[2] !== "*" ? "([^/]+)" : "(.+)"
    })
    .join("/")
  return { spec, pattern: new RegExp(`^${source}$`), names }
}

const compiled: ReadonlyArray<Compiled> = routes.map(compile)

const versionPrefix = /^\/v([0-9.]+)(?=\/|$)/

/** Decodes percent-escapes; a malformed escape is kept as it is (the daemon's router would not match it either). */
const decode = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/**
 * Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte; a `%` not followed by two hexadecimal digits makes the text
 * unreadable (`undefined`).
 */
const queryUnescape = (text: string): string | undefined => {
  if (/%(?![0-9a-fA-F]{2})/.test(text)) return undefined
  const parts = text.replace(/\+/g, " ").split(/(%[0-9a-fA-F]{2})/)
  return Buffer.concat(
    parts.map((part, i) => (i % 2 === 1 ? Buffer.from([parseInt(part.slice(1), 16)]) : Buffer.from(part, "utf8")))
  ).toString("utf8")
}

// Read as Go's `url.ParseQuery` reads it, since the daemon's handlers take the first value it keeps: a pair holding a
// `;` or a malformed escape is dropped (`build` reads `r.FormValue`, which ignores the error, so in
// `?networkmode=%zz&networkmode=host` the first value is `host`; other handlers refuse such a query). Without a
// prototype, as Node's `querystring.parse` answers: `?constructor=1` or `?__proto__=1` is a key like any other, not
// the object's own machinery.
const parseQuery = (search: string): Record<string, ReadonlyArray<string>> => {
  const out: Record<string, Array<string>> = Object.create(null)
  for (const pair of search.split("&")) {
    if (pair === "" || pair.includes(";")) continue
    const at = pair.indexOf("=")
    const key = queryUnescape(at < 0 ? pair : pair.slice(0, at))
    const value = queryUnescape(at < 0 ? "" : pair.slice(at + 1))
    if (key === undefined || value === undefined) continue
    const values = out[key] ?? []
    values.push(value)
    out[key] = values
  }
  return out
}

/**
 * The path of a request target. Go's server also takes the absolute form (`POST http://docker/v1.41/containers/create`)
 * and routes it by its path alone, while the daemon forwards the target as sent: read whole, it would be an unknown
 * route that no rule names. A scheme is what Go's URL parser takes for one (a letter, then letters, digits, `+`, `-`
 * or `.`, then `:`), an authority (`//host`) runs to the next `/`; after a scheme, a target with no path is opaque
 * (Go's path is then empty).
 */
const pathOfTarget = (target: string): string => {
  const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:/.exec(target)
  if (scheme === null) return target
  const rest = target.slice(scheme[0].length)
  if (rest.startsWith("//")) {
    const slash = rest.indexOf("/", 2)
    return slash < 0 ? "" : rest.slice(slash)
  }
  return rest.startsWith("/") ? rest : ""
}

/**
 * Splits a `RequestUri` into its clean path, version and query. The path is decoded and cleaned before the version
 * prefix is taken off, as the daemon's router does; an absolute-form target is read by its path.
 *
 * @since 0.1.0
 */
export const split = (
  uri: string
): { readonly version: string | undefined; readonly path: string; readonly search: string } => {
  const queryAt = uri.indexOf("?")
  const rawPath = pathOfTarget(queryAt < 0 ? uri : uri.slice(0, queryAt))
  const search = queryAt < 0 ? "" : uri.slice(queryAt + 1)
  const clean = Path.posix.normalize(`/${decode(rawPath)}`).replace(/\/+$/, "") || "/"
  const version = versionPrefix.exec(clean)
  const path = (version === null ? clean : clean.slice(version[0].length)).replace(/^\/+/, "")
  return { version: version?.[1], path, search }
}

/**
 * Matches a request against the table. A method the template does not answer still matches the template when no
 * other one does (the daemon then answers 404/405, and a policy should see what was asked for); pass no method to
 * match on the path alone.
 *
 * @since 0.1.0
 */
export const match = (method: string | undefined, uri: string): EngineRoute => {
  const { version, path, search } = split(uri)
  const upper = method?.toUpperCase()
  let fallback: { readonly route: Compiled; readonly found: RegExpExecArray } | undefined
  for (const route of compiled) {
    const found = route.pattern.exec(path)
    if (found === null) continue
    if (upper === undefined || route.spec.methods.includes(upper)) return build(version, path, search, route, found)
    fallback ??= { route, found }
  }
  return fallback === undefined
    ? { version, path, template: undefined, params: {}, query: parseQuery(search) }
    : build(version, path, search, fallback.route, fallback.found)
}

const build = (
  version: string | undefined,
  path: string,
  search: string,
  route: Compiled,
  found: RegExpExecArray
): EngineRoute => {
  const params: Record<string, string> = {}
  route.names.forEach((name, i) => {
    params[name] = found[i + 1]!
  })
  return { version, path, template: route.spec.template, params, query: parseQuery(search) }
}

/**
 * The first value of a query parameter, the one the daemon's handlers read (`r.FormValue`); `undefined` when
 * absent.
 *
 * @since 0.1.0
 */
export const queryValue = (route: EngineRoute, key: string): string | undefined => route.query[key]?.[0]
