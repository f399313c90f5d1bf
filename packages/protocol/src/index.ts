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
export * as Wire from "./Wire.ts"
export * as WireCodec from "./WireCodec.ts"
export * as Apis from "./Apis.ts"
export * as JsonSchema from "./JsonSchema.ts"
export * as SpecFile from "./SpecFile.ts"
