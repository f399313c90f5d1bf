/**
 * The plugin's HttpRouter: `/Plugin.Activate`, one route per endpoint of every API whose driver is in the
 * context, and a JSON 404 for everything else.
 *
 * @since 0.1.0
 */
import { Apis, Manifest, PluginApi } from "@docker-plugin-kit/protocol"
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
export const routesFor = (drivers: ReadonlyArray<ProvidedDriver>, options: EndpointHandler.CallOptions) => {
  const manifest = JSON.stringify({ Implements: drivers.map((d) => d.api.subsystem) } satisfies Manifest.Manifest)
  const activate = EndpointHandler.jsonText(manifest)
  const routes = [
    HttpRouter.route(
      "*",
      Manifest.Activate.path,
      CallLog.logged(options.verbose, Manifest.Activate.path, () => Effect.succeed(activate))
    )
  ]
  for (const { api, driver } of drivers) {
    for (const endpoint of PluginApi.endpointList(api)) {
      const method = EndpointHandler.methodOf(driver, endpoint)
      const handler =
        method === undefined
          ? endpoint.optional
            ? EndpointHandler.absent(endpoint)
            : undefined
          : EndpointHandler.make(endpoint, method, options)
      if (handler === undefined) {
        throw new Error(`${api.prefix} driver does not implement the required method "${endpoint.key}"`)
      }
      routes.push(HttpRouter.route("*", endpoint.path, CallLog.logged(options.verbose, endpoint.path, handler)))
    }
  }
  routes.push(HttpRouter.route("*", "*", CallLog.logged(options.verbose, undefined, EndpointHandler.unknown)))
  return routes
}

/**
 * The router layer: finds the drivers in the context and registers their routes.
 *
 * @since 0.1.0
 */
export const layer = (
  options: {
    readonly deadline?: Duration.Input
    readonly verbose?: boolean
    readonly apis?: ReadonlyArray<PluginApi.Any>
  } = {}
): Layer.Layer<never, NoDriverProvided, HttpRouter.HttpRouter> => {
  const callOptions: EndpointHandler.CallOptions = {
    deadline:
      options.deadline === undefined
        ? EndpointHandler.defaultCallOptions.deadline
        : Duration.fromInputUnsafe(options.deadline),
    verbose: options.verbose ?? EndpointHandler.defaultCallOptions.verbose
  }
  return HttpRouter.addAll(
    Effect.flatMap(providedDrivers(options.apis), (drivers) =>
      drivers.length === 0
        ? Effect.fail(new NoDriverProvided({ message: "no plugin driver was provided to the server" }))
        : Effect.try({
            try: () => routesFor(drivers, callOptions),
            catch: (e) => new NoDriverProvided({ message: (e as Error).message })
          })
    )
  )
}
