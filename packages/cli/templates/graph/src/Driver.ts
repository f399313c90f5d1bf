// The graph driver, vfs style: every layer is a folder ROOT/<ID> holding the whole image up to it, made as a full
// copy of its parent's folder. Nothing is mounted (Get answers the folder), so it needs no privilege of its own. The
// copy is `cp -a`, which keeps owners, modes, times to the nanosecond and attributes (Node's fs.cpSync rounds the
// times): comparing a layer with its parent's folder then finds exactly what changed. The kit's layer-tar helpers do the rest: LayerApply extracts pulled
// layers (whiteouts applied, every escape refused), LayerChanges and LayerDiff compare a layer with its parent.
import { IdMapping, LayerApply, LayerChanges, LayerDiff } from "@docker-plugin-kit/helpers"
import { DriverError, GraphDriver } from "@docker-plugin-kit/protocol"
import { Effect, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

/** A layer ID is one path component (the daemon's are 64 hex digits, `-init` for a container's init layer). */
const validId = (id: string) => /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)

const checkId = (id: string): Effect.Effect<string, DriverError> =>
  validId(id) ? Effect.succeed(id) : Effect.fail(new DriverError({ message: `invalid layer ID ${JSON.stringify(id)}` }))

const io = <A>(what: string, f: () => A) =>
  Effect.try({ try: f, catch: (e) => new DriverError({ message: `${what}: ${(e as Error).message}` }) })

/** `cp -a from to`, `to` absent: a copy of the folder with everything a layer's files carry. */
const copy = (from: string, to: string) =>
  Effect.callback<void, DriverError>((resume) => {
    ChildProcess.execFile("cp", ["-a", "--reflink=auto", from, to], (error, _stdout, stderr) =>
      resume(
        error === null
          ? Effect.void
          : Effect.fail(new DriverError({ message: `cannot copy ${from}: ${stderr.trim() || error.message}` }))
      )
    )
  })

/** The driver, keeping its layers under `root`. */
export const layer = (root: string) =>
  Layer.sync(GraphDriver.GraphDriver, () => {
    Fs.mkdirSync(root, { recursive: true })
    const folder = (id: string) => Path.join(root, id)
    // Gets per layer: Get nests (container start, docker cp, export), each balanced by a Put.
    const gets = new Map<string, number>()
    // The daemon's user-namespace remapping (dockerd --userns-remap), from Init: owners on disk are the host's IDs.
    let ids: IdMapping.IdMapping | undefined
    const existing = (ID: string) =>
      Effect.flatMap(checkId(ID), (id) =>
        Fs.existsSync(folder(id))
          ? Effect.succeed(folder(id))
          : Effect.fail(new DriverError({ message: `no such layer: ${id}` }))
      )
    /** The changes from `Parent` (none: the whole layer) to `ID`, as LayerChanges and LayerDiff read them. */
    const source = (ID: string, Parent: string | undefined) =>
      Effect.gen(function* () {
        const dir = yield* existing(ID)
        return LayerChanges.naive(dir, Parent === undefined || Parent === "" ? undefined : yield* existing(Parent))
      })
    const create = ({ ID, Parent, StorageOpt }: GraphDriver.CreateRequest) =>
      Effect.gen(function* () {
        const id = yield* checkId(ID)
        // A size limit (docker run --storage-opt size=10G) this driver cannot set is refused, never ignored.
        const [option] = Object.keys(StorageOpt ?? {})
        if (option !== undefined) {
          return yield* new DriverError({
            message: `--storage-opt ${option} is not supported: this driver sets no quotas`
          })
        }
        if (Fs.existsSync(folder(id))) return yield* new DriverError({ message: `layer ${id} exists already` })
        const parent = Parent === undefined || Parent === "" ? undefined : yield* existing(Parent)
        // Made beside, then renamed: a copy cut short never passes for a layer. IDs cannot start with a dot.
        const partial = folder(`.new-${id}`)
        yield* io(`cannot create layer ${id}`, () => Fs.rmSync(partial, { recursive: true, force: true }))
        const made =
          parent === undefined
            ? io(`cannot create layer ${id}`, () => {
                Fs.mkdirSync(partial, { mode: 0o755 })
                // The top of the containers' file system is their root's, which is not the host's when remapped.
                const owner = IdMapping.hostRoot(ids)
                if (ids !== undefined) Fs.chownSync(partial, owner.uid, owner.gid)
              })
            : copy(parent, partial)
        // A failed create leaves nothing behind: a half copy would only fill the disk until that ID came again.
        yield* Effect.onError(
          Effect.andThen(
            made,
            io(`cannot create layer ${id}`, () => Fs.renameSync(partial, folder(id)))
          ),
          () => Effect.sync(() => Fs.rmSync(partial, { recursive: true, force: true }))
        )
        return {}
      })

    return GraphDriver.make({
      // The daemon's Home is where it would keep the layers; this driver keeps them under its own root.
      init: ({ UIDMaps, GIDMaps }) => {
        ids = IdMapping.fromInit(UIDMaps, GIDMaps)
        // Remapped, the runtime reaches a layer's folder as the containers' root: the root must let it pass.
        return io(`cannot use ${root}`, () => Fs.mkdirSync(root, { recursive: true, mode: 0o711 })).pipe(Effect.as({}))
      },
      create,
      createReadWrite: create,
      remove: ({ ID }) =>
        Effect.gen(function* () {
          const id = yield* checkId(ID)
          if ((gets.get(id) ?? 0) > 0) return yield* new DriverError({ message: `layer ${id} is in use` })
          // Removing a layer already gone (the daemon's orphan cleanup at start) is no error.
          yield* io(`cannot remove layer ${id}`, () => Fs.rmSync(folder(id), { recursive: true, force: true }))
          return {}
        }),
      get: ({ ID }) =>
        Effect.map(existing(ID), (Dir) => {
          gets.set(ID, (gets.get(ID) ?? 0) + 1)
          return { Dir }
        }),
      put: ({ ID }) =>
        Effect.map(existing(ID), () => {
          const held = gets.get(ID) ?? 0
          if (held > 1) gets.set(ID, held - 1)
          else gets.delete(ID)
          return {}
        }),
      exists: ({ ID }) => Effect.succeed({ Exists: validId(ID) && Fs.existsSync(folder(ID)) }),
      status: () =>
        io("cannot list the layers", () => Fs.readdirSync(root).filter((name) => !name.startsWith("."))).pipe(
          Effect.map((layers) => ({
            Status: [
              ["Root Dir", root],
              ["Layers", String(layers.length)]
            ] as const
          }))
        ),
      getMetadata: ({ ID }) => Effect.map(existing(ID), (Dir) => ({ Metadata: { Dir } })),
      // Daemon shutdown: there is nothing to unmount, and every Get ends with it.
      cleanup: () =>
        Effect.sync(() => {
          gets.clear()
          return {}
        }),
      diff: ({ ID, Parent }) =>
        Effect.map(source(ID, Parent), (changes) => LayerDiff.diff(changes, { ...(ids && { ids }) })),
      changes: ({ ID, Parent }) =>
        Effect.map(Effect.flatMap(source(ID, Parent), LayerChanges.changes), (Changes) => ({ Changes })),
      // The layer was created as a copy of its parent: the tar's changes, whiteouts included, go on top of it.
      applyDiff: ({ id, body }) =>
        Effect.flatMap(existing(id), (dir) =>
          Effect.map(LayerApply.apply(dir, body, { whiteouts: "naive", ...(ids && { ids }) }), (applied) => ({
            Size: applied.size
          }))
        ),
      diffSize: ({ ID, Parent }) =>
        Effect.map(Effect.flatMap(source(ID, Parent), LayerChanges.size), (Size) => ({ Size })),
      capabilities: () => Effect.succeed({ Capabilities: { ReproducesExactDiffs: false } })
    })
  })
