/**
 * JSON Schema documents of every endpoint, derived from the same declarations the server and client use, so
 * plugins written in any language can validate against them.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import * as Apis from "./Apis.ts"
import type * as Endpoint from "./Endpoint.ts"
import * as Manifest from "./Manifest.ts"
import * as PluginApi from "./PluginApi.ts"

/**
 * Name under which `/Plugin.Activate` is listed.
 *
 * @since 0.1.0
 */
export const activateName = "Plugin.Activate"

const bodySchema = (body: Endpoint.Any["request"] | Endpoint.Any["response"], side: "request" | "response") => {
  if (body._tag === "Json") return Schema.toJsonSchemaDocument(body.schema)
  if (side === "request" && "query" in body) {
    return {
      description: `Raw ${body.contentType} stream in the body; parameters in the query string`,
      contentType: body.contentType,
      query: Schema.toJsonSchemaDocument(body.query)
    }
  }
  return { description: `Raw ${body.contentType} stream`, contentType: body.contentType }
}

/** Milliseconds of a duration, `null` when there is none (the JSON for "no limit"). */
const millis = (duration: Duration.Duration | undefined): number | null =>
  duration === undefined || !Duration.isFinite(duration) ? null : Duration.toMillis(duration)

/**
 * The JSON Schema document of one endpoint: path, description, the facts of its declaration (error field, the
 * daemon's timeout, the server's default deadline; `null` for none), request and response.
 *
 * @since 0.1.0
 */
export const forEndpoint = (endpoint: Endpoint.Any) => ({
  endpoint: `${endpoint.api}.${endpoint.method}`,
  path: endpoint.path,
  description: endpoint.description,
  optional: endpoint.optional,
  errorField: endpoint.errorField,
  daemonTimeoutMs: millis(endpoint.daemonTimeout),
  deadlineMs: millis(endpoint.deadline),
  request: bodySchema(endpoint.request, "request"),
  response: bodySchema(endpoint.response, "response")
})

/**
 * The documents of every endpoint of an API, keyed by `Api.Method`.
 *
 * @since 0.1.0
 */
export const forApi = (api: PluginApi.Any): Record<string, ReturnType<typeof forEndpoint>> =>
  Object.fromEntries(PluginApi.endpointList(api).map((e) => [`${e.api}.${e.method}`, forEndpoint(e)]))

/**
 * Finds an endpoint by `Api.Method` name among `apis` (default: every API the daemon knows) and returns its
 * document.
 *
 * @since 0.1.0
 */
export const forEndpointName = (
  name: string,
  apis: ReadonlyArray<PluginApi.Any> = Apis.all
): ReturnType<typeof forEndpoint> | undefined => {
  if (name === activateName) return forEndpoint(Manifest.Activate)
  const endpoint = apis.flatMap(PluginApi.endpointList).find((e) => `${e.api}.${e.method}` === name)
  return endpoint === undefined ? undefined : forEndpoint(endpoint)
}
