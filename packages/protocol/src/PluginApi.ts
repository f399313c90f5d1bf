/**
 * A plugin API (a subsystem such as `VolumeDriver`): its manifest name, its endpoints, and the driver interface
 * derived from them.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Endpoint from "./Endpoint.ts"

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
 * Name of the field that carries an error in a response body: `Err` everywhere except IPAM (`Error`).
 *
 * @since 0.1.0
 */
export type ErrorField = "Err" | "Error"

type Specs = Record<string, Endpoint.Spec<Endpoint.Any>>

type Complete<Prefix extends string, S extends Specs> = {
  readonly [K in keyof S & string]: S[K] & { readonly api: Prefix; readonly path: `/${string}`; readonly key: K }
}

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
  /** The manifest entry, e.g. `VolumeDriver` or `authz`. */
  readonly subsystem: Subsystem
  /** The `docker plugin` (v2) interface type, e.g. `docker.volumedriver/1.0`. */
  readonly interfaceType: string
  readonly errorField: ErrorField
  /** Endpoints keyed by driver method name. */
  readonly endpoints: Endpoints
  /** Key of the Context service through which a driver for this API is provided. */
  readonly serviceKey: string
}

/**
 * Any plugin API.
 *
 * @since 0.1.0
 */
export type Any = PluginApi<string, Record<string, Endpoint.Any>>

/**
 * Declares a plugin API from endpoint specs; each spec gets the prefix, its path and its driver method name.
 *
 * @since 0.1.0
 */
export const make = <const Prefix extends string, const S extends Specs>(options: {
  readonly prefix: Prefix
  readonly subsystem: Subsystem
  readonly interfaceType: string
  readonly errorField?: ErrorField
  readonly endpoints: S
}): PluginApi<Prefix, Complete<Prefix, S>> => {
  const endpoints: Record<string, Endpoint.Any> = {}
  for (const [key, spec] of Object.entries(options.endpoints)) {
    endpoints[key] = { ...spec, api: options.prefix, key, path: `/${options.prefix}.${spec.method}` }
  }
  return {
    prefix: options.prefix,
    subsystem: options.subsystem,
    interfaceType: options.interfaceType,
    errorField: options.errorField ?? "Err",
    endpoints: endpoints as Complete<Prefix, S>,
    serviceKey: `@docker-plugin-kit/${options.prefix}`
  }
}

type OptionalKeys<E extends Record<string, Endpoint.Any>> = {
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
 * The Context key through which a driver of `api` is provided. Equal (by key) to the API's service class, so
 * generic code (the server, the client) can find a driver without importing its class.
 *
 * @since 0.1.0
 */
export const serviceOf = <A extends Any>(api: A): Context.Service<Driver<A>, Driver<A>> =>
  Context.Service<Driver<A>>(api.serviceKey)

/**
 * Every endpoint of an API, in declaration order.
 *
 * @since 0.1.0
 */
export const endpointList = (api: Any): ReadonlyArray<Endpoint.Any> => Object.values(api.endpoints)
