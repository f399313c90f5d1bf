/**
 * The GraphDriver plugin API (`/GraphDriver.*`, storage-driver plugins; experimental daemons only, removed in
 * Engine 28). Requests carry only the fields that are set (`omitempty`); `Diff` answers with a raw tar stream and
 * `ApplyDiff` receives one, with its parameters in the query string.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import * as Endpoint from "./Endpoint.ts"
import * as PluginApi from "./PluginApi.ts"
import { Empty, StringMap, TarContentType } from "./Wire.ts"

/**
 * A user-namespace ID range (`--userns-remap`), with snake_case keys.
 *
 * @since 0.1.0
 */
export const IdMap = Schema.Struct({
  container_id: Schema.Int,
  host_id: Schema.Int,
  size: Schema.Int
})

/**
 * @since 0.1.0
 */
export type IdMap = typeof IdMap.Type

/**
 * `Init` request, sent at daemon start. `Home` is the driver's directory; `Opts` the daemon's `--storage-opt`
 * values (`key=value`); all three lists are `null` when empty.
 *
 * @since 0.1.0
 */
export const InitRequest = Schema.Struct({
  Home: Schema.String,
  Opts: Schema.NullOr(Schema.Array(Schema.String)),
  UIDMaps: Schema.NullOr(Schema.Array(IdMap)),
  GIDMaps: Schema.NullOr(Schema.Array(IdMap))
})

/**
 * @since 0.1.0
 */
export type InitRequest = typeof InitRequest.Type

/**
 * `Create`/`CreateReadWrite` request: `Parent`, `MountLabel` and `StorageOpt` are absent when empty (so a base layer
 * is just `{"ID":"..."}`).
 *
 * @since 0.1.0
 */
export const CreateRequest = Schema.Struct({
  ID: Schema.String,
  Parent: Schema.optionalKey(Schema.String),
  MountLabel: Schema.optionalKey(Schema.String),
  StorageOpt: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
})

/**
 * @since 0.1.0
 */
export type CreateRequest = typeof CreateRequest.Type

/**
 * A request naming one layer (`Remove`, `Put`, `Exists`, `GetMetadata`).
 *
 * @since 0.1.0
 */
export const LayerRequest = Schema.Struct({ ID: Schema.String })

/**
 * @since 0.1.0
 */
export type LayerRequest = typeof LayerRequest.Type

/**
 * `Get` request: `MountLabel` (SELinux) is absent when empty.
 *
 * @since 0.1.0
 */
export const GetRequest = Schema.Struct({ ID: Schema.String, MountLabel: Schema.optionalKey(Schema.String) })

/**
 * `Get` response: the absolute path of the mounted layer (inside the plugin for managed plugins).
 *
 * @since 0.1.0
 */
export const GetResponse = Schema.Struct({ Dir: Schema.String })

/**
 * `Exists` response (any error reads as `false`).
 *
 * @since 0.1.0
 */
export const ExistsResponse = Schema.Struct({ Exists: Schema.Boolean })

/**
 * `Status` response: key/value pairs shown by `docker info`.
 *
 * @since 0.1.0
 */
export const StatusResponse = Schema.Struct({
  Status: Schema.NullOr(Schema.Array(Schema.Tuple([Schema.String, Schema.String])))
})

/**
 * `GetMetadata` response: free-form strings shown under `GraphDriver.Data` by `docker inspect`.
 *
 * @since 0.1.0
 */
export const MetadataResponse = Schema.Struct({ Metadata: StringMap })

/**
 * A request comparing a layer with its parent (`Diff`, `Changes`, `DiffSize`); no `Parent` means "against nothing".
 *
 * @since 0.1.0
 */
export const DiffRequest = Schema.Struct({ ID: Schema.String, Parent: Schema.optionalKey(Schema.String) })

/**
 * @since 0.1.0
 */
export type DiffRequest = typeof DiffRequest.Type

/**
 * Kind of a filesystem change: 0 = modified, 1 = added, 2 = deleted.
 *
 * @since 0.1.0
 */
export const ChangeKind = Schema.Literals([0, 1, 2])

/**
 * One changed path (absolute within the layer).
 *
 * @since 0.1.0
 */
export const Change = Schema.Struct({ Path: Schema.String, Kind: ChangeKind })

/**
 * `Changes` response.
 *
 * @since 0.1.0
 */
export const ChangesResponse = Schema.Struct({ Changes: Schema.NullOr(Schema.Array(Change)) })

/**
 * `ApplyDiff` query string: `parent` is present but empty for base layers. The body is the uncompressed layer tar.
 *
 * @since 0.1.0
 */
export const ApplyDiffQuery = Schema.Struct({ id: Schema.String, parent: Schema.String })

/**
 * @since 0.1.0
 */
export type ApplyDiffQuery = typeof ApplyDiffQuery.Type

/**
 * `ApplyDiff`/`DiffSize` response: a size in bytes (an integer; the daemon reads an int64).
 *
 * @since 0.1.0
 */
export const SizeResponse = Schema.Struct({ Size: Schema.Int })

/**
 * `Capabilities` response, nested under `Capabilities` (a flat `ReproducesExactDiffs` is read as `false`).
 * `ReproducesExactDiffs: true` makes the daemon export image layers with `Diff`, which must then reproduce the
 * applied tar byte for byte.
 *
 * @since 0.1.0
 */
export const CapabilitiesResponse = Schema.Struct({
  Capabilities: Schema.Struct({ ReproducesExactDiffs: Schema.Boolean })
})

/**
 * The GraphDriver API declaration.
 *
 * @since 0.1.0
 */
export const Api = PluginApi.make({
  prefix: "GraphDriver",
  subsystem: "GraphDriver",
  interfaceType: "docker.graphdriver/1.0",
  endpoints: {
    init: Endpoint.json("Init", InitRequest, Empty, {
      description: "Initialise the driver at daemon start; a failure stops the daemon."
    }),
    create: Endpoint.json("Create", CreateRequest, Empty, {
      description: "Create an empty read-only (image) layer on top of Parent."
    }),
    createReadWrite: Endpoint.json("CreateReadWrite", CreateRequest, Empty, {
      description: "Create a writable (container or init) layer on top of Parent."
    }),
    remove: Endpoint.json("Remove", LayerRequest, Empty, { description: "Delete a layer." }),
    get: Endpoint.json("Get", GetRequest, GetResponse, {
      description: "Mount a layer (calls nest) and return its path."
    }),
    put: Endpoint.json("Put", LayerRequest, Empty, {
      description: "Release one Get of a layer; unmount when the last one is released."
    }),
    exists: Endpoint.json("Exists", LayerRequest, ExistsResponse, { description: "Tell whether a layer exists." }),
    status: Endpoint.json("Status", Empty, StatusResponse, {
      description: "Report key/value status lines for docker info."
    }),
    getMetadata: Endpoint.json("GetMetadata", LayerRequest, MetadataResponse, {
      description: "Return free-form metadata about a layer for docker inspect."
    }),
    cleanup: Endpoint.json("Cleanup", Empty, Empty, { description: "Daemon shutdown: unmount everything." }),
    diff: Endpoint.jsonToStream("Diff", DiffRequest, TarContentType, {
      description: "Stream an uncompressed tar of the changes from Parent to ID."
    }),
    changes: Endpoint.json("Changes", DiffRequest, ChangesResponse, {
      description: "List the paths changed from Parent to ID."
    }),
    applyDiff: Endpoint.streamToJson("ApplyDiff", ApplyDiffQuery, TarContentType, SizeResponse, {
      description: "Extract a layer tar (request body) into layer id and return the applied size."
    }),
    diffSize: Endpoint.json("DiffSize", DiffRequest, SizeResponse, {
      description: "Return the size in bytes of the changes from Parent to ID."
    }),
    capabilities: Endpoint.json("Capabilities", Empty, CapabilitiesResponse, {
      description: "Report whether Diff reproduces applied tars exactly; optional (404 means defaults).",
      optional: true,
      whenAbsent: { _tag: "NotFound" }
    })
  }
})

/**
 * The driver interface a storage-driver plugin implements.
 *
 * @since 0.1.0
 */
export type Driver = PluginApi.Driver<typeof Api>

/**
 * The service through which a graph driver is provided to the server.
 *
 * @since 0.1.0
 */
export class GraphDriver extends Context.Service<GraphDriver, Driver>()(Api.serviceKey) {}

/**
 * Builds a GraphDriver driver from exactly its methods: an unknown or misspelt method does not compile.
 *
 * @since 0.1.0
 */
export const make = PluginApi.driverConstructor(Api)
