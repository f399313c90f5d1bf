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
export * as KeyedLocks from "./shared/KeyedLocks.ts"
export * as AtomicFile from "./shared/AtomicFile.ts"
export * as StateFiles from "./shared/StateFiles.ts"
export * as AuthzPolicy from "./authz-policy/AuthzPolicy.ts"
export * as Policy from "./authz-policy/Policy.ts"
export * as PolicyEval from "./authz-policy/PolicyEval.ts"
export * as PolicySource from "./authz-policy/PolicySource.ts"
export * as PolicySourceMemory from "./authz-policy/PolicySourceMemory.ts"
export * as PolicySourceNode from "./authz-policy/PolicySourceNode.ts"
