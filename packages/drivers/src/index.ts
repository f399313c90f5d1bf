/**
 * Reference drivers for every plugin API, each an Effect service provided through a Layer. One folder per driver
 * (state machine, port with its Node and memory Layers, driver Layer, CLI descriptor); `volume/` holds what both
 * volume drivers share.
 *
 * @since 0.1.0
 */
export * as Descriptor from "./Descriptor.ts"
export * as Descriptors from "./descriptors.ts"
export * as VolumeErrors from "./volume/VolumeErrors.ts"
export * as VolumeName from "./volume/VolumeName.ts"
export * as VolumeTable from "./volume/VolumeTable.ts"
export * as VolumeMemory from "./volume-memory/VolumeMemory.ts"
export * as VolumeFs from "./volume-local/VolumeFs.ts"
export * as VolumeFsMemory from "./volume-local/VolumeFsMemory.ts"
export * as VolumeFsNode from "./volume-local/VolumeFsNode.ts"
export * as VolumeLocal from "./volume-local/VolumeLocal.ts"
export * as VolumeOptions from "./volume-local/VolumeOptions.ts"
export * as VolumeState from "./volume-local/VolumeState.ts"
export * as GraphErrors from "./graph-overlay/GraphErrors.ts"
export * as GraphOverlay from "./graph-overlay/GraphOverlay.ts"
export * as GraphTable from "./graph-overlay/GraphTable.ts"
export * as Mounts from "./graph-overlay/Mounts.ts"
export * as MountsMemory from "./graph-overlay/MountsMemory.ts"
export * as MountsNode from "./graph-overlay/MountsNode.ts"
export * as KeyedLocks from "./shared/KeyedLocks.ts"
export * as AtomicFile from "./shared/AtomicFile.ts"
export * as StateFiles from "./shared/StateFiles.ts"
export * as Store from "./store/Store.ts"
export * as StoreEtcd from "./store/StoreEtcd.ts"
export * as StoreFile from "./store/StoreFile.ts"
export * as StoreMemory from "./store/StoreMemory.ts"
export * as StoreTarget from "./store/StoreTarget.ts"
export * as IpamPool from "./ipam-pool/IpamPool.ts"
export * as IpamState from "./ipam-pool/IpamState.ts"
export * as MetricsProxy from "./metrics-proxy/MetricsProxy.ts"
export * as MetricsSource from "./metrics-proxy/MetricsSource.ts"
