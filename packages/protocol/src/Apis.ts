/**
 * The registry of every plugin API this toolkit speaks.
 *
 * @since 0.1.0
 */
import * as Authorization from "./Authorization.ts"
import * as GraphDriver from "./GraphDriver.ts"
import * as IpamDriver from "./IpamDriver.ts"
import * as LogDriver from "./LogDriver.ts"
import * as MetricsCollector from "./MetricsCollector.ts"
import * as NetworkDriver from "./NetworkDriver.ts"
import type * as PluginApi from "./PluginApi.ts"
import * as SecretProvider from "./SecretProvider.ts"
import * as VolumeDriver from "./VolumeDriver.ts"

/**
 * Every plugin API, in the order `/Plugin.Activate` lists them.
 *
 * @since 0.1.0
 */
export const all: ReadonlyArray<PluginApi.Any> = [
  VolumeDriver.Api,
  NetworkDriver.Api,
  IpamDriver.Api,
  GraphDriver.Api,
  Authorization.Api,
  LogDriver.Api,
  SecretProvider.Api,
  MetricsCollector.Api
]

/**
 * Finds an API by its manifest entry (`VolumeDriver`, `authz`, ...).
 *
 * @since 0.1.0
 */
export const bySubsystem = (subsystem: string): PluginApi.Any | undefined =>
  all.find((api) => api.subsystem === subsystem)
