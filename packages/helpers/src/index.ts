/**
 * Libraries for writing each kind of plugin, one folder per plugin API (as go-plugins-helpers has one package
 * per API): what every author of that kind of plugin would otherwise write by hand.
 *
 * @since 0.1.0
 */
export * as Ipam from "./ipam/index.ts"
export * as LayerTarError from "./graph/LayerTarError.ts"
export * as LayerPath from "./graph/LayerPath.ts"
export * as FileName from "./graph/FileName.ts"
export * as TarStream from "./graph/TarStream.ts"
export * as LayerApply from "./graph/LayerApply.ts"
export * as SpecialFiles from "./graph/SpecialFiles.ts"
export * as LayerChanges from "./graph/LayerChanges.ts"
export * as LayerDiff from "./graph/LayerDiff.ts"
export * as IdMapping from "./graph/IdMapping.ts"
export * as LogAttributes from "./log/LogAttributes.ts"
export * as LogBuffer from "./log/LogBuffer.ts"
export * as LogEntry from "./log/LogEntry.ts"
export * as LogFifo from "./log/LogFifo.ts"
export * as LogFraming from "./log/LogFraming.ts"
export * as LogStreams from "./log/LogStreams.ts"
export * as AuthzAnswer from "./authz/AuthzAnswer.ts"
export * as AuthzRequest from "./authz/AuthzRequest.ts"
export * as ContainerSpec from "./authz/ContainerSpec.ts"
export * as EngineRoute from "./authz/EngineRoute.ts"
