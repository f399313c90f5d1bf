/**
 * The registry of every plugin API this toolkit speaks.
 *
 * @since 0.1.0
 */
import type * as PluginApi from "./PluginApi.ts"
import * as VolumeDriver from "./VolumeDriver.ts"

/**
 * Every plugin API, in the order `/Plugin.Activate` lists them.
 *
 * @since 0.1.0
 */
export const all: ReadonlyArray<PluginApi.Any> = [VolumeDriver.Api]

/**
 * Finds an API by its manifest entry (`VolumeDriver`, `authz`, ...).
 *
 * @since 0.1.0
 */
export const bySubsystem = (subsystem: string): PluginApi.Any | undefined =>
  all.find((api) => api.subsystem === subsystem)
