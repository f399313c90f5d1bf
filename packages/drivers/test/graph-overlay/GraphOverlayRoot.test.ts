/**
 * The root of graph-overlay and graph-vfs is one driver's at a time (`ROOT/owner.pid`), and must be a folder, not a
 * symlink planted in its place: with memory mounts (the claims kept in a map) and on the real disk (`MountsNode`,
 * and a second plugin process).
 */
import { FolderOwner, type GraphOverlay, Mounts, MountsMemory, MountsNode } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { spawnServe } from "../support/engine.ts"
import { deadPid, liveProcess } from "../support/processes.ts"
import { driverOn, stoppableDriverOn, tempDir } from "./support.ts"

const modes: ReadonlyArray<GraphOverlay.Mode> = ["overlay", "vfs"]

const inUse = (root: string, pid: number) =>
  `graph root ${root} is in use by process ${pid}; stop that plugin first, or give this one its own root (--root)`
const inThisProcess = (root: string) =>
  `graph root ${root} is already used by another driver in this process; give each driver its own root (--root)`

for (const mode of modes) {
  describe(`GraphOverlay (${mode}): the root's claim, memory mounts`, () => {
    it.effect("a second driver on the same root is refused while the first has it, and starts once it stops", () =>
      Effect.gen(function* () {
        const root = Fs.realpathSync(yield* tempDir)
        const owners: MountsMemory.Owners = new Map()
        const first = yield* stoppableDriverOn({ mode, root }, MountsMemory.layer(owners))
        yield* first.driver.create({ ID: "base" })
        const refused = yield* Effect.flip(driverOn({ mode, root }, MountsMemory.layer(owners)))
        expect(refused).toMatchObject({ _tag: "GraphRootInUse", root, owner: process.pid, inThisProcess: true })
        expect(refused.message).toBe(inThisProcess(root))
        // Through a symlink above it too: the claim is the real path's.
        const holder = yield* tempDir
        Fs.symlinkSync(Path.dirname(root), Path.join(holder, "up"))
        const linked = Path.join(holder, "up", Path.basename(root))
        expect((yield* Effect.flip(driverOn({ mode, root: linked }, MountsMemory.layer(owners))))._tag).toBe(
          "GraphRootInUse"
        )
        yield* first.stop
        expect(owners.size).toBe(0)
        const second = yield* driverOn({ mode, root }, MountsMemory.layer(owners))
        expect(yield* second.exists({ ID: "base" })).toEqual({ Exists: true })
      })
    )

    it.effect("a root another process has is refused before anything in it is touched", () =>
      Effect.gen(function* () {
        const root = Fs.realpathSync(yield* tempDir)
        // A layer that other plugin is making: cleared as a crash's leftover by a driver that did not claim.
        const making = Path.join(root, ".tmp-base-1234")
        Fs.mkdirSync(Path.join(making, "diff"), { recursive: true })
        const owners: MountsMemory.Owners = new Map([[root, 4242]])
        const refused = yield* Effect.flip(driverOn({ mode, root }, MountsMemory.layer(owners)))
        expect(refused).toMatchObject({ _tag: "GraphRootInUse", owner: 4242, inThisProcess: false })
        expect(refused.message).toBe(inUse(root, 4242))
        expect(Fs.existsSync(making)).toBe(true)
        expect(owners.get(root)).toBe(4242)
      })
    )

    it.effect("a root named by Init is claimed there, and given up when a later Init names another", () =>
      Effect.gen(function* () {
        const [a, b] = [Fs.realpathSync(yield* tempDir), Fs.realpathSync(yield* tempDir)]
        const owners: MountsMemory.Owners = new Map([[b, 4242]])
        const driver = yield* driverOn({ mode }, MountsMemory.layer(owners))
        const init = (Home: string) => driver.init({ Home, Opts: null, UIDMaps: null, GIDMaps: null })
        yield* init(a)
        expect(owners.get(a)).toBe(process.pid)
        // Refused: the driver stays on the root it has.
        expect((yield* Effect.flip(init(b))).message).toBe(inUse(b, 4242))
        expect(owners.get(a)).toBe(process.pid)
        yield* driver.create({ ID: "on-a" })
        expect(Fs.existsSync(Path.join(a, "on-a"))).toBe(true)
        owners.delete(b)
        yield* init(b)
        expect([...owners]).toEqual([[b, process.pid]])
      })
    )

    it.effect("a root that is itself a symlink (or a file) is refused, and nothing where it points is touched", () =>
      Effect.gen(function* () {
        const holder = yield* tempDir
        const elsewhere = yield* tempDir
        Fs.mkdirSync(Path.join(elsewhere, ".tmp-precious"))
        const root = Path.join(holder, "graph")
        Fs.symlinkSync(elsewhere, root)
        const refused = yield* Effect.flip(driverOn({ mode, root }, MountsMemory.layer()))
        expect(refused._tag).toBe("UnsafeGraphRoot")
        expect(refused.message).toBe(
          `graph root ${root} is a symlink (to ${elsewhere}), not a folder; refused (give the folder itself as the root)`
        )
        expect(Fs.readdirSync(elsewhere)).toEqual([".tmp-precious"])
        // Named by Init too.
        const unrooted = yield* driverOn({ mode }, MountsMemory.layer())
        const init = yield* Effect.flip(unrooted.init({ Home: root, Opts: null, UIDMaps: null, GIDMaps: null }))
        expect(init._tag).toBe("UnsafeGraphRoot")
        const file = Path.join(holder, "file")
        Fs.writeFileSync(file, "")
        expect((yield* Effect.flip(driverOn({ mode, root: file }, MountsMemory.layer()))).message).toBe(
          `graph root ${file} is a regular file, not a folder; refused (give the folder itself as the root)`
        )
      })
    )

    it.effect("a symlinked root given with a trailing slash (or /.) is refused as well, at start and at Init", () =>
      Effect.gen(function* () {
        const holder = yield* tempDir
        const elsewhere = yield* tempDir
        Fs.mkdirSync(Path.join(elsewhere, ".tmp-precious"))
        const link = Path.join(holder, "graph")
        Fs.symlinkSync(elsewhere, link)
        for (const root of [`${link}/`, `${link}/.`, `${link}//`]) {
          const owners: MountsMemory.Owners = new Map()
          const refused = yield* Effect.flip(driverOn({ mode, root }, MountsMemory.layer(owners)))
          expect(refused._tag).toBe("UnsafeGraphRoot")
          const unrooted = yield* driverOn({ mode }, MountsMemory.layer(owners))
          const init = yield* Effect.flip(unrooted.init({ Home: root, Opts: null, UIDMaps: null, GIDMaps: null }))
          expect(init._tag).toBe("UnsafeGraphRoot")
          expect(owners.size).toBe(0)
        }
        expect(Fs.readdirSync(elsewhere)).toEqual([".tmp-precious"])
      })
    )

    it.effect(
      "two Inits at once (two roots, or the same one twice) leave one claim, and the driver not refusing itself",
      () =>
        Effect.gen(function* () {
          const [a, b] = [Fs.realpathSync(yield* tempDir), Fs.realpathSync(yield* tempDir)]
          const owners: MountsMemory.Owners = new Map()
          // Mounts whose look at the mount table takes a moment (as reading a long mountinfo may): Inits interleave.
          const slow = Layer.sync(Mounts.Mounts, () => {
            const memory = MountsMemory.make(owners)
            return {
              ...memory,
              mountedUnder: (folder: string) => Effect.andThen(Effect.yieldNow, memory.mountedUnder(folder))
            }
          })
          const driver = yield* driverOn({ mode }, slow)
          const init = (Home: string) => driver.init({ Home, Opts: null, UIDMaps: null, GIDMaps: null })
          yield* Effect.all([init(a), init(a)], { concurrency: "unbounded" })
          expect([...owners]).toEqual([[a, process.pid]])
          yield* Effect.all([init(a), init(b)], { concurrency: "unbounded" })
          // On whichever came last, and only that one claimed.
          const on = (yield* driver.status({})).Status?.find(([name]) => name === "Root Dir")?.[1]
          expect([...owners]).toEqual([[on, process.pid]])
          // The daemon restarted with the other Home: taken, not refused as this process' own.
          const other = on === a ? b : a
          yield* init(other)
          expect([...owners]).toEqual([[other, process.pid]])
        })
    )

    it.effect("an Init refused on another root leaves the driver as it was: its root, and its ID mapping", () =>
      Effect.gen(function* () {
        const [a, b] = [Fs.realpathSync(yield* tempDir), Fs.realpathSync(yield* tempDir)]
        const owners: MountsMemory.Owners = new Map([[b, 4242]])
        const driver = yield* driverOn({ mode }, MountsMemory.layer(owners))
        yield* driver.init({ Home: a, Opts: null, UIDMaps: null, GIDMaps: null })
        const ranges = [{ container_id: 0, host_id: 100000, size: 65536 }]
        const refused = yield* Effect.flip(driver.init({ Home: b, Opts: null, UIDMaps: ranges, GIDMaps: ranges }))
        expect(refused.message).toBe(inUse(b, 4242))
        // Still on a, unmapped: a new layer's folder is not handed to the containers' root of the refused Init.
        yield* driver.create({ ID: "base" })
        expect(Fs.statSync(Path.join(a, "base", "diff")).uid).toBe(process.getuid?.())
        expect(Fs.statSync(a).mode & 0o777).toBe(Fs.statSync(b).mode & 0o777)
      })
    )

    it.effect("a layer cannot take the name of the owner file", () =>
      Effect.gen(function* () {
        const root = yield* tempDir
        const driver = yield* driverOn({ mode, root }, MountsMemory.layer())
        const refused = yield* Effect.flip(driver.create({ ID: FolderOwner.fileName }))
        expect(refused.message).toBe(`invalid layer ID "owner.pid": it is the name of the driver's owner file`)
      })
    )
  })
}

describe("GraphOverlay: the root's claim on the real disk", () => {
  it.effect("the owner file names this process while the driver runs, and goes when it stops", () =>
    Effect.gen(function* () {
      const root = Fs.realpathSync(yield* tempDir)
      const owner = Path.join(root, FolderOwner.fileName)
      const first = yield* stoppableDriverOn({ mode: "vfs", root }, MountsNode.layer)
      expect(FolderOwner.parse(Fs.readFileSync(owner, "utf8"))?.pid).toBe(process.pid)
      // The owner file is no layer, at the next start either.
      yield* first.driver.create({ ID: "base" })
      expect((yield* first.driver.status({})).Status).toContainEqual(["Layers", "1"])
      const refused = yield* Effect.flip(driverOn({ mode: "vfs", root }, MountsNode.layer))
      expect(refused.message).toBe(inThisProcess(root))
      yield* first.stop
      expect(Fs.existsSync(owner)).toBe(false)
      const second = yield* driverOn({ mode: "vfs", root }, MountsNode.layer)
      expect((yield* second.status({})).Status).toContainEqual(["Layers", "1"])
    })
  )

  it.effect("a live other process' file refuses the root; a dead one's, or one of a previous boot, is taken over", () =>
    Effect.gen(function* () {
      const root = Fs.realpathSync(yield* tempDir)
      const owner = Path.join(root, FolderOwner.fileName)
      const pid = yield* liveProcess
      const live = FolderOwner.format(FolderOwner.recordOf(pid, FolderOwner.hostFacts()))
      Fs.writeFileSync(owner, live)
      const refused = yield* Effect.flip(driverOn({ mode: "overlay", root }, MountsNode.layer))
      expect(refused.message).toBe(inUse(root, pid))
      expect(Fs.readFileSync(owner, "utf8")).toBe(live)
      for (const stale of [
        FolderOwner.format({ pid: deadPid() }),
        FolderOwner.format({ pid, bootId: "a-previous-boot", startTime: "1" })
      ]) {
        Fs.writeFileSync(owner, stale)
        const taken = yield* stoppableDriverOn({ mode: "overlay", root }, MountsNode.layer)
        expect(FolderOwner.parse(Fs.readFileSync(owner, "utf8"))?.pid).toBe(process.pid)
        yield* taken.stop
      }
    })
  )

  it.live(
    "a second plugin process on the same root is refused with the message while the first lives; after a crash its file is taken over",
    () =>
      Effect.gen(function* () {
        const base = Fs.realpathSync(yield* tempDir)
        const root = Path.join(base, "graph")
        const serve = (socket: string) =>
          spawnServe(["graph-vfs", "--name", "claim-graph", "--socket", Path.join(base, socket), "--root", root])
        const first = yield* Effect.promise(() => serve("first.sock"))
        yield* Effect.addFinalizer(() => Effect.promise(() => first.kill9()))
        const pid = first.child.pid!
        expect(FolderOwner.parse(Fs.readFileSync(Path.join(root, FolderOwner.fileName), "utf8"))?.pid).toBe(pid)
        // Stopped at once should it start, so no process outlives the test.
        const second = yield* Effect.promise(() =>
          serve("second.sock").then(
            (s) => s.stop().then(() => "listening"),
            (e: Error) => e.message
          )
        )
        expect(second).toContain(inUse(root, pid))
        const inProcess = yield* Effect.flip(driverOn({ mode: "vfs", root }, MountsNode.layer))
        expect(inProcess.message).toBe(inUse(root, pid))
        // Crashed: its file stays, naming a dead process, and the next driver takes the root over.
        yield* Effect.promise(() => first.kill9())
        expect(Fs.existsSync(Path.join(root, FolderOwner.fileName))).toBe(true)
        const next = yield* driverOn({ mode: "vfs", root }, MountsNode.layer)
        expect((yield* next.status({})).Status).toContainEqual(["Root Dir", root])
      }),
    60_000
  )
})
