/**
 * JSON Schema documents of every endpoint, derived from the same declarations the server and client use, so
 * plugins written in any language can validate against them.
 *
 * @since 0.1.0
 */
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

/**
 * The JSON Schema document of one endpoint: path, description, request and response.
 *
 * @since 0.1.0
 */
export const forEndpoint = (endpoint: Endpoint.Any, errorField: PluginApi.ErrorField = "Err") => ({
  endpoint: `${endpoint.api}.${endpoint.method}`,
  path: endpoint.path,
  description: endpoint.description,
  optional: endpoint.optional,
  errorField,
  request: bodySchema(endpoint.request, "request"),
  response: bodySchema(endpoint.response, "response")
})

/**
 * Finds an endpoint by `Api.Method` name and returns its document.
 *
 * @since 0.1.0
 */
export const forEndpointName = (name: string): ReturnType<typeof forEndpoint> | undefined => {
  if (name === activateName) return forEndpoint(Manifest.Activate)
  for (const api of Apis.all) {
    for (const endpoint of PluginApi.endpointList(api)) {
      if (`${endpoint.api}.${endpoint.method}` === name) return forEndpoint(endpoint, api.errorField)
    }
  }
  return undefined
}
