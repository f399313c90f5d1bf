/**
 * Reference drivers for every plugin API, each an Effect service provided through a Layer.
 *
 * @since 0.1.0
 */
export * as VolumeErrors from "./VolumeErrors.ts"
export * as VolumeMemory from "./VolumeMemory.ts"
export * as VolumeName from "./VolumeName.ts"
export * as VolumeTable from "./VolumeTable.ts"
