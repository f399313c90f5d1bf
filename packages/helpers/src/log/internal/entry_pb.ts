/**
 * Descriptors of `entry.proto` in the form protoc-gen-es generates them: the file descriptor embedded as a
 * serialized `FileDescriptorProto` (base64), and one typed message descriptor per message. Regenerate the string
 * when `entry.proto` changes (build the `FileDescriptorProto`, `toBinary`, base64); the test compares both.
 *
 * @since 0.1.0
 */
import type { Message } from "@bufbuild/protobuf"
import type { GenFile, GenMessage } from "@bufbuild/protobuf/codegenv2"
import { fileDesc, messageDesc } from "@bufbuild/protobuf/codegenv2"

/**
 * The file `entry.proto`.
 *
 * @since 0.1.0
 */
export const file_entry: GenFile = fileDesc(
  "CgtlbnRyeS5wcm90bxIJbG9nZHJpdmVyIo4BCghMb2dFbnRyeRIOCgZzb3VyY2UYASABKAkSEQoJdGltZV9uYW5vGAIgASgDEgwKBGxpbmUYAyABKAwSDwoHcGFydGlhbBgEIAEoCBJAChRwYXJ0aWFsX2xvZ19tZXRhZGF0YRgFIAEoCzIiLmxvZ2RyaXZlci5QYXJ0aWFsTG9nRW50cnlNZXRhZGF0YSJEChdQYXJ0aWFsTG9nRW50cnlNZXRhZGF0YRIMCgRsYXN0GAEgASgIEgoKAmlkGAIgASgJEg8KB29yZGluYWwYAyABKAViBnByb3RvMw=="
)

/**
 * `logdriver.PartialLogEntryMetadata`.
 *
 * @since 0.1.0
 */
export type PartialLogEntryMetadata = Message<"logdriver.PartialLogEntryMetadata"> & {
  last: boolean
  id: string
  ordinal: number
}

/**
 * `logdriver.LogEntry`.
 *
 * @since 0.1.0
 */
export type LogEntry = Message<"logdriver.LogEntry"> & {
  source: string
  timeNano: bigint
  line: Uint8Array
  partial: boolean
  partialLogMetadata?: PartialLogEntryMetadata | undefined
}

/**
 * Descriptor of `logdriver.LogEntry`.
 *
 * @since 0.1.0
 */
export const LogEntrySchema: GenMessage<LogEntry> = messageDesc(file_entry, 0)

/**
 * Descriptor of `logdriver.PartialLogEntryMetadata`.
 *
 * @since 0.1.0
 */
export const PartialLogEntryMetadataSchema: GenMessage<PartialLogEntryMetadata> = messageDesc(file_entry, 1)
