/**
 * The plugin's HttpRouter: `/Plugin.Activate`, one route per endpoint of every API whose driver is in the
 * context, and a JSON 404 for everything else.
 *
 * @since 0.1.0
 */
import { Apis, type Endpoint, Manifest, PluginApi } from "@docker-plugin-kit/protocol"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as HttpRouter from "effect/http/HttpRouter"
import * as CallLog from "./CallLog.ts"
import * as EndpointHandler from "./EndpointHandler.ts"

/**
 * Raised at start-up when the layer provides no driver at all: a plugin that implements nothing is a mistake.
 *
 * @since 0.1.0
 */
export class NoDriverProvided extends Data.TaggedError("NoDriverProvided")<{ readonly message: string }> {}

/**
 * Raised at start-up when a driver lacks a method the server needs: a required one, or an optional one it seems to
 * have misspelt (`nearest` is the driver's key that looks like it).
 *
 * @since 0.1.0
 */
export class MissingDriverMethod extends Data.TaggedError("MissingDriverMethod")<{
  readonly api: string
  readonly method: string
  readonly nearest: string | undefined
}> {
  override get message() {
    const hint = this.nearest === undefined ? "" : ` (it has "${this.nearest}": did you mean "${this.method}"?)`
    return `the ${this.api} driver has no method "${this.method}"${hint}`
  }
}

/**
 * Deadlines set by the user, by API prefix (`GraphDriver`) or endpoint (`GraphDriver.ApplyDiff`); the endpoint's
 * wins. `"Infinity"` (or 0) means none.
 *
 * @since 0.1.0
 */
export type Deadlines = Readonly<Record<string, Duration.Input>>

/**
 * The deadline the server gives an endpoint: the user's for that endpoint or its API, else `deadline` for an
 * endpoint declared with one (a streamed endpoint has none unless named), else the declaration's.
 *
 * @since 0.1.0
 */
export const deadlineOf = (
  endpoint: Endpoint.Any,
  options: { readonly deadline?: Duration.Input | undefined; readonly deadlines?: Deadlines | undefined }
): Duration.Duration => {
  const named = options.deadlines?.[`${endpoint.api}.${endpoint.method}`] ?? options.deadlines?.[endpoint.api]
  if (named !== undefined) return Duration.fromInputUnsafe(named)
  if (options.deadline !== undefined && Duration.isFinite(endpoint.deadline)) {
    return Duration.fromInputUnsafe(options.deadline)
  }
  return endpoint.deadline
}

/**
 * A driver found in the context, with the API it implements.
 *
 * @since 0.1.0
 */
export interface ProvidedDriver {
  readonly api: PluginApi.Any
  readonly driver: PluginApi.Driver<PluginApi.Any>
}

/**
 * Looks up, for every known API, whether a driver is in the context.
 *
 * @since 0.1.0
 */
export const providedDrivers = (
  apis: ReadonlyArray<PluginApi.Any> = Apis.all
): Effect.Effect<ReadonlyArray<ProvidedDriver>> =>
  Effect.map(
    Effect.forEach(apis, (api) =>
      Effect.map(Effect.serviceOption(PluginApi.serviceOf(api)), (driver) =>
        Option.map(driver, (d): ProvidedDriver => ({ api, driver: d }))
      )
    ),
    (options) => options.flatMap((o) => (Option.isSome(o) ? [o.value] : []))
  )

/**
 * The routes of a set of drivers, as `HttpRouter.route` values.
 *
 * @since 0.1.0
 */
export const routesFor = (
  drivers: ReadonlyArray<ProvidedDriver>,
  options: EndpointHandler.CallOptions & { readonly deadlines?: Deadlines }
) => {
  const manifest = JSON.stringify({ Implements: drivers.map((d) => d.api.subsystem) } satisfies Manifest.Manifest)
  const activate = EndpointHandler.jsonText(manifest)
  // POST only, as the daemon calls: a route for every method costs the router 35 insertions per path, which was
  // the largest part of a plugin's start-up after loading its code.
  const routes = [
    HttpRouter.route(
      "POST",
      Manifest.Activate.path,
      CallLog.logged(options.verbose, Manifest.Activate.path, () => Effect.succeed(activate))
    )
  ]
  for (const { api, driver } of drivers) {
    const implemented = (key: string) => typeof (driver as Record<string, unknown>)[key] === "function"
    for (const endpoint of PluginApi.endpointList(api)) {
      const method = EndpointHandler.methodOf(driver, endpoint)
      // Read once per endpoint here, never per call.
      const callOptions = { verbose: options.verbose, deadline: deadlineOf(endpoint, options) }
      const handler =
        method === undefined
          ? EndpointHandler.absent(endpoint, implemented)
          : EndpointHandler.make(endpoint, method, callOptions)
      routes.push(HttpRouter.route("POST", endpoint.path, CallLog.logged(options.verbose, endpoint.path, handler)))
    }
  }
  const paths = new Set(routes.map((route) => route.path))
  routes.push(HttpRouter.route("*", "*", CallLog.logged(options.verbose, undefined, EndpointHandler.unrouted(paths))))
  return routes
}

/**
 * The router layer: finds the drivers in the context and registers their routes.
 *
 * @since 0.1.0
 */
export const layer = (
  options: {
    /** Deadline of every endpoint declared with one (default: the declaration's, 2 minutes). */
    readonly deadline?: Duration.Input
    /** Deadlines by API or endpoint, streamed ones included. */
    readonly deadlines?: Deadlines
    readonly verbose?: boolean
    readonly apis?: ReadonlyArray<PluginApi.Any>
  } = {}
): Layer.Layer<never, NoDriverProvided | MissingDriverMethod, HttpRouter.HttpRouter> => {
  const callOptions = {
    deadline: EndpointHandler.defaultCallOptions.deadline,
    verbose: options.verbose ?? EndpointHandler.defaultCallOptions.verbose,
    ...(options.deadline === undefined ? {} : { deadline: Duration.fromInputUnsafe(options.deadline) }),
    ...(options.deadlines === undefined ? {} : { deadlines: options.deadlines })
  }
  return HttpRouter.addAll(
    Effect.flatMap(
      providedDrivers(options.apis),
      (drivers): Effect.Effect<ReturnType<typeof routesFor>, NoDriverProvided | MissingDriverMethod> => {
        if (drivers.length === 0) {
          return Effect.fail(new NoDriverProvided({ message: "no plugin driver was provided to the server" }))
        }
        for (const { api, driver } of drivers) {
          const [missing] = PluginApi.missingMethods(api, driver)
          if (missing !== undefined) return Effect.fail(new MissingDriverMethod({ api: api.prefix, ...missing }))
        }
        return Effect.succeed(routesFor(drivers, callOptions))
      }
    )
  )
}
