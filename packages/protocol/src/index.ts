/**
 * Every Docker Engine plugin endpoint, declared once as Effect Schemas.
 *
 * @since 0.1.0
 */
export * from "./DriverError.ts"
export * as Endpoint from "./Endpoint.ts"
export * as Manifest from "./Manifest.ts"
export * as PluginApi from "./PluginApi.ts"
export * as VolumeDriver from "./VolumeDriver.ts"
export * as NetworkDriver from "./NetworkDriver.ts"
export * as IpamDriver from "./IpamDriver.ts"
export * as GraphDriver from "./GraphDriver.ts"
export * as Authorization from "./Authorization.ts"
export * as LogDriver from "./LogDriver.ts"
export * as SecretProvider from "./SecretProvider.ts"
export * as MetricsCollector from "./MetricsCollector.ts"
export * as Wire from "./Wire.ts"
export * as WireCodec from "./WireCodec.ts"
export * as GoNull from "./GoNull.ts"
export * as Apis from "./Apis.ts"
export * as JsonSchema from "./JsonSchema.ts"
export * as SpecFile from "./SpecFile.ts"
export * as ReusableChunk from "./ReusableChunk.ts"
export * as Shutdown from "./Shutdown.ts"
