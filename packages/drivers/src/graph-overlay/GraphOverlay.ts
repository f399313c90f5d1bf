/**
 * `graph-overlay` and `graph-vfs`: GraphDriver plugins keeping each layer in a folder of its own under a root,
 * `ROOT/<id>/diff`, with its parent's ID in `ROOT/<id>/parent`.
 *
 * - `overlay` mode: `diff` holds only the layer's own changes (whiteouts in overlayfs' form); `Get` of a layer with
 *   a parent mounts an overlay of `diff` over its ancestors' at `ROOT/<id>/merged`; `Diff`/`Changes` read `diff`.
 * - `vfs` mode (where overlayfs cannot mount): `Create` copies the parent's folder whole, `Get` mounts nothing,
 *   `Diff`/`Changes` compare the folder with the parent's.
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
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as KeyedLocks from "../shared/KeyedLocks.ts"
import { GraphUnsupported, LayerNotFound } from "./GraphErrors.ts"
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
export type StartError = LayerTarError.LayerIoError | MountError

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

/** statfs(2) magic numbers of the usual backing filesystems. */
const filesystemNames = new Map<number, string>([
  [0xef53, "extfs"],
  [0x58465342, "xfs"],
  [0x9123683e, "btrfs"],
  [0x01021994, "tmpfs"],
  [0x794c7630, "overlayfs"],
  [0x2fc12fc1, "zfs"]
])

/** One root's layers: what was found on disk, and what is mounted. */
interface Store {
  readonly root: string
  readonly table: Ref.Ref<GraphTable.GraphTable>
}

/** Reads the layers under `root`, finishing what a crash interrupted, and adopts overlays still mounted. */
const load = (root: string, mode: Mode) =>
  Effect.gen(function* () {
    const mounts = yield* Mounts
    yield* io("mkdir", root, () => Fs.mkdirSync(root, { recursive: true, mode: 0o700 }))
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
      const parent = yield* io("read", paths.parent, () => Fs.readFileSync(paths.parent, "utf8").trim())
      const mounts = mode === "overlay" && mounted.has(paths.merged) ? 1 : 0
      records.push(parent === "" ? { id: name, mounts } : { id: name, parent, mounts })
    }
    const table = yield* Ref.make<GraphTable.GraphTable>(new Map(records.map((r) => [r.id, r])))
    return { root, table } satisfies Store
  })

/**
 * Builds the driver.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<GraphDriver.Driver, StartError, Mounts> =>
  Effect.gen(function* () {
    const mounts = yield* Mounts
    const mode = options.mode
    const locks = yield* KeyedLocks.make
    const stores = yield* Ref.make<Store | undefined>(
      options.root === undefined ? undefined : yield* load(Path.resolve(options.root), mode)
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

    const create = (ID: string, Parent: string | undefined) =>
      serialised(ID)(
        Effect.gen(function* () {
          const s = yield* store
          const table = yield* current((t) => GraphTable.create(t, ID, Parent))
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
            if (mode === "vfs" && Parent !== undefined) yield* mounts.copy(layout(s.root, Parent).diff, tmp.diff)
            yield* io("rename", final.dir, () => Fs.renameSync(tmp.dir, final.dir))
          }).pipe(Effect.tapError(() => Effect.sync(() => Fs.rmSync(tmp.dir, { recursive: true, force: true }))))
          yield* commit(ID, table)
          return {}
        })
      )

    /**
     * A counted Get or Put: the table's transition, then the mount work when the count leaves or reaches zero
     * (`edge`), then the new count. Answers the folder the layer is seen in.
     */
    const counted = <E>(
      ID: string,
      step: (table: GraphTable.GraphTable) => Result.Result<{ table: GraphTable.GraphTable; edge: boolean }, E>,
      atEdge: (overlay: OverlaySpec) => Effect.Effect<void, MountError>
    ) =>
      serialised(ID)(
        Effect.gen(function* () {
          const s = yield* store
          const before = yield* Ref.get(s.table)
          const { table, edge } = yield* Effect.fromResult(step(before))
          const overlay = overlayOf(s, before, ID)
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
        const lowers = GraphTable.ancestors(table, ID).map((a) => layout(s.root, a).diff)
        return LayerChanges.overlay(layout(s.root, ID).diff, lowers)
      })

    return GraphDriver.GraphDriver.of({
      init: ({ Home, UIDMaps, GIDMaps }) =>
        Effect.gen(function* () {
          const ids = IdMapping.fromInit(UIDMaps, GIDMaps)
          yield* Ref.set(idMapping, ids)
          const existing = yield* Ref.get(stores)
          const root = options.root === undefined ? Path.resolve(Home) : existing?.root
          if (root !== undefined && existing?.root !== root)
            yield* Ref.set(stores, yield* Effect.provideService(load(root, mode), Mounts, mounts))
          // Remapped, the runtime reaches a container's root folder as the containers' root, which needs to pass
          // through the driver's folder (the daemon checks the same of its own folders).
          if (ids !== undefined && root !== undefined) yield* io("chmod", root, () => Fs.chmodSync(root, 0o711))
          return {}
        }),
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
            // Renamed first: a crash in the middle of the deletion leaves no half layer behind.
            yield* io("rename", paths.dir, () => Fs.renameSync(paths.dir, doomed))
            yield* commit(ID, table)
            yield* io("remove", doomed, () => Fs.rmSync(doomed, { recursive: true, force: true }))
            return {}
          })
        ),
      get: ({ ID }) =>
        Effect.map(
          counted(
            ID,
            (t) => Result.map(GraphTable.acquire(t, ID), ({ table, first }) => ({ table, edge: first })),
            mounts.mountOverlay
          ),
          (Dir) => ({ Dir })
        ),
      put: ({ ID }) =>
        Effect.as(
          counted(
            ID,
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
          yield* Ref.set(s.table, GraphTable.releaseAll(table))
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
