/**
 * The `/Plugin.Activate` handshake: every v1 plugin's first call.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Endpoint from "./Endpoint.ts"
import { Empty } from "./Wire.ts"

/**
 * The manifest a plugin answers to `/Plugin.Activate`. The daemon ignores unknown entries and reads `null` as
 * "implements nothing".
 *
 * @since 0.1.0
 */
export const Manifest = Schema.Struct({
  Implements: Schema.NullOr(Schema.Array(Schema.String))
})

/**
 * @since 0.1.0
 */
export type Manifest = typeof Manifest.Type

/**
 * The activation endpoint, `POST /Plugin.Activate` with an empty body.
 *
 * @since 0.1.0
 */
export const Activate: Endpoint.Endpoint<
  "activate",
  Endpoint.JsonRequest<typeof Empty>,
  Endpoint.JsonResponse<typeof Manifest>,
  false
> = Endpoint.complete(
  Endpoint.json("Activate", Empty, Manifest, {
    emptyBody: true,
    description: "Handshake: lists the subsystems the plugin implements."
  }),
  { api: "Plugin", key: "activate", errorField: "Err" }
)
