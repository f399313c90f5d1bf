/**
 * The VolumeDriver plugin API (`/VolumeDriver.*`).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import * as Endpoint from "./Endpoint.ts"
import * as PluginApi from "./PluginApi.ts"
import { AnyMap, Empty, Rfc3339, StringMap } from "./Wire.ts"

/**
 * A volume as `Get` and `List` report it. `CreatedAt` must be RFC 3339 or absent (an empty string breaks the
 * daemon's decoding of the whole response); `Status` is shown verbatim by `docker volume inspect`.
 *
 * @since 0.1.0
 */
export const Volume = Schema.Struct({
  Name: Schema.String,
  Mountpoint: Schema.optionalKey(Schema.String),
  CreatedAt: Schema.optionalKey(Schema.NullOr(Rfc3339)),
  Status: AnyMap
})

/**
 * @since 0.1.0
 */
export type Volume = typeof Volume.Type

/**
 * A request naming one volume.
 *
 * @since 0.1.0
 */
export const NameRequest = Schema.Struct({ Name: Schema.String })

/**
 * @since 0.1.0
 */
export type NameRequest = typeof NameRequest.Type

/**
 * `Create` request: the options are `null` when the user gave none.
 *
 * @since 0.1.0
 */
export const CreateRequest = Schema.Struct({ Name: Schema.String, Opts: StringMap })

/**
 * @since 0.1.0
 */
export type CreateRequest = typeof CreateRequest.Type

/**
 * `Mount`/`Unmount` request: `ID` identifies one mount operation (not a container).
 *
 * @since 0.1.0
 */
export const MountRequest = Schema.Struct({ Name: Schema.String, ID: Schema.String })

/**
 * @since 0.1.0
 */
export type MountRequest = typeof MountRequest.Type

/**
 * `Mount`/`Path` response.
 *
 * @since 0.1.0
 */
export const MountpointResponse = Schema.Struct({ Mountpoint: Schema.String })

/**
 * `Get` response: the volume, or `null` (which the daemon also reads as "no such volume").
 *
 * @since 0.1.0
 */
export const GetResponse = Schema.Struct({ Volume: Schema.NullOr(Volume) })

/**
 * `List` response: `null` and `[]` both mean none.
 *
 * @since 0.1.0
 */
export const ListResponse = Schema.Struct({ Volumes: Schema.NullOr(Schema.Array(Volume)) })

/**
 * Volume scope: `local` (this host) or `global` (cluster-wide). The daemon lower-cases it and reads anything else
 * as `local`.
 *
 * @since 0.1.0
 */
export const Scope = Schema.Literals(["local", "global"])

/**
 * `Capabilities` response.
 *
 * @since 0.1.0
 */
export const CapabilitiesResponse = Schema.Struct({ Capabilities: Schema.Struct({ Scope: Scope }) })

/**
 * The VolumeDriver API declaration.
 *
 * @since 0.1.0
 */
export const Api = PluginApi.make({
  prefix: "VolumeDriver",
  subsystem: "VolumeDriver",
  interfaceType: "docker.volumedriver/1.0",
  // The volume proxy's per-attempt timeouts (volume/drivers/proxy.go): 1 minute, 2 for Create and Mount.
  daemonTimeout: "1 minute",
  endpoints: {
    create: Endpoint.json("Create", CreateRequest, Empty, {
      description: "Create a volume with the given driver options.",
      daemonTimeout: "2 minutes"
    }),
    remove: Endpoint.json("Remove", NameRequest, Empty, { description: "Delete a volume and its data." }),
    mount: Endpoint.json("Mount", MountRequest, MountpointResponse, {
      description: "Make the volume available for the mount operation ID and return its host path.",
      daemonTimeout: "2 minutes"
    }),
    path: Endpoint.json("Path", NameRequest, MountpointResponse, {
      description: "Return the current host path of a volume."
    }),
    unmount: Endpoint.json("Unmount", MountRequest, Empty, {
      description: "Release the mount operation ID; the last one releases the volume."
    }),
    get: Endpoint.json("Get", NameRequest, GetResponse, {
      description: "Describe one volume; an unknown name is an ordinary error."
    }),
    list: Endpoint.json("List", Empty, ListResponse, { description: "List every volume the driver manages." }),
    capabilities: Endpoint.json("Capabilities", Empty, CapabilitiesResponse, {
      description: "Report the volume scope; optional (the daemon assumes local).",
      optional: true,
      whenAbsent: { _tag: "Respond", body: { Capabilities: { Scope: "local" } } }
    })
  }
})

/**
 * The driver interface a volume plugin implements.
 *
 * @since 0.1.0
 */
export type Driver = PluginApi.Driver<typeof Api>

/**
 * The service through which a volume driver is provided to the server.
 *
 * @since 0.1.0
 */
export class VolumeDriver extends Context.Service<VolumeDriver, Driver>()(Api.serviceKey) {}

/**
 * Builds a VolumeDriver driver from exactly its methods: an unknown or misspelt method does not compile.
 *
 * @since 0.1.0
 */
export const make = PluginApi.driverConstructor(Api)
