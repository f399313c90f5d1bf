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
export * as VolumeLocks from "./volume-local/VolumeLocks.ts"
export * as VolumeOptions from "./volume-local/VolumeOptions.ts"
export * as VolumeState from "./volume-local/VolumeState.ts"
export * as ContainerId from "./log-file/ContainerId.ts"
export * as LogFile from "./log-file/LogFile.ts"
export * as LogFileOptions from "./log-file/LogFileOptions.ts"
export * as LogFiles from "./log-file/LogFiles.ts"
export * as LogFilesMemory from "./log-file/LogFilesMemory.ts"
export * as LogFilesNode from "./log-file/LogFilesNode.ts"
export * as LogRecord from "./log-file/LogRecord.ts"
export * as LogRotation from "./log-file/LogRotation.ts"
export * as LogSelection from "./log-file/LogSelection.ts"
