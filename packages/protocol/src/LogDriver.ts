/**
 * The LogDriver plugin API (`/LogDriver.*`, logging plugins). Log entries themselves travel outside this API: the
 * daemon writes them into a FIFO (`StartLogging.File`) and `ReadLogs` answers with the same framing, as a stream.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import * as Endpoint from "./Endpoint.ts"
import * as PluginApi from "./PluginApi.ts"
import { BinaryContentType, Empty, GoInt, Rfc3339, StringMap } from "./Wire.ts"

/**
 * The container being logged. Every key is always sent; maps and lists may be `null`.
 *
 * @since 0.1.0
 */
export const Info = Schema.Struct({
  /** The `--log-opt` values, unfiltered (generic options such as `mode` or `tag` included). */
  Config: StringMap,
  ContainerID: Schema.String,
  /** With its leading `/`. */
  ContainerName: Schema.String,
  ContainerEntrypoint: Schema.String,
  ContainerArgs: Schema.NullOr(Schema.Array(Schema.String)),
  ContainerImageID: Schema.String,
  ContainerImageName: Schema.String,
  ContainerCreated: Rfc3339,
  ContainerEnv: Schema.NullOr(Schema.Array(Schema.String)),
  ContainerLabels: StringMap,
  /** Always `""` for plugins. */
  LogPath: Schema.String,
  DaemonName: Schema.String
})

/**
 * @since 0.1.0
 */
export type Info = typeof Info.Type

/**
 * `StartLogging` request: `File` is the FIFO to read (`/run/docker/logging/<id>`, new for every call).
 *
 * @since 0.1.0
 */
export const StartLoggingRequest = Schema.Struct({ File: Schema.String, Info })

/**
 * @since 0.1.0
 */
export type StartLoggingRequest = typeof StartLoggingRequest.Type

/**
 * `StopLogging` request. Answer before the FIFO reaches EOF: the daemon closes it only after the answer.
 *
 * @since 0.1.0
 */
export const StopLoggingRequest = Schema.Struct({ File: Schema.String })

/**
 * `Capabilities` response, nested under `Cap` (a flat `ReadLogs` is read as `false`).
 *
 * @since 0.1.0
 */
export const CapabilitiesResponse = Schema.Struct({ Cap: Schema.Struct({ ReadLogs: Schema.Boolean }) })

/**
 * What `docker logs` asked for. The zero time `0001-01-01T00:00:00Z` means "no limit"; `Tail` -1 means all. The
 * daemon filters by `Since`/`Until` itself but does not apply `Tail`.
 *
 * @since 0.1.0
 */
export const ReadConfig = Schema.Struct({
  Since: Rfc3339,
  Until: Rfc3339,
  Tail: GoInt,
  Follow: Schema.Boolean
})

/**
 * @since 0.1.0
 */
export type ReadConfig = typeof ReadConfig.Type

/**
 * `ReadLogs` request (the key is `Config`, not `ReadConfig`).
 *
 * @since 0.1.0
 */
export const ReadLogsRequest = Schema.Struct({ Info, Config: ReadConfig })

/**
 * @since 0.1.0
 */
export type ReadLogsRequest = typeof ReadLogsRequest.Type

/**
 * The LogDriver API declaration.
 *
 * @since 0.1.0
 */
export const Api = PluginApi.make({
  prefix: "LogDriver",
  subsystem: "LogDriver",
  interfaceType: "docker.logdriver/1.0",
  endpoints: {
    startLogging: Endpoint.json("StartLogging", StartLoggingRequest, Empty, {
      description: "Start consuming the log FIFO File of a container."
    }),
    stopLogging: Endpoint.json("StopLogging", StopLoggingRequest, Empty, {
      description: "Stop consuming the log FIFO File (the container may start again later)."
    }),
    capabilities: Endpoint.json("Capabilities", Empty, CapabilitiesResponse, {
      description:
        "Report whether ReadLogs is served; optional (absent: ReadLogs is advertised exactly when the driver has readLogs).",
      emptyBody: true,
      optional: true,
      whenAbsent: { _tag: "Derive", body: (implemented) => ({ Cap: { ReadLogs: implemented("readLogs") } }) }
    }),
    readLogs: Endpoint.jsonToStream("ReadLogs", ReadLogsRequest, BinaryContentType, {
      description:
        "Stream a container's log entries as length-prefixed LogEntry protobuf frames; optional (called only when Capabilities says ReadLogs).",
      optional: true
    })
  }
})

/**
 * The driver interface a logging plugin implements.
 *
 * @since 0.1.0
 */
export type Driver = PluginApi.Driver<typeof Api>

/**
 * The service through which a log driver is provided to the server.
 *
 * @since 0.1.0
 */
export class LogDriver extends Context.Service<LogDriver, Driver>()(Api.serviceKey) {}

/**
 * Builds a LogDriver driver from exactly its methods: an unknown or misspelt method does not compile.
 *
 * @since 0.1.0
 */
export const make = PluginApi.driverConstructor(Api)
