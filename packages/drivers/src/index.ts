/**
 * Reference drivers for every plugin API, each an Effect service provided through a Layer.
 *
 * @since 0.1.0
 */
export * as VolumeErrors from "./VolumeErrors.ts"
export * as VolumeFs from "./VolumeFs.ts"
export * as VolumeFsMemory from "./VolumeFsMemory.ts"
export * as VolumeFsNode from "./VolumeFsNode.ts"
export * as VolumeLocal from "./VolumeLocal.ts"
export * as VolumeLocks from "./VolumeLocks.ts"
export * as VolumeMemory from "./VolumeMemory.ts"
export * as VolumeName from "./VolumeName.ts"
export * as VolumeOptions from "./VolumeOptions.ts"
export * as VolumeState from "./VolumeState.ts"
export * as VolumeTable from "./VolumeTable.ts"
