/**
 * The persisted state of `volume-local`: one JSON file per volume under `STATE/volumes/`, each replaced atomically,
 * and the reconciliation of those files with the folders found under the volume root at start-up.
 *
 * One file per volume (rather than one file for all) lets calls on different volumes write in parallel, and a
 * corrupt file can only ever concern one volume.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Path from "node:path"
import { type VolumeFsError, VolumeFs } from "./VolumeFs.ts"
import * as VolumeName from "../volume/VolumeName.ts"
import type * as VolumeTable from "../volume/VolumeTable.ts"

/**
 * A state file could not be read back. Start-up stops rather than guess: the file names the volume at stake.
 *
 * @since 0.1.0
 */
export class VolumeStateCorrupt extends Schema.TaggedError<VolumeStateCorrupt>()("VolumeStateCorrupt", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `state file ${this.file} is unreadable (${this.reason}); fix or remove it, then restart`
  }
}

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

/**
 * Where the state lives.
 *
 * @since 0.1.0
 */
export interface Layout {
  readonly volumesDir: string
  /** Temporary files of atomic writes; same filesystem as `volumesDir` so the rename is atomic. */
  readonly tmpDir: string
}

/**
 * The layout under a state folder.
 *
 * @since 0.1.0
 */
export const layout = (stateDir: string): Layout => ({
  volumesDir: Path.join(stateDir, "volumes"),
  tmpDir: Path.join(stateDir, "tmp")
})

/**
 * The state file of a volume. The name is a single safe path component (checked by `VolumeName`), used as is so
 * that a listing of the folder reads like `docker volume ls`.
 *
 * @since 0.1.0
 */
export const fileOf = (l: Layout, name: string): string => Path.join(l.volumesDir, name)

/**
 * Serialises a record.
 *
 * @since 0.1.0
 */
export const encode = (record: VolumeTable.VolumeRecord, labels: Readonly<Record<string, string>>): string =>
  `${JSON.stringify(
    {
      version: 1,
      name: record.name,
      options: record.options,
      labels,
      createdAt: record.createdAt,
      mounts: record.mounts
    } satisfies typeof StateFile.Type,
    null,
    2
  )}\n`

/**
 * Reads a record back; the name inside must match the file name.
 *
 * @since 0.1.0
 */
export const decode = (file: string, text: string): Result.Result<VolumeTable.VolumeRecord, VolumeStateCorrupt> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return Result.fail(new VolumeStateCorrupt({ file, reason: (e as Error).message }))
  }
  return Result.flatMap(
    Result.mapError(
      Schema.decodeUnknownResult(StateFile)(json),
      (e) => new VolumeStateCorrupt({ file, reason: e.message.replace(/\n\s*/g, " ") })
    ),
    (state) =>
      state.name !== Path.basename(file)
        ? Result.fail(new VolumeStateCorrupt({ file, reason: `it describes volume "${state.name}"` }))
        : Result.succeed({
            name: state.name,
            options: state.options,
            createdAt: state.createdAt,
            mounts: state.mounts
          })
  )
}

/**
 * Writes a volume's state file atomically.
 *
 * @since 0.1.0
 */
export const save = (
  l: Layout,
  record: VolumeTable.VolumeRecord,
  labels: Readonly<Record<string, string>>
): Effect.Effect<void, VolumeFsError, VolumeFs> =>
  VolumeFs.use((fs) => fs.writeFileAtomic(fileOf(l, record.name), encode(record, labels), l.tmpDir))

/**
 * Deletes a volume's state file durably.
 *
 * @since 0.1.0
 */
export const erase = (l: Layout, name: string): Effect.Effect<void, VolumeFsError, VolumeFs> =>
  VolumeFs.use((fs) => fs.removeFile(fileOf(l, name)))

/**
 * Prepares the state folder and reads every state file. Leftover temporary files (a write interrupted before its
 * rename, so the previous state file is intact) are deleted.
 *
 * @since 0.1.0
 */
export const load = (
  l: Layout
): Effect.Effect<ReadonlyArray<VolumeTable.VolumeRecord>, VolumeFsError | VolumeStateCorrupt, VolumeFs> =>
  Effect.gen(function* () {
    const fs = yield* VolumeFs
    yield* fs.removeTree(l.tmpDir)
    yield* fs.makeDirectory(l.tmpDir, { mode: 0o700 })
    yield* fs.makeDirectory(l.volumesDir, { mode: 0o700 })
    const names = yield* fs.readDirectory(l.volumesDir)
    const records: Array<VolumeTable.VolumeRecord> = []
    for (const name of [...names].sort()) {
      const file = fileOf(l, name)
      const text = yield* fs.readFile(file)
      records.push(yield* Effect.fromResult(decode(file, text)))
    }
    return records
  })

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
