/**
 * `graph-overlay` and `graph-vfs`: GraphDriver plugins keeping each layer in a folder of its own under a root,
 * `ROOT/<id>/diff`, with its parent's ID in `ROOT/<id>/parent`.
 *
 * - `overlay` mode: `diff` holds only the layer's own changes (whiteouts in overlayfs' form); `Get` of a layer with
 *   a parent mounts an overlay of `diff` over its ancestors' at `ROOT/<id>/merged`; `Diff`/`Changes` read `diff`.
 * - `vfs` mode (where overlayfs cannot mount): `Create` copies the parent's folder whole, `Get` mounts nothing,
 *   `Diff`/`Changes` compare the folder with the parent's.
 *
 * The root is one driver's at a time: claimed at start (`ROOT/owner.pid`, see `FolderOwner`) before anything in it
 * is touched, and given up when the driver stops. A root that is itself a symlink is refused.
 *
 * Everything but mounting and copying is shared. Layers are found again on disk at start (a layer folder appears
 * by an atomic rename once complete and disappears by a rename before it is deleted), so state survives plugin and
 * daemon restarts; overlays still mounted when the plugin restarts are adopted as held once. The rules are in the
 * pure `GraphTable`; the mount work behind the `Mounts` service.
 *
 * With the daemon's user namespaces remapped (`dockerd --userns-remap`), `Init` brings the ID ranges: layers are
 * applied with their owners moved to host IDs and written out with them moved back, and a layer's folder belongs to
 * the containers' root, as with the engine's own drivers.
 *
 * @since 0.1.0
 */
import { IdMapping, LayerApply, LayerChanges, LayerDiff, LayerTarError } from "@docker-plugin-kit/helpers"
import { GraphDriver } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as FileKind from "../shared/FileKind.ts"
import * as FolderOwner from "../shared/FolderOwner.ts"
import * as KeyedLocks from "../shared/KeyedLocks.ts"
import {
  type GraphRootInUse,
  GraphUnsupported,
  InvalidLayerId,
  LayerNotFound,
  UnsafeGraphRoot,
  UnsafeLayerPath
} from "./GraphErrors.ts"
import * as GraphTable from "./GraphTable.ts"
import { type MountError, Mounts, type OverlaySpec } from "./Mounts.ts"
import * as MountsMemory from "./MountsMemory.ts"
import * as MountsNode from "./MountsNode.ts"

/**
 * How layers are stacked.
 *
 * @since 0.1.0
 */
export type Mode = "overlay" | "vfs"

/**
 * Settings of the driver.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly mode: Mode
  /** Folder holding the layers; when absent, the `Home` the daemon sends with `Init`. */
  readonly root?: string
}

/**
 * Why the driver could not start.
 *
 * @since 0.1.0
 */
export type StartError = LayerTarError.LayerIoError | MountError | GraphRootInUse | UnsafeGraphRoot

const tmpPrefix = ".tmp-"
const removingPrefix = ".removing-"

/** The folders of one layer. */
const layout = (root: string, id: string) => {
  const dir = Path.join(root, id)
  return {
    dir,
    diff: Path.join(dir, "diff"),
    work: Path.join(dir, "work"),
    merged: Path.join(dir, "merged"),
    parent: Path.join(dir, "parent")
  }
}

const io = <A>(operation: string, path: string, f: () => A) =>
  Effect.try({ try: f, catch: LayerTarError.ioError(operation, path) })

/**
 * Checks that each of a layer's `paths` is a real folder, not a symlink (or anything else) planted in its place:
 * mount(2), cp(1) and the tar readers follow symlinks, so a planted one would have the layer mounted, copied or read
 * outside the root, and an overlay's work folder emptied there by the kernel.
 */
const ownFolders = (layer: string, paths: ReadonlyArray<string>) =>
  Effect.forEach(paths, (path) => {
    let found: string
    try {
      const stat = Fs.lstatSync(path)
      if (stat.isDirectory()) return Effect.void
      found = stat.isSymbolicLink() ? "a symlink" : "not a folder"
    } catch (e) {
      found = (e as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : `unreadable (${String(e)})`
    }
    return Effect.fail(new UnsafeLayerPath({ layer, path, found }))
  }).pipe(Effect.asVoid)

/** Reads a file of the driver's own without following a symlink planted in its place. */
const readOwnFile = (path: string) => {
  const fd = Fs.openSync(path, Fs.constants.O_RDONLY | Fs.constants.O_NOFOLLOW)
  try {
    return Fs.readFileSync(fd, "utf8")
  } finally {
    Fs.closeSync(fd)
  }
}

/** statfs(2) magic numbers of the usual backing filesystems. */
const filesystemNames = new Map<number, string>([
  [0xef53, "extfs"],
  [0x58465342, "xfs"],
  [0x9123683e, "btrfs"],
  [0x01021994, "tmpfs"],
  [0x794c7630, "overlayfs"],
  [0x2fc12fc1, "zfs"]
])

/** One root's layers: what was found on disk, and what is mounted; closing `scope` gives the root's claim up. */
interface Store {
  readonly root: string
  readonly table: Ref.Ref<GraphTable.GraphTable>
  readonly scope: Scope.Closeable
}

/** The path without symlinks, as mountinfo names mount points (the path resolved as it is, while it does not exist). */
const canonical = (path: string) => {
  const resolved = Path.resolve(path)
  try {
    return Fs.realpathSync(resolved)
  } catch {
    return resolved
  }
}

/**
 * Fails when `given` is there but not a folder: a symlink planted as the root would have `load` delete what looks
 * like leftovers, and the layers be written, wherever it points. A folder above it may be a link (a data root moved
 * to another disk and linked back): that one is where the operator put it, and is resolved below.
 */
const checkRoot = (given: string) =>
  Effect.flatMap(
    io("stat", given, () => {
      try {
        return Fs.lstatSync(given)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined
        throw e
      }
    }),
    (stat) => {
      if (stat === undefined || stat.isDirectory()) return Effect.void
      const found = stat.isSymbolicLink() ? `a symlink (to ${linkTarget(given)})` : FileKind.of(stat)
      return Effect.fail(new UnsafeGraphRoot({ root: given, found }))
    }
  )

const linkTarget = (path: string) => {
  try {
    return Fs.readlinkSync(path)
  } catch {
    return "an unreadable target"
  }
}

/**
 * Claims the root under `given` for the scope, then reads its layers, finishing what a crash interrupted, and adopts
 * overlays still mounted.
 */
const load = (given: string, mode: Mode) =>
  Effect.gen(function* () {
    const mounts = yield* Mounts
    // Checked, made and resolved as one path without a trailing `/` or `/.`: `lstat` of `link/` follows the link, so
    // a symlinked root given so would pass the check and be resolved to wherever it points.
    const path = Path.resolve(given)
    yield* checkRoot(path)
    yield* io("mkdir", path, () => Fs.mkdirSync(path, { recursive: true, mode: 0o700 }))
    // Again once made: a link planted while it did not exist is not followed either (the window is narrowed to the
    // resolution below, not closed; the folder above the root is the operator's or the daemon's).
    yield* checkRoot(path)
    // Without symlinks (a data root moved to another disk and linked back, say): mountinfo lists the real paths, so
    // under a linked root the overlays left mounted would be neither adopted nor unmounted by Cleanup.
    const root = yield* io("realpath", path, () => Fs.realpathSync(path))
    // Before anything in it is touched: another driver on this root would have its layers in the making deleted
    // below as a crash's leftovers, and its overlays adopted, then unmounted by this one's Cleanup.
    yield* mounts.claimRoot(root)
    const mounted = new Set(yield* mounts.mountedUnder(root))
    const records: Array<GraphTable.LayerRecord> = []
    for (const name of yield* io("readdir", root, () => Fs.readdirSync(root))) {
      const paths = layout(root, name)
      if (name.startsWith(tmpPrefix) || name.startsWith(removingPrefix)) {
        yield* io("remove", paths.dir, () => Fs.rmSync(paths.dir, { recursive: true, force: true }))
        continue
      }
      // Only a real folder is a layer: a symlink planted in the root (or anything else) would have the layer's
      // folders resolved outside it, and ApplyDiff write there.
      const folder = yield* io("stat", paths.dir, () => Fs.lstatSync(paths.dir).isDirectory())
      if (!folder || !Fs.existsSync(paths.diff)) continue
      let parent: string
      try {
        parent = readOwnFile(paths.parent).trim()
      } catch (e) {
        // One layer's unreadable (or planted) parent file leaves that layer out, not the driver unstarted.
        yield* Effect.logWarning(`layer ${name} in ${root} left out: its parent file cannot be read (${String(e)})`)
        continue
      }
      const mounts = mode === "overlay" && mounted.has(paths.merged) ? 1 : 0
      records.push(parent === "" ? { id: name, mounts } : { id: name, parent, mounts })
    }
    // A parent file names what it likes: only layers whose chain reaches a base layer through layers on disk are
    // kept (a loop, or a parent of `../..`, would have overlays mount other folders as lowers). The rest stay on
    // disk, untouched, for someone to look at.
    const found = GraphTable.fromDisk(records)
    for (const { id, reason } of found.skipped) yield* Effect.logWarning(`layer ${id} in ${root} left out: ${reason}`)
    const table = yield* Ref.make<GraphTable.GraphTable>(found.table)
    return { root, table }
  })

/**
 * Builds the driver.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<GraphDriver.Driver, StartError, Mounts | Scope.Scope> =>
  Effect.gen(function* () {
    const mounts = yield* Mounts
    const scope = yield* Scope.Scope
    const mode = options.mode
    const locks = yield* KeyedLocks.make
    // One Init at a time: two at once would both open a root, and the one set first would stay claimed, unused, until
    // the driver stops (then refused as this process' own when named again), or the same root be refused to itself.
    const initLock = Semaphore.makeUnsafe(1)
    /** Loads a root, its claim held in a scope of its own: until the driver stops, or a later Init moves it. */
    const open = (given: string) =>
      Effect.gen(function* () {
        const held = yield* Scope.fork(scope)
        return yield* load(given, mode).pipe(
          Effect.provideService(Mounts, mounts),
          Scope.provide(held),
          Effect.map((loaded): Store => ({ ...loaded, scope: held })),
          Effect.onError((cause) => Scope.close(held, Exit.failCause(cause)))
        )
      })
    const stores = yield* Ref.make<Store | undefined>(
      options.root === undefined ? undefined : yield* open(options.root)
    )
    const store = Effect.flatMap(Ref.get(stores), (s) =>
      s === undefined
        ? Effect.fail(
            new GraphUnsupported({ reason: "the driver has no root yet: Init was not called and no root was given" })
          )
        : Effect.succeed(s)
    )
    const current = <A, E>(f: (table: GraphTable.GraphTable) => Result.Result<A, E>) =>
      Effect.flatMap(store, (s) => Effect.flatMap(Ref.get(s.table), (t) => Effect.fromResult(f(t))))
    // Only the layer's own record is written, onto the table as it is now: other layers change under their own
    // locks while this one waits on the disk or a mount, and setting the whole table read before would undo them.
    const commit = (id: string, table: GraphTable.GraphTable) =>
      Effect.flatMap(store, (s) =>
        Ref.update(s.table, (now) => {
          const next = new Map(now)
          const record = table.get(id)
          if (record === undefined) next.delete(id)
          else next.set(id, record)
          return next
        })
      )
    const serialised = (id: string) => locks.withLock(id)
    /** Holds the locks of several layers, taken in one order so two calls never wait on each other. */
    const serialisedAll =
      (ids: ReadonlyArray<string>) =>
      <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
        [...new Set(ids)].sort().reduceRight((inner, id) => locks.withLock(id)(inner), effect)
    // The daemon's user-namespace remapping, from Init (none until then, and without --userns-remap).
    const idMapping = yield* Ref.make<IdMapping.IdMapping | undefined>(undefined)

    /** The overlay of a layer on its ancestors, or nothing to mount (vfs, or a base layer). */
    const overlayOf = (s: Store, table: GraphTable.GraphTable, id: string): OverlaySpec | undefined => {
      if (mode !== "overlay" || table.get(id)?.parent === undefined) return undefined
      // Relative to the root, so the option string stays short for long chains.
      return {
        cwd: s.root,
        lowers: GraphTable.ancestors(table, id).map((a) => `${a}/diff`),
        upper: `${id}/diff`,
        work: `${id}/work`,
        target: layout(s.root, id).merged
      }
    }

    /** Checks the folders of `id` (with `work` and `merged` when it is `mounted`) and of the `lowers` under it. */
    const ownLayers = (s: Store, id: string, lowers: ReadonlyArray<string>, mounted: boolean) => {
      const own = layout(s.root, id)
      return Effect.andThen(
        ownFolders(id, mounted ? [own.dir, own.diff, own.work, own.merged] : [own.dir, own.diff]),
        Effect.forEach(
          lowers,
          (lower) => {
            const paths = layout(s.root, lower)
            return ownFolders(lower, [paths.dir, paths.diff])
          },
          { discard: true }
        )
      )
    }

    /**
     * Storage options (`docker run --storage-opt size=10G`) are refused, not ignored: a container that asked for a
     * size limit must not run without one. The daemon's own overlay2 and vfs refuse them the same way where they
     * cannot set a quota.
     */
    const refuseStorageOpts = (options: Readonly<Record<string, string>> | undefined) => {
      const [option] = Object.entries(options ?? {})
      return option === undefined
        ? Effect.void
        : Effect.fail(
            new GraphUnsupported({
              reason: `--storage-opt ${option[0]}=${option[1]} is not supported: graph-${mode} sets no quotas, its layers share the space of the file system under its root`
            })
          )
    }

    // The parent's lock too: its Remove (which sees no child until this one commits) cannot run while the layer is
    // made on it, so no layer is ever committed on a parent that is gone, nor copied from one half deleted.
    const create = (ID: string, Parent: string | undefined) =>
      serialisedAll(Parent === undefined ? [ID] : [ID, Parent])(
        Effect.gen(function* () {
          // The root's owner file has a name a layer ID may take (the daemon's IDs never do).
          if (ID === FolderOwner.fileName) {
            return yield* new InvalidLayerId({ layer: ID, reason: "it is the name of the driver's owner file" })
          }
          const s = yield* store
          const table = yield* current((t) =>
            GraphTable.create(t, ID, Parent, mode === "overlay" ? GraphTable.overlayMaxLowers : undefined)
          )
          const final = layout(s.root, ID)
          const tmp = layout(s.root, `${tmpPrefix}${ID}-${Crypto.randomUUID()}`)
          const ids = yield* Ref.get(idMapping)
          // Remapped, the containers' root (not the host's) owns the top of their file system.
          const own = (path: string) => {
            if (ids === undefined) return
            const root = IdMapping.hostRoot(ids)
            Fs.chownSync(path, root.uid, root.gid)
          }
          yield* Effect.gen(function* () {
            yield* io("mkdir", tmp.diff, () => {
              Fs.mkdirSync(tmp.diff, { recursive: true, mode: 0o755 })
              Fs.chmodSync(tmp.diff, 0o755)
              own(tmp.diff)
              if (mode === "overlay") {
                Fs.mkdirSync(tmp.work)
                Fs.mkdirSync(tmp.merged)
                own(tmp.work)
                own(tmp.merged)
              }
              Fs.writeFileSync(tmp.parent, Parent ?? "")
            })
            if (mode === "vfs" && Parent !== undefined) {
              yield* ownLayers(s, Parent, [], false)
              yield* mounts.copy(layout(s.root, Parent).diff, tmp.diff)
            }
            yield* io("rename", final.dir, () => Fs.renameSync(tmp.dir, final.dir))
          }).pipe(Effect.tapError(() => Effect.sync(() => Fs.rmSync(tmp.dir, { recursive: true, force: true }))))
          yield* commit(ID, table)
          return {}
        })
      )

    /**
     * A counted Get or Put: the table's transition, then the mount work when the count leaves or reaches zero
     * (`edge`), then the new count. Answers the folder the layer is seen in (`answered`: the daemon uses it).
     */
    const counted = <E>(
      ID: string,
      answered: boolean,
      step: (table: GraphTable.GraphTable) => Result.Result<{ table: GraphTable.GraphTable; edge: boolean }, E>,
      atEdge: (overlay: OverlaySpec) => Effect.Effect<void, MountError>
    ) =>
      serialised(ID)(
        Effect.gen(function* () {
          const s = yield* store
          const before = yield* Ref.get(s.table)
          const { table, edge } = yield* Effect.fromResult(step(before))
          const overlay = overlayOf(s, before, ID)
          // Checked before each mount or unmount (both follow symlinks), and each time the folder is answered, not
          // only at the mount: the daemon uses it each time. A Put that unmounts nothing checks nothing, so a layer
          // folder deleted by hand can still be released and removed.
          if (answered || (edge && overlay !== undefined)) {
            const lowers = overlay === undefined ? [] : GraphTable.ancestors(before, ID)
            yield* ownLayers(s, ID, lowers, overlay !== undefined)
          }
          if (edge && overlay !== undefined) yield* atEdge(overlay)
          yield* commit(ID, table)
          return overlay === undefined ? layout(s.root, ID).diff : overlay.target
        })
      )

    const sourceOf = (ID: string, Parent: string | undefined) =>
      Effect.gen(function* () {
        const s = yield* store
        const table = yield* Ref.get(s.table)
        const record = yield* Effect.fromResult(GraphTable.get(table, ID))
        if (Parent !== undefined && !table.has(Parent)) return yield* Effect.fail(new LayerNotFound({ layer: Parent }))
        if (mode === "vfs") {
          yield* ownLayers(s, ID, Parent === undefined ? [] : [Parent], false)
          return LayerChanges.naive(
            layout(s.root, ID).diff,
            Parent === undefined ? undefined : layout(s.root, Parent).diff
          )
        }
        if (Parent !== record.parent) {
          return yield* Effect.fail(
            new GraphUnsupported({
              reason: `layer ${ID} can only be compared with its parent (${record.parent ?? "none"}), not with ${Parent ?? "nothing"}`
            })
          )
        }
        const chain = GraphTable.ancestors(table, ID)
        yield* ownLayers(s, ID, chain, false)
        return LayerChanges.overlay(
          layout(s.root, ID).diff,
          chain.map((a) => layout(s.root, a).diff)
        )
      })

    return GraphDriver.GraphDriver.of({
      init: ({ Home, UIDMaps, GIDMaps }) =>
        Effect.gen(function* () {
          // A relative Home would be resolved against the plugin's working folder, whose leftovers load would clear.
          if (options.root === undefined && !Path.isAbsolute(Home)) {
            return yield* Effect.fail(
              new GraphUnsupported({ reason: `Init's Home must be an absolute path, not ${JSON.stringify(Home)}` })
            )
          }
          // Before its links are resolved: a Home that is itself a symlink is refused as a given root is (without a
          // trailing `/`, which `lstat` would follow).
          if (options.root === undefined) yield* checkRoot(Path.resolve(Home))
          const ids = IdMapping.fromInit(UIDMaps, GIDMaps)
          const existing = yield* Ref.get(stores)
          const root = options.root === undefined ? canonical(Home) : existing?.root
          if (root !== undefined && existing?.root !== root) {
            yield* Ref.set(stores, yield* open(root))
            // The root the daemon named before is no longer this driver's: another may take it.
            if (existing !== undefined) yield* Scope.close(existing.scope, Exit.void)
          }
          // Only once the root is taken: an Init refused leaves the driver on its root with its mapping.
          yield* Ref.set(idMapping, ids)
          // Remapped, the runtime reaches a container's root folder as the containers' root, which needs to pass
          // through the driver's folder (the daemon checks the same of its own folders).
          if (ids !== undefined && root !== undefined) yield* io("chmod", root, () => Fs.chmodSync(root, 0o711))
          return {}
        }).pipe(initLock.withPermit),
      create: ({ ID, Parent, StorageOpt }) => Effect.andThen(refuseStorageOpts(StorageOpt), create(ID, Parent)),
      createReadWrite: ({ ID, Parent, StorageOpt }) =>
        Effect.andThen(refuseStorageOpts(StorageOpt), create(ID, Parent)),
      remove: ({ ID }) =>
        serialised(ID)(
          Effect.gen(function* () {
            const s = yield* store
            const table = yield* current((t) => GraphTable.remove(t, ID))
            const paths = layout(s.root, ID)
            const doomed = Path.join(s.root, `${removingPrefix}${ID}-${Crypto.randomUUID()}`)
            // Renamed first: a crash in the middle of the deletion leaves no half layer behind. A folder already gone
            // (deleted by hand) is removed all the same, as overlay2 does: refused, the layer would stay listed forever.
            const renamed = yield* io("rename", paths.dir, () => {
              try {
                Fs.renameSync(paths.dir, doomed)
                return true
              } catch (e) {
                if ((e as NodeJS.ErrnoException).code === "ENOENT") return false
                throw e
              }
            })
            yield* commit(ID, table)
            if (renamed) yield* io("remove", doomed, () => Fs.rmSync(doomed, { recursive: true, force: true }))
            return {}
          })
        ),
      get: ({ ID }) =>
        Effect.map(
          counted(
            ID,
            true,
            (t) => Result.map(GraphTable.acquire(t, ID), ({ table, first }) => ({ table, edge: first })),
            mounts.mountOverlay
          ),
          (Dir) => ({ Dir })
        ),
      put: ({ ID }) =>
        Effect.as(
          counted(
            ID,
            false,
            (t) => Result.map(GraphTable.release(t, ID), ({ table, last }) => ({ table, edge: last })),
            (overlay) => mounts.unmount(overlay.target)
          ),
          {}
        ),
      exists: ({ ID }) =>
        Effect.map(
          Effect.flatMap(store, (s) => Ref.get(s.table)),
          (t) => ({ Exists: t.has(ID) })
        ).pipe(Effect.orElseSucceed(() => ({ Exists: false }))),
      status: () =>
        Effect.gen(function* () {
          const s = yield* store
          const table = yield* Ref.get(s.table)
          const type = yield* io("statfs", s.root, () => Fs.statfsSync(s.root).type)
          const held = [...table.values()].filter((r) => r.mounts > 0).length
          return {
            Status: [
              ["Backing Filesystem", filesystemNames.get(type) ?? `0x${type.toString(16)}`],
              ["Root Dir", s.root],
              ["Mode", mode === "overlay" ? "overlayfs" : "vfs (full copies)"],
              ["Layers", String(table.size)],
              ["Layers In Use", String(held)]
            ] as const
          }
        }),
      getMetadata: ({ ID }) =>
        Effect.gen(function* () {
          const s = yield* store
          const table = yield* Ref.get(s.table)
          const record = yield* Effect.fromResult(GraphTable.get(table, ID))
          const paths = layout(s.root, ID)
          const parent = record.parent === undefined ? {} : { Parent: record.parent }
          if (mode === "vfs") return { Metadata: { Dir: paths.diff, ...parent } }
          const lowers = GraphTable.ancestors(table, ID).map((a) => layout(s.root, a).diff)
          return {
            Metadata: {
              UpperDir: paths.diff,
              WorkDir: paths.work,
              MergedDir: record.parent === undefined ? paths.diff : paths.merged,
              ...(lowers.length === 0 ? {} : { LowerDir: lowers.join(":") }),
              ...parent
            }
          }
        }),
      cleanup: () =>
        Effect.gen(function* () {
          const s = yield* Ref.get(stores)
          if (s === undefined) return {}
          const table = yield* Ref.get(s.table)
          for (const record of table.values()) {
            const overlay = overlayOf(s, table, record.id)
            if (record.mounts > 0 && overlay !== undefined) yield* mounts.unmount(overlay.target)
          }
          // Anything else mounted under the root (left by an earlier run) goes too.
          for (const target of yield* mounts.mountedUnder(s.root)) yield* mounts.unmount(target)
          // Onto the table as it is now: a Create or Remove that ran while the unmounts waited stays.
          yield* Ref.update(s.table, GraphTable.releaseAll)
          return {}
        }),
      diff: ({ ID, Parent }) =>
        Effect.gen(function* () {
          const source = yield* sourceOf(ID, Parent)
          const ids = yield* Ref.get(idMapping)
          return LayerDiff.diff(source, ids === undefined ? {} : { ids })
        }),
      changes: ({ ID, Parent }) =>
        Effect.map(Effect.flatMap(sourceOf(ID, Parent), LayerChanges.changes), (Changes) => ({ Changes })),
      applyDiff: ({ id, body }) =>
        Effect.gen(function* () {
          const s = yield* store
          yield* current((t) => GraphTable.get(t, id))
          yield* ownLayers(s, id, [], false)
          const ids = yield* Ref.get(idMapping)
          const applied = yield* LayerApply.apply(layout(s.root, id).diff, body, {
            whiteouts: mode === "overlay" ? "overlay" : "naive",
            ...(ids === undefined ? {} : { ids })
          })
          return { Size: applied.size }
        }),
      diffSize: ({ ID, Parent }) =>
        Effect.map(Effect.flatMap(sourceOf(ID, Parent), LayerChanges.size), (Size) => ({ Size })),
      capabilities: () => Effect.succeed({ Capabilities: { ReproducesExactDiffs: false } })
    })
  })

/**
 * The driver as a Layer over any `Mounts`.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<GraphDriver.GraphDriver, StartError, Mounts> =>
  Layer.effect(GraphDriver.GraphDriver, make(options))

/**
 * The driver on the host (mount(8), umount(8), cp(1)).
 *
 * @since 0.1.0
 */
export const layerNode = (options: Options): Layer.Layer<GraphDriver.GraphDriver, StartError> =>
  layer(options).pipe(Layer.provide(MountsNode.layer))

/**
 * The driver with a memory mount table (no root needed; overlays are not really mounted).
 *
 * @since 0.1.0
 */
export const layerMemory = (options: Options): Layer.Layer<GraphDriver.GraphDriver, StartError> =>
  layer(options).pipe(Layer.provide(MountsMemory.layer()))
