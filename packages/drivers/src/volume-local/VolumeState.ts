/**
 * The persisted state of `volume-local`: one JSON file per volume under `STATE/volumes/` (crash-safe state files,
 * see `StateFiles`), and the reconciliation of those files with the folders found under the volume root at start-up.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as StateFiles from "../shared/StateFiles.ts"
import { type VolumeFsError, VolumeFs } from "./VolumeFs.ts"
import * as VolumeName from "../volume/VolumeName.ts"
import type * as VolumeTable from "../volume/VolumeTable.ts"

/**
 * The content of a state file (format version 1).
 *
 * @since 0.1.0
 */
export const StateFile = Schema.Struct({
  version: Schema.Literal(1),
  name: Schema.String,
  options: Schema.Record(Schema.String, Schema.String),
  /** Derived from the `label.*` options; stored so the file reads on its own. */
  labels: Schema.Record(Schema.String, Schema.String),
  createdAt: Schema.String,
  mounts: Schema.Array(Schema.String)
})

const files = StateFiles.make({ schema: StateFile, keyOf: (state) => state.name, noun: "volume", version: 1 })

/**
 * Where the state lives: `STATE/volumes/NAME`, temporary files in `STATE/tmp`.
 *
 * @since 0.1.0
 */
export const layout = (stateDir: string): StateFiles.Layout => StateFiles.layout(stateDir, "volumes")

/**
 * The state file of a volume. The name is a single safe path component (checked by `VolumeName`), used as is so
 * that a listing of the folder reads like `docker volume ls`.
 *
 * @since 0.1.0
 */
export const fileOf = files.fileOf

const stateOf = (
  record: VolumeTable.VolumeRecord,
  labels: Readonly<Record<string, string>>
): typeof StateFile.Type => ({
  version: 1,
  name: record.name,
  options: record.options,
  labels,
  createdAt: record.createdAt,
  mounts: record.mounts
})

const recordOf = (state: typeof StateFile.Type): VolumeTable.VolumeRecord => ({
  name: state.name,
  options: state.options,
  createdAt: state.createdAt,
  mounts: state.mounts
})

/**
 * Serialises a record.
 *
 * @since 0.1.0
 */
export const encode = (record: VolumeTable.VolumeRecord, labels: Readonly<Record<string, string>>): string =>
  files.encode(stateOf(record, labels))

/**
 * Reads a record back; the name inside must match the file name.
 *
 * @since 0.1.0
 */
export const decode = (
  file: string,
  text: string
): Result.Result<VolumeTable.VolumeRecord, StateFiles.StateFileCorrupt> =>
  Result.map(files.decode(file, text), recordOf)

/**
 * Writes a volume's state file atomically.
 *
 * @since 0.1.0
 */
export const save = (
  l: StateFiles.Layout,
  record: VolumeTable.VolumeRecord,
  labels: Readonly<Record<string, string>>
): Effect.Effect<void, VolumeFsError, VolumeFs> => VolumeFs.use((fs) => files.save(fs, l, stateOf(record, labels)))

/**
 * Deletes a volume's state file durably.
 *
 * @since 0.1.0
 */
export const erase = (l: StateFiles.Layout, name: string): Effect.Effect<void, VolumeFsError, VolumeFs> =>
  VolumeFs.use((fs) => files.erase(fs, l, name))

/**
 * Prepares the state folder and reads every state file (see `StateFiles`).
 *
 * @since 0.1.0
 */
export const load = (
  l: StateFiles.Layout
): Effect.Effect<ReadonlyArray<VolumeTable.VolumeRecord>, VolumeFsError | StateFiles.StateFileCorrupt, VolumeFs> =>
  VolumeFs.use((fs) => Effect.map(files.load(fs, l), (states) => states.map(recordOf)))

/**
 * A folder found under the volume root.
 *
 * @since 0.1.0
 */
export interface Folder {
  readonly name: string
  readonly modifiedAt: Date
}

/**
 * What start-up does to make state and folders agree.
 *
 * @since 0.1.0
 */
export interface Reconciliation {
  /** Volumes with a state file: the truth. */
  readonly records: ReadonlyArray<VolumeTable.VolumeRecord>
  /** Volumes whose folder is missing: it is created again, empty, with the recorded options. */
  readonly recreate: ReadonlyArray<string>
  /** Folders without a state file: adopted as volumes without options, so no data is ever dropped silently. */
  readonly adopt: ReadonlyArray<VolumeTable.VolumeRecord>
}

/**
 * Compares state files and folders (pure). A folder whose name is not a safe volume name is left alone.
 *
 * @since 0.1.0
 */
export const reconcile = (
  records: ReadonlyArray<VolumeTable.VolumeRecord>,
  folders: ReadonlyArray<Folder>
): Reconciliation => {
  const known = new Set(records.map((r) => r.name))
  const present = new Set(folders.map((f) => f.name))
  return {
    records,
    recreate: records.filter((r) => !present.has(r.name)).map((r) => r.name),
    adopt: folders
      .filter((f) => !known.has(f.name) && Result.isSuccess(VolumeName.validate(f.name)))
      .map((f) => ({ name: f.name, options: {}, createdAt: f.modifiedAt.toISOString(), mounts: [] }))
  }
}
