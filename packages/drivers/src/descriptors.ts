/**
 * Every reference driver, in the order `dpk serve --help` lists them. A new driver adds its descriptor here and
 * nowhere else.
 *
 * @since 0.1.0
 */
import { descriptor as authzPolicy } from "./authz-policy/descriptor.ts"
import type * as Descriptor from "./Descriptor.ts"
import { descriptor as logFile } from "./log-file/descriptor.ts"
import * as GraphOverlayDescriptors from "./graph-overlay/descriptor.ts"
import { descriptor as ipamPool } from "./ipam-pool/descriptor.ts"
import { descriptor as metricsProxy } from "./metrics-proxy/descriptor.ts"
import { descriptor as networkBridge } from "./network-bridge/descriptor.ts"
import { descriptor as secretFolder } from "./secret-folder/descriptor.ts"
import { descriptor as volumeLocal } from "./volume-local/descriptor.ts"
import { descriptor as volumeMemory } from "./volume-memory/descriptor.ts"

/**
 * The descriptors.
 *
 * @since 0.1.0
 */
export const all: ReadonlyArray<Descriptor.Descriptor<any, any>> = [
  volumeMemory,
  volumeLocal,
  ipamPool,
  GraphOverlayDescriptors.overlay,
  GraphOverlayDescriptors.vfs,
  metricsProxy,
  networkBridge,
  logFile,
  authzPolicy,
  secretFolder
]

/**
 * A descriptor by its name.
 *
 * @since 0.1.0
 */
export const byName = (name: string): Descriptor.Descriptor<any, any> | undefined => all.find((d) => d.name === name)
