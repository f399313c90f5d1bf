/**
 * Crash-safe state files, for every driver that persists state: one JSON file per object (a volume, a network, a
 * pool) in a folder, each replaced atomically and validated by a Schema when read back at start-up.
 *
 * One file per object (rather than one file for all) lets calls on different objects write in parallel, and a
 * corrupt file can only ever concern one object. The files are read and written through a driver's own file-system
 * port (anything with the `Storage` operations), so the same rules run on the disk and in memory.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Path from "node:path"

/**
 * A state file could not be read back. Start-up stops rather than guess: the file names the object at stake.
 *
 * @since 0.1.0
 */
export class StateFileCorrupt extends Schema.TaggedError<StateFileCorrupt>()("StateFileCorrupt", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `state file ${this.file} is unreadable (${this.reason}); fix or remove it, then restart`
  }
}

/**
 * A driver could not start: its state folder is claimed by another live process, or by another driver of this
 * process (`STATE/owner.pid`, see `FolderOwner`). Two drivers on one state folder would overwrite each other's state
 * files and both manage the same objects (volumes, bridges and veth pairs).
 *
 * @since 0.1.0
 */
export class StateFolderInUse extends Schema.TaggedError<StateFolderInUse>()("StateFolderInUse", {
  folder: Schema.String,
  owner: Schema.Number,
  inThisProcess: Schema.Boolean
}) {
  override get message() {
    return this.inThisProcess
      ? `state folder ${this.folder} is already used by another driver in this process; give each driver its own state folder (--state-dir)`
      : `state folder ${this.folder} is in use by process ${this.owner}; stop that plugin first, or give this one its own state folder (--state-dir)`
  }
}

/**
 * The file operations a state folder needs; a driver's file-system port provides them (with its own error `E`).
 *
 * @since 0.1.0
 */
export interface Storage<E> {
  /** `mkdir -p`, then the mode of the last component. */
  readonly makeDirectory: (path: string, settings: { readonly mode: number }) => Effect.Effect<void, E>
  /** `rm -rf`; a missing path is fine. */
  readonly removeTree: (path: string) => Effect.Effect<void, E>
  /** Names in a folder; a missing folder has none. */
  readonly readDirectory: (path: string) => Effect.Effect<ReadonlyArray<string>, E>
  /** A file's content as UTF-8 text. */
  readonly readFile: (path: string) => Effect.Effect<string, E>
  /** Replaces a file atomically, through a temporary file in `tmpDir` (see `AtomicFile.write`). */
  readonly writeFileAtomic: (path: string, content: string, tmpDir: string) => Effect.Effect<void, E>
  /** Removes a file (missing is fine) durably. */
  readonly removeFile: (path: string) => Effect.Effect<void, E>
}

/**
 * Where a kind of state lives.
 *
 * @since 0.1.0
 */
export interface Layout {
  /** One file per object. */
  readonly dir: string
  /** Temporary files of atomic writes; same filesystem as `dir` so the rename is atomic. */
  readonly tmpDir: string
}

/**
 * The layout of the objects of one kind under a state folder: `STATE/KIND/NAME`, temporary files in `STATE/tmp`.
 *
 * @since 0.1.0
 */
export const layout = (stateDir: string, kind: string): Layout => ({
  dir: Path.join(stateDir, kind),
  tmpDir: Path.join(stateDir, "tmp")
})

/**
 * A folder of state files holding values of `S`, each named by its key.
 *
 * @since 0.1.0
 */
export interface StateFiles<A> {
  /** The file of a key. Keys are single safe path components (the driver validates names before they get here). */
  readonly fileOf: (layout: Layout, key: string) => string
  /** Serialises a value (pretty JSON and a final newline, so the files read well). */
  readonly encode: (value: A) => string
  /** Reads a value back; the key inside must match the file's name. */
  readonly decode: (file: string, text: string) => Result.Result<A, StateFileCorrupt>
  /** Writes a value's file atomically. */
  readonly save: <E>(storage: Storage<E>, layout: Layout, value: A) => Effect.Effect<void, E>
  /** Deletes a key's file durably. */
  readonly erase: <E>(storage: Storage<E>, layout: Layout, key: string) => Effect.Effect<void, E>
  /**
   * Prepares the folders (mode 0700) and reads every file, in name order. Leftover temporary files (a write
   * interrupted before its rename, so the previous file is intact) are deleted.
   */
  readonly load: <E>(storage: Storage<E>, layout: Layout) => Effect.Effect<ReadonlyArray<A>, E | StateFileCorrupt>
}

/**
 * Declares the state files of one kind of object.
 *
 * @since 0.1.0
 */
export const make = <S extends Schema.Codec<any, any, never, never>>(options: {
  /** The content of a file (include a version literal, so a future format can be told apart). */
  readonly schema: S
  /** The key of a value: its file name. */
  readonly keyOf: (value: S["Type"]) => string
  /** What an object is called in messages, e.g. "volume". */
  readonly noun: string
  /**
   * The format version this code reads and writes (the schema's `version` literal). A file with a higher
   * `version` is reported as written by a newer release, rather than as a mere schema mismatch ("Expected 1").
   */
  readonly version?: number
}): StateFiles<S["Type"]> => {
  const encodeJson = Schema.encodeSync(options.schema)
  const decodeJson = Schema.decodeUnknownResult(options.schema)
  const fileOf = (l: Layout, key: string) => Path.join(l.dir, key)
  const encode = (value: S["Type"]) => `${JSON.stringify(encodeJson(value), null, 2)}\n`
  const decode = (file: string, text: string): Result.Result<S["Type"], StateFileCorrupt> => {
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (e) {
      return Result.fail(new StateFileCorrupt({ file, reason: (e as Error).message }))
    }
    const found = typeof json === "object" && json !== null ? (json as { version?: unknown }).version : undefined
    if (options.version !== undefined && typeof found === "number" && found > options.version) {
      return Result.fail(
        new StateFileCorrupt({
          file,
          reason: `it is in format ${found}, written by a newer release; this one reads format ${options.version}: upgrade the driver`
        })
      )
    }
    return Result.flatMap(
      Result.mapError(
        decodeJson(json),
        (e) => new StateFileCorrupt({ file, reason: e.message.replace(/\n\s*/g, " ") })
      ),
      (value) => {
        const key = options.keyOf(value)
        return key !== Path.basename(file)
          ? Result.fail(new StateFileCorrupt({ file, reason: `it describes ${options.noun} "${key}"` }))
          : Result.succeed(value)
      }
    )
  }
  return {
    fileOf,
    encode,
    decode,
    save: (storage, l, value) => storage.writeFileAtomic(fileOf(l, options.keyOf(value)), encode(value), l.tmpDir),
    erase: (storage, l, key) => storage.removeFile(fileOf(l, key)),
    load: (storage, l) =>
      Effect.gen(function* () {
        yield* storage.removeTree(l.tmpDir)
        yield* storage.makeDirectory(l.tmpDir, { mode: 0o700 })
        yield* storage.makeDirectory(l.dir, { mode: 0o700 })
        const values: Array<S["Type"]> = []
        for (const name of [...(yield* storage.readDirectory(l.dir))].sort()) {
          const file = fileOf(l, name)
          values.push(yield* Effect.fromResult(decode(file, yield* storage.readFile(file))))
        }
        return values
      })
  }
}
