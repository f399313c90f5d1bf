/**
 * `volume-local`: a VolumeDriver that keeps each volume in a folder under a root and its metadata in atomically
 * replaced state files, so that a restart (or `kill -9`) loses no volume and no mount count.
 *
 * The rules live in the pure `VolumeTable`; this module orders the side effects around each transition so that a
 * crash between two of them leaves something start-up can reconcile:
 *
 * - Create: state file, then folder (a crash leaves state without folder: the folder is created again).
 * - Remove: folder, then state file (a crash leaves the volume, possibly emptied; the daemon retries Remove).
 * - Mount/Unmount: folder (first mount), then state file, then memory.
 *
 * @since 0.1.0
 */
import { VolumeDriver, Wire } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Path from "node:path"
import { InvalidArgument, type VolumeError } from "../volume/VolumeErrors.ts"
import { type FolderSettings, notAFolder, VolumeFs, VolumeFsError } from "./VolumeFs.ts"
import * as VolumeFsMemory from "./VolumeFsMemory.ts"
import * as VolumeFsNode from "./VolumeFsNode.ts"
import * as FolderOwner from "../shared/FolderOwner.ts"
import * as KeyedLocks from "../shared/KeyedLocks.ts"
import type * as StateFiles from "../shared/StateFiles.ts"
import * as VolumeName from "../volume/VolumeName.ts"
import * as VolumeOptions from "./VolumeOptions.ts"
import * as VolumeState from "./VolumeState.ts"
import * as VolumeTable from "../volume/VolumeTable.ts"
import { defaultRoot, defaultStateDir } from "./VolumeLocalDefaults.ts"

/** The defaults, also reachable from here. */
export { defaultRoot, defaultStateDir }

/**
 * Settings of the driver.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Folder holding one sub-folder per volume (default `/var/lib/docker-plugin-kit/volumes`). */
  readonly root?: string
  /** Folder holding the state files (default `/var/lib/docker-plugin-kit/state`). */
  readonly stateDir?: string
  /** Clock used for `CreatedAt` (tests pin it). */
  readonly now?: () => Date
}

/**
 * Why the driver could not start.
 *
 * @since 0.1.0
 */
export type StartError = VolumeFsError | StateFiles.StateFileCorrupt | InvalidArgument | StateFiles.StateFolderInUse

/**
 * Every failure a call can report.
 *
 * @since 0.1.0
 */
export type CallError = VolumeError | VolumeFsError

/**
 * The recorded options, validated. A volume created before `size` was checked strictly (`size=0`) keeps its owner,
 * mode and labels: only the size hint is dropped. Options that still do not validate set nothing.
 */
const decodeRecorded = (options: Readonly<Record<string, string>>) => {
  const decoded = VolumeOptions.decode(options)
  if (Result.isSuccess(decoded) || options.size === undefined) return decoded
  const { size: _size, ...rest } = options
  return VolumeOptions.decode(rest)
}

/** Folder settings from the recorded options; options that no longer validate set nothing. */
const settingsOf = (options: Readonly<Record<string, string>>): FolderSettings =>
  Result.match(decodeRecorded(options), {
    onFailure: () => ({}),
    onSuccess: ({ uid, gid, mode }) => ({
      ...(uid === undefined ? {} : { uid }),
      ...(gid === undefined ? {} : { gid }),
      ...(mode === undefined ? {} : { mode })
    })
  })

const labelsOf = (options: Readonly<Record<string, string>>): Readonly<Record<string, string>> =>
  Result.match(decodeRecorded(options), { onFailure: () => ({}), onSuccess: (o) => o.labels })

/**
 * Whether a volume folder would be the state folder or hold it. Both paths are resolved (absolute, no `..`), and a
 * volume name is one path component, so comparing the texts is enough.
 *
 * @since 0.1.0
 */
export const holdsStateDir = (folder: string, stateDir: string): boolean =>
  folder === stateDir || stateDir.startsWith(folder.endsWith("/") ? folder : `${folder}/`)

/**
 * Builds the driver: loads and reconciles the state, then serves calls.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<VolumeDriver.Driver, StartError, VolumeFs | Scope.Scope> =>
  Effect.gen(function* () {
    const fs = yield* VolumeFs
    const root = Path.resolve(options.root ?? defaultRoot)
    const stateDir = Path.resolve(options.stateDir ?? defaultStateDir)
    const now = options.now ?? (() => new Date())
    const layout = VolumeState.layout(stateDir)
    const folderOf = (name: string) => Path.join(root, name)
    // The state files are in `layout.dir` and `layout.tmpDir`, under the state folder, with the owner file beside
    // them: with the state folder as the root, these are entries of the root too.
    const stateFoldersOf = (dir: string) => {
      const l = VolumeState.layout(dir)
      return [dir, l.dir, l.tmpDir, FolderOwner.fileOf(dir)]
    }
    // A root in a folder of state files mixes volume folders with state files (a volume's folder would be its state
    // file's path), and the temporary folder is emptied at every start: refused before anything is touched.
    const rootHolderOf = (rootDir: string, dir: string) => {
      const l = VolumeState.layout(dir)
      return [l.dir, l.tmpDir].find((held) => holdsStateDir(held, rootDir))
    }
    const refuseRoot = (rootDir: string, holder: string) =>
      new InvalidArgument({
        field: "root",
        reason: `${rootDir} is in the folder ${holder}, which holds the driver's state files; choose another root`
      })
    const rootHolder = rootHolderOf(root, stateDir)
    if (rootHolder !== undefined) return yield* refuseRoot(root, rootHolder)

    // The state folder is this driver's alone until the scope closes (before loading, which empties its temporary
    // folder): a second plugin on it would overwrite these state files and manage the same volumes.
    yield* fs.claimFolder(stateDir)
    yield* fs.makeDirectory(stateDir)
    yield* fs.makeDirectory(root)
    // The paths as given may still meet through a symlink (a state folder /var/lib/dpk/state with /var/lib/dpk a
    // link to the root): compared again with every link resolved, before the state is loaded (which empties its
    // temporary folder). Left to the texts alone, the state folder was adopted as a volume.
    const realRoot = yield* fs.realPath(root)
    const realStateDir = yield* fs.realPath(stateDir)
    const realRootHolder = rootHolderOf(realRoot, realStateDir)
    if (realRootHolder !== undefined) return yield* refuseRoot(root, realRootHolder)
    const stateFolders = stateFoldersOf(stateDir)
    const realStateFolders = stateFoldersOf(realStateDir)
    const stateHeldBy = (name: string) =>
      stateFolders.find((dir) => holdsStateDir(folderOf(name), dir)) ??
      realStateFolders.find((dir) => holdsStateDir(Path.join(realRoot, name), dir))
    // With the state folder inside the root, a volume named after it (or after a folder on its way) would expose
    // every state file to a container, and removing it would erase them all: such names are refused.
    const checkFolder = (name: string): Result.Result<string, InvalidArgument> => {
      const held = stateHeldBy(name)
      return held !== undefined
        ? Result.fail(
            new InvalidArgument({
              field: "Name",
              reason: `"${name}" would use the folder ${folderOf(name)}, which holds the driver's state ${held}`
            })
          )
        : Result.succeed(name)
    }

    const records = yield* VolumeState.load(layout)
    const folders: Array<VolumeState.Folder> = []
    for (const name of yield* fs.readDirectory(root)) {
      const path = folderOf(name)
      // The state folder may be placed inside the root (or be the root, its folders then in it): not volumes.
      if (stateHeldBy(name) !== undefined) continue
      const entry = yield* fs.stat(path)
      if (entry?.type === "Directory") folders.push({ name, modifiedAt: entry.modifiedAt })
    }
    const reconciliation = VolumeState.reconcile(records, folders)
    for (const name of reconciliation.recreate) {
      const record = records.find((r) => r.name === name)!
      // Whatever is at the path instead (a symlink, a file, the state folder of a name recorded before such names
      // were refused) is not the volume's: left as it is, not chmod-ed through, and Mount refuses it.
      if ((yield* fs.stat(folderOf(name))) !== undefined) {
        yield* Effect.logWarning(`volume ${name}: ${folderOf(name)} is not its folder; left as it is, Mount refuses it`)
        continue
      }
      yield* Effect.logWarning(`volume ${name}: folder ${folderOf(name)} was missing; created it again (empty)`)
      yield* fs.makeDirectory(folderOf(name), settingsOf(record.options))
    }
    for (const record of reconciliation.adopt) {
      yield* Effect.logWarning(`volume ${record.name}: folder without state; adopted it as a volume without options`)
      yield* VolumeState.save(layout, record, {})
    }
    const ref = yield* Ref.make<VolumeTable.VolumeTable>(
      new Map([...records, ...reconciliation.adopt].map((r) => [r.name, r] as const))
    )
    const locks = yield* KeyedLocks.make
    // A volume's folder is what the daemon bind-mounts into containers: anything else at its path (a symlink to /etc
    // planted there, a file) is refused rather than handed over or chmod-ed through.
    const checkEntry = (operation: string, name: string) =>
      Effect.flatMap(fs.stat(folderOf(name)), (entry) =>
        entry === undefined || entry.type === "Directory"
          ? Effect.succeed(entry)
          : Effect.fail(
              new VolumeFsError({
                operation,
                path: folderOf(name),
                reason: `${notAFolder}; remove it, or the volume`
              })
            )
      )

    const current = <A, E>(f: (table: VolumeTable.VolumeTable) => Result.Result<A, E>) =>
      Effect.flatMap(Ref.get(ref), (table) => Effect.fromResult(f(table)))
    const commit = (record: VolumeTable.VolumeRecord) => Ref.update(ref, (t) => new Map(t).set(record.name, record))
    // A write can fail after its rename (the fsync of the folder): the new file is then in place though the call
    // fails, and a restart would read a mount the daemon was told failed (an ID no Unmount ever releases, so the
    // volume could never be removed). The previous state is written back, as far as the disk allows.
    const persist = (record: VolumeTable.VolumeRecord, previous: VolumeTable.VolumeRecord) =>
      VolumeState.save(layout, record, labelsOf(record.options)).pipe(
        Effect.tapError(() => Effect.ignore(VolumeState.save(layout, previous, labelsOf(previous.options)))),
        Effect.andThen(commit(record))
      )
    // Calls on one volume are serialised; the table is read inside the lock, so what is computed stays true.
    const serialised =
      (name: string) =>
      <A>(effect: Effect.Effect<A, CallError, VolumeFs>): Effect.Effect<A, CallError> =>
        effect.pipe(locks.withLock(name), Effect.provideService(VolumeFs, fs))

    const describe = (record: VolumeTable.VolumeRecord): VolumeDriver.Volume => {
      const decoded = decodeRecorded(record.options)
      const size = Result.isSuccess(decoded) ? decoded.success.size : undefined
      return {
        Name: record.name,
        Mountpoint: folderOf(record.name),
        // The daemon refuses a whole Get or List answer whose CreatedAt does not parse, so one volume with an unusual
        // time (a folder adopted with an mtime after the year 9999, a state file edited by hand) would hide every
        // volume: such a time is left out, which the daemon accepts.
        ...(Wire.isRfc3339(record.createdAt) ? { CreatedAt: record.createdAt } : {}),
        Status: {
          mounts: record.mounts.length,
          options: record.options,
          labels: labelsOf(record.options),
          ...(size === undefined ? {} : { size: size.text, sizeBytes: size.bytes })
        }
      }
    }

    return VolumeDriver.make({
      create: ({ Name, Opts }) =>
        serialised(Name)(
          Effect.gen(function* () {
            yield* Effect.fromResult(Result.flatMap(VolumeName.validate(Name), checkFolder))
            const decoded = yield* Effect.fromResult(VolumeOptions.decode(Opts))
            const options = Opts ?? {}
            const { table, created } = yield* current((t) => VolumeTable.create(t, Name, options, now().toISOString()))
            if (!created) return {}
            const existed = (yield* checkEntry("create", Name)) !== undefined
            const record = table.get(Name)!
            // A save that failed after its rename leaves the file: erased, or the next start finds the volume.
            yield* VolumeState.save(layout, record, decoded.labels).pipe(
              Effect.tapError(() => Effect.ignore(VolumeState.erase(layout, Name)))
            )
            // A folder made before its chown or chmod failed goes too, folder first (as Remove): left behind, the
            // next start adopted it as a volume without options, and a Create with the options again conflicted.
            const rollback = Effect.andThen(
              existed ? Effect.void : Effect.ignore(fs.removeTree(folderOf(Name))),
              Effect.ignore(VolumeState.erase(layout, Name))
            )
            yield* fs.makeDirectory(folderOf(Name), settingsOf(options)).pipe(Effect.tapError(() => rollback))
            yield* commit(record)
            return {}
          })
        ),
      remove: ({ Name }) =>
        serialised(Name)(
          Effect.gen(function* () {
            // A record of such a name (written before names were checked) must not lead to erasing the state.
            yield* Effect.fromResult(checkFolder(Name))
            yield* current((t) => VolumeTable.remove(t, Name))
            yield* fs.removeTree(folderOf(Name))
            yield* VolumeState.erase(layout, Name)
            yield* Ref.update(ref, (t) => {
              const next = new Map(t)
              next.delete(Name)
              return next
            })
            return {}
          })
        ),
      mount: ({ Name, ID }) =>
        serialised(Name)(
          Effect.gen(function* () {
            yield* Effect.fromResult(checkFolder(Name))
            const before = yield* current((t) => VolumeTable.get(t, Name))
            const { first, record } = yield* current((t) => VolumeTable.mount(t, Name, ID))
            // Checked at every mount: each one hands the path to a container. The first mount prepares the folder:
            // it exists unless someone deleted it behind our back.
            const entry = yield* checkEntry("mount", Name)
            if (first && entry === undefined) {
              yield* fs.makeDirectory(folderOf(Name), settingsOf(record.options))
            }
            if (record !== before) yield* persist(record, before)
            return { Mountpoint: folderOf(Name) }
          })
        ),
      unmount: ({ Name, ID }) =>
        serialised(Name)(
          // The last unmount has nothing to release for a plain folder; the count is what matters. An ID the
          // volume does not hold changes nothing, so nothing is written.
          Effect.gen(function* () {
            const before = yield* current((t) => VolumeTable.get(t, Name))
            const { record } = yield* current((t) => VolumeTable.unmount(t, Name, ID))
            if (record !== before) yield* persist(record, before)
            return {}
          })
        ),
      path: ({ Name }) =>
        current((t) => Result.map(VolumeTable.get(t, Name), (r) => ({ Mountpoint: folderOf(r.name) }))),
      get: ({ Name }) => current((t) => Result.map(VolumeTable.get(t, Name), (r) => ({ Volume: describe(r) }))),
      list: () => Effect.map(Ref.get(ref), (table) => ({ Volumes: [...table.values()].map(describe) })),
      capabilities: () => Effect.succeed({ Capabilities: { Scope: "local" as const } })
    })
  })

/**
 * The driver as a Layer over any `VolumeFs`.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<VolumeDriver.VolumeDriver, StartError, VolumeFs> =>
  Layer.effect(VolumeDriver.VolumeDriver, make(options))

/**
 * The driver on the real disk.
 *
 * @since 0.1.0
 */
export const layerNode = (options: Options = {}): Layer.Layer<VolumeDriver.VolumeDriver, StartError> =>
  layer(options).pipe(Layer.provide(VolumeFsNode.layer))

/**
 * The driver on a fresh memory filesystem (nothing touches the disk).
 *
 * @since 0.1.0
 */
export const layerMemory = (
  options: Options = {},
  fs: VolumeFsMemory.Options = {}
): Layer.Layer<VolumeDriver.VolumeDriver, StartError> => layer(options).pipe(Layer.provide(VolumeFsMemory.layer(fs)))
