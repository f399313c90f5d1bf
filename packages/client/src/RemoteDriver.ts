/**
 * A remote plugin as a driver: a Layer that provides the same driver service the server consumes
 * (`PluginApi.serviceOf(api)`), so a plugin reached over a socket can be used wherever a driver is expected — in
 * tests, behind another server (a proxy), or from application code.
 *
 * @since 0.1.0
 */
import { PluginApi } from "@docker-plugin-kit/protocol"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type CallError, type DiscoveryError, type NotImplemented, RemoteError } from "./ClientError.ts"
import type * as PluginClient from "./PluginClient.ts"
import * as Target from "./Target.ts"

/**
 * Errors of building a remote driver: the plugin cannot be found, activated, or does not implement the API.
 *
 * @since 0.1.0
 */
export type LayerError = DiscoveryError | CallError | NotImplemented

/**
 * The driver of `api` backed by an open client; fails with `NotImplemented` when the manifest lacks the API.
 *
 * @since 0.1.0
 */
export const fromClient = <A extends PluginApi.Any>(
  api: A,
  client: PluginClient.PluginClient
): Effect.Effect<PluginApi.Driver<A>, CallError | NotImplemented> =>
  Effect.as(client.require(api.subsystem), relay(client.driver(api)))

/**
 * A remote driver's failures carry the remote plugin's own `Err` text: a `StatusError` ("Method: text", as the
 * daemon would print it) becomes a `RemoteError` with just the text, so a proxy serving this driver answers with
 * the backend's message instead of prefixing the method name a second time.
 *
 * @since 0.1.0
 */
export const relay = <A extends PluginApi.Any>(driver: PluginApi.Driver<A>): PluginApi.Driver<A> => {
  const relayed: Record<string, unknown> = {}
  for (const [key, method] of Object.entries(
    driver as Record<string, (input: unknown) => Effect.Effect<unknown, CallError>>
  )) {
    relayed[key] = (input: unknown) =>
      Effect.mapError(method(input), (e) =>
        e._tag === "StatusError" ? new RemoteError({ method: e.method, err: e.detail }) : e
      )
  }
  return relayed as PluginApi.Driver<A>
}

/**
 * A Layer providing the driver of `api` from the plugin at `target`. The connection lives as long as the layer.
 *
 * @since 0.1.0
 */
export const layer = <A extends PluginApi.Any>(
  api: A,
  target: Target.Target,
  options: PluginClient.Options = {}
): Layer.Layer<PluginApi.DriverService<A>, LayerError> =>
  Layer.effect(
    PluginApi.serviceOf(api),
    Effect.flatMap(Target.connect(target, options), (client) => fromClient(api, client))
  )

/**
 * Like `layer`, typed for an API's own service class (e.g. `VolumeDriver.VolumeDriver`), so it satisfies code that
 * asks for that class.
 *
 * @since 0.1.0
 */
export const layerAs = <I, A extends PluginApi.Any>(
  service: Context.Service<I, PluginApi.Driver<A>>,
  api: A,
  target: Target.Target,
  options: PluginClient.Options = {}
): Layer.Layer<I, LayerError> =>
  Layer.effect(
    service,
    Effect.flatMap(Target.connect(target, options), (client) => fromClient(api, client))
  )
