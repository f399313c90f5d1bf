/**
 * A plugin API (a subsystem such as `VolumeDriver`): its manifest name, its endpoints, and the driver interface
 * derived from them.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Endpoint from "./Endpoint.ts"

/**
 * The `Implements` entries the daemon knows, exactly as it compares them (case-sensitive).
 *
 * @since 0.1.0
 */
export type Subsystem =
  | "VolumeDriver"
  | "NetworkDriver"
  | "IpamDriver"
  | "GraphDriver"
  | "authz"
  | "LogDriver"
  | "secretprovider"
  | "MetricsCollector"

/**
 * Name of the field in which a 200 answer carries an error: `Err` everywhere except IPAM (`Error`).
 *
 * @since 0.1.0
 */
export type ErrorField = Endpoint.ErrorField

/**
 * The endpoint declarations `make` takes, by driver method name.
 *
 * @since 0.1.0
 */
export type Specs = Record<string, Endpoint.Spec<Endpoint.Any>>

/**
 * The endpoints of an API once `make` has given each its path and method name.
 *
 * @since 0.1.0
 */
export type Complete<Prefix extends string, S extends Specs> = {
  readonly [K in keyof S & string]: Endpoint.Completed<S[K], Prefix, K>
}

/**
 * The Context key of an API's driver service.
 *
 * @since 0.1.0
 */
export type ServiceKey<Prefix extends string = string> = `@docker-plugin-kit/${Prefix}`

/**
 * A plugin API declaration.
 *
 * @since 0.1.0
 */
export interface PluginApi<
  Prefix extends string = string,
  Endpoints extends Record<string, Endpoint.Any> = Record<string, Endpoint.Any>
> {
  /** Path prefix, e.g. `VolumeDriver` or `AuthZPlugin`. */
  readonly prefix: Prefix
  /** The manifest entry, e.g. `VolumeDriver` or `authz` (one of `Subsystem` for the APIs the daemon knows). */
  readonly subsystem: string
  /** The `docker plugin` (v2) interface type, e.g. `docker.volumedriver/1.0`. */
  readonly interfaceType: string
  /** Field in which a 200 answer carries an error; every endpoint carries it too. */
  readonly errorField: ErrorField
  /** Endpoints keyed by driver method name, each stamped with the API's facts. */
  readonly endpoints: Endpoints
  /** Key of the Context service through which a driver for this API is provided. */
  readonly serviceKey: ServiceKey<Prefix>
}

/**
 * Any plugin API.
 *
 * @since 0.1.0
 */
export type Any = PluginApi<string, Record<string, Endpoint.Any>>

/**
 * Declares a plugin API from endpoint specs. Each endpoint gets the prefix, its path, its driver method name, the
 * API's error field, the daemon's per-call timeout and the server's default deadline (an endpoint's own timeout or
 * deadline wins; streamed endpoints get no deadline unless they declare one). Everything derived from an API (the
 * server's routes, the client, JSON Schema, conformance) reads these facts from the endpoint and nowhere else.
 *
 * @since 0.1.0
 */
export const make = <const Prefix extends string, const S extends Specs>(options: {
  readonly prefix: Prefix
  /** The `Implements` entry; one of `Subsystem` for the APIs the daemon knows. */
  readonly subsystem: Subsystem | (string & {})
  readonly interfaceType: string
  /** Default `Err`. */
  readonly errorField?: ErrorField
  /** The daemon's per-attempt timeout of every call of this API (default: none, it waits). */
  readonly daemonTimeout?: Duration.Input
  /** The server's default deadline of the API's JSON endpoints (default 2 minutes; streams: none). */
  readonly deadline?: Duration.Input
  readonly endpoints: S
}): PluginApi<Prefix, Complete<Prefix, S>> => {
  const errorField = options.errorField ?? "Err"
  const endpoints: Record<string, Endpoint.Any> = {}
  for (const [key, spec] of Object.entries(options.endpoints)) {
    endpoints[key] = Endpoint.complete(spec, {
      api: options.prefix,
      key,
      errorField,
      daemonTimeout: options.daemonTimeout,
      deadline: options.deadline
    })
  }
  return {
    prefix: options.prefix,
    subsystem: options.subsystem,
    interfaceType: options.interfaceType,
    errorField,
    endpoints: endpoints as Complete<Prefix, S>,
    serviceKey: `@docker-plugin-kit/${options.prefix}`
  }
}

/**
 * The method names of the optional endpoints.
 *
 * @since 0.1.0
 */
export type OptionalKeys<E extends Record<string, Endpoint.Any>> = {
  [K in keyof E]: E[K]["optional"] extends true ? K : never
}[keyof E]

/**
 * The driver interface of an API: one method per endpoint, optional where the endpoint is optional.
 *
 * @since 0.1.0
 */
export type Driver<A extends Any> = {
  readonly [K in Exclude<keyof A["endpoints"], OptionalKeys<A["endpoints"]>>]: Endpoint.Handler<A["endpoints"][K]>
} & {
  readonly [K in OptionalKeys<A["endpoints"]>]?: Endpoint.Handler<A["endpoints"][K]>
}

/**
 * What a driver Layer provides for `A`: the identity of its driver service in a Context. Structurally the same type
 * as the API's service class (`VolumeDriver.VolumeDriver`, ...), so a Layer built on either satisfies the other.
 *
 * @since 0.1.0
 */
export type DriverService<A extends Any> = Context.ServiceClass.Shape<ServiceKey<A["prefix"]>, Driver<A>>

/**
 * Any API's driver service: what the server, the harnesses and the conformance runners accept a Layer of. A Layer
 * that also provides something else (a port, a store) is refused by the compiler: provide that to the driver
 * Layer instead of merging it in.
 *
 * @since 0.1.0
 */
export interface AnyDriverService {
  readonly key: ServiceKey
}

/**
 * The Context key through which a driver of `api` is provided. Equal (by key) to the API's service class, so
 * generic code (the server, the client) can find a driver without importing its class.
 *
 * @since 0.1.0
 */
export const serviceOf = <A extends Any>(api: A): Context.Service<DriverService<A>, Driver<A>> =>
  Context.Service<DriverService<A>, Driver<A>>(api.serviceKey)

/**
 * Keys of `D` that no endpoint of `A` has, typed `never` so that a misspelt method is a compile error.
 *
 * @since 0.1.0
 */
export type NoUnknownKeys<A extends Any, D> = { readonly [K in Exclude<keyof D, keyof A["endpoints"]>]: never }

/**
 * The constructor of `api`'s drivers (each API module exports it as `make`): takes exactly the driver interface,
 * so an unknown or misspelt method (`requestPools`) does not compile, and gives the object back as the driver.
 *
 * @since 0.1.0
 */
export const driverConstructor =
  <A extends Any>(_api: A) =>
  <const D extends Driver<A>>(driver: D & NoUnknownKeys<A, D>): Driver<A> =>
    driver

/**
 * A driver method the server looked for and did not find; `nearest` is a key of the driver that looks like a
 * misspelling of it.
 *
 * @since 0.1.0
 */
export interface MissingMethod {
  readonly method: string
  readonly nearest: string | undefined
}

/** Levenshtein distance, case-insensitive: how many one-letter edits turn `a` into `b`. */
const distance = (a: string, b: string): number => {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  let previous = Array.from({ length: y.length + 1 }, (_, i) => i)
  for (let i = 1; i <= x.length; i++) {
    const current = [i]
    for (let j = 1; j <= y.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[y.length]!
}

/** The candidate closest to `key` within a third of its length (at least 2 edits), if any. */
const nearestTo = (key: string, candidates: ReadonlyArray<string>): string | undefined => {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1
  for (const candidate of candidates) {
    const d = distance(key, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

/**
 * The methods a driver object lacks: every required one, and every optional one for which the driver has a key
 * that looks like a misspelling of it (a misspelt optional method would otherwise be silently answered with the
 * daemon's default).
 *
 * @since 0.1.0
 */
export const missingMethods = (api: Any, driver: object): ReadonlyArray<MissingMethod> => {
  const present = (key: string) => typeof (driver as Record<string, unknown>)[key] === "function"
  const unknown = Object.keys(driver).filter((key) => !(key in api.endpoints))
  return endpointList(api).flatMap((endpoint): ReadonlyArray<MissingMethod> => {
    if (present(endpoint.key)) return []
    const nearest = nearestTo(endpoint.key, unknown)
    return endpoint.optional && nearest === undefined ? [] : [{ method: endpoint.key, nearest }]
  })
}

/**
 * Every endpoint of an API, in declaration order.
 *
 * @since 0.1.0
 */
export const endpointList = (api: Any): ReadonlyArray<Endpoint.Any> => Object.values(api.endpoints)
