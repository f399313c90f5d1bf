import { type GraphOverlay, Mounts, MountsMemory, MountsNode } from "@docker-plugin-kit/drivers"
import { TarStream } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Stream } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { driverOn, header, isRoot, layerTar, stoppableDriverOn, tarNames, tempDir } from "./support.ts"

const modes: ReadonlyArray<GraphOverlay.Mode> = ["overlay", "vfs"]

for (const mode of modes) {
  describe(`GraphOverlay (${mode}, memory mounts)`, () => {
    it.effect("create on a parent, apply, diff, changes, diff size, remove", () =>
      Effect.gen(function* () {
        const root = yield* tempDir
        const driver = yield* driverOn({ mode, root }, MountsMemory.layer())
        yield* driver.create({ ID: "base" })
        const applied = yield* driver.applyDiff({
          id: "base",
          parent: "",
          body: layerTar({ "etc/": "", "etc/hosts": "localhost", "etc/gone": "bye", "bin/": "", "bin/sh": "#!" })
        })
        expect(applied).toEqual({ Size: 9 + 3 + 2 })
        yield* driver.create({ ID: "child", Parent: "base" })
        yield* driver.applyDiff({
          id: "child",
          parent: "base",
          body: layerTar({ "etc/": "", "etc/.wh.gone": "", "etc/new": "fresh" })
        })
        expect(yield* tarNames(yield* driver.diff({ ID: "child", Parent: "base" }))).toEqual([
          "etc/",
          "etc/.wh.gone",
          "etc/new"
        ])
        const { Changes } = yield* driver.changes({ ID: "child", Parent: "base" })
        expect(Changes).toEqual([
          { Path: "/etc", Kind: 0 },
          { Path: "/etc/gone", Kind: 2 },
          { Path: "/etc/new", Kind: 1 }
        ])
        expect(yield* driver.diffSize({ ID: "child", Parent: "base" })).toEqual({ Size: 5 })
        expect(yield* tarNames(yield* driver.diff({ ID: "base" }))).toEqual([
          "bin/",
          "bin/sh",
          "etc/",
          "etc/gone",
          "etc/hosts"
        ])
        expect((yield* Effect.flip(driver.remove({ ID: "base" })))._tag).toBe("LayerHasChildren")
        yield* driver.remove({ ID: "child" })
        yield* driver.remove({ ID: "base" })
        expect(yield* driver.exists({ ID: "base" })).toEqual({ Exists: false })
        expect(Fs.readdirSync(root)).toEqual([])
      })
    )

    it.effect("Get and Put are counted per ID; Cleanup releases everything", () =>
      Effect.gen(function* () {
        const root = yield* tempDir
        const mounts = MountsMemory.make()
        const driver = yield* driverOn({ mode, root }, Layer.succeed(Mounts.Mounts, mounts))
        yield* driver.create({ ID: "base" })
        yield* driver.createReadWrite({ ID: "rw", Parent: "base" })
        const first = yield* driver.get({ ID: "rw" })
        const second = yield* driver.get({ ID: "rw" })
        expect(second).toEqual(first)
        const merged = Path.join(root, "rw", "merged")
        expect(first.Dir).toBe(mode === "overlay" ? merged : Path.join(root, "rw", "diff"))
        expect([...mounts.table]).toEqual(mode === "overlay" ? [merged] : [])
        yield* driver.put({ ID: "rw" })
        expect(mounts.table.size).toBe(mode === "overlay" ? 1 : 0)
        expect((yield* Effect.flip(driver.remove({ ID: "rw" })))._tag).toBe("LayerInUse")
        yield* driver.put({ ID: "rw" })
        expect(mounts.table.size).toBe(0)
        expect((yield* Effect.flip(driver.put({ ID: "rw" })))._tag).toBe("LayerNotMounted")
        yield* driver.get({ ID: "rw" })
        yield* driver.cleanup({})
        expect(mounts.table.size).toBe(0)
        yield* driver.remove({ ID: "rw" })
      })
    )

    it.effect("layers on disk are found again by a new driver on the same root; half-made ones are cleared", () =>
      Effect.gen(function* () {
        const root = yield* tempDir
        const first = yield* driverOn({ mode, root }, MountsMemory.layer())
        yield* first.create({ ID: "base" })
        yield* first.create({ ID: "top", Parent: "base" })
        Fs.mkdirSync(Path.join(root, ".tmp-crashed-1234/diff"), { recursive: true })
        const second = yield* driverOn({ mode, root }, MountsMemory.layer())
        expect(yield* second.exists({ ID: "top" })).toEqual({ Exists: true })
        expect((yield* second.getMetadata({ ID: "top" })).Metadata?.Parent).toBe("base")
        expect(Fs.readdirSync(root).sort()).toEqual(["base", "top"])
        const status = (yield* second.status({})).Status ?? []
        expect(status).toContainEqual(["Layers", "2"])
      })
    )

    it.effect("a symlink in the root is not taken for a layer at start-up, so nothing is written through it", () =>
      Effect.gen(function* () {
        const root = yield* tempDir
        const outside = yield* tempDir
        // What a layer folder holds, outside the root, linked from where a layer "planted" would be.
        Fs.mkdirSync(Path.join(outside, "diff"))
        Fs.writeFileSync(Path.join(outside, "parent"), "")
        Fs.symlinkSync(outside, Path.join(root, "planted"))
        const driver = yield* driverOn({ mode, root }, MountsMemory.layer())
        expect(yield* driver.exists({ ID: "planted" })).toEqual({ Exists: false })
        expect((yield* Effect.flip(driver.get({ ID: "planted" })))._tag).toBe("LayerNotFound")
        const applied = yield* Effect.flip(
          driver.applyDiff({ id: "planted", parent: "", body: layerTar({ pwned: "x" }) })
        )
        expect(applied._tag).toBe("LayerNotFound")
        expect(Fs.readdirSync(Path.join(outside, "diff"))).toEqual([])
        expect((yield* Effect.flip(driver.create({ ID: "planted" }))).message).toContain("planted")
        expect(Fs.readdirSync(outside).sort()).toEqual(["diff", "parent"])
      })
    )

    it.effect(
      "a symlink planted in place of a layer's folder or diff is refused: nothing read, copied or written",
      () =>
        Effect.gen(function* () {
          const root = yield* tempDir
          const outside = yield* tempDir
          Fs.writeFileSync(Path.join(outside, "secret"), "s3cret")
          Fs.mkdirSync(Path.join(outside, "diff"))
          Fs.writeFileSync(Path.join(outside, "diff", "secret"), "s3cret")
          const driver = yield* driverOn({ mode, root }, MountsMemory.layer())
          yield* driver.create({ ID: "base" })
          yield* driver.create({ ID: "top", Parent: "base" })
          const diff = Path.join(root, "base", "diff")
          Fs.rmSync(diff, { recursive: true })
          Fs.symlinkSync(outside, diff)
          const refused = (e: { readonly _tag: string; readonly message: string }) => {
            expect(e._tag).toBe("UnsafeLayerPath")
            expect(e.message).toBe(`layer base: ${diff} is a symlink, not the driver's own folder; refused`)
          }
          refused(yield* Effect.flip(driver.diff({ ID: "base" })))
          refused(yield* Effect.flip(driver.changes({ ID: "base" })))
          refused(yield* Effect.flip(driver.diffSize({ ID: "base" })))
          refused(yield* Effect.flip(driver.get({ ID: "base" })))
          // Read through a child too: its lower (overlay) or the parent it is compared with (vfs).
          refused(yield* Effect.flip(driver.changes({ ID: "top", Parent: "base" })))
          if (mode === "overlay") refused(yield* Effect.flip(driver.get({ ID: "top" })))
          else refused(yield* Effect.flip(driver.create({ ID: "copy", Parent: "base" })))
          refused(yield* Effect.flip(driver.applyDiff({ id: "base", parent: "", body: layerTar({ pwned: "x" }) })))
          // The layer's folder itself a link to a folder holding a `diff`.
          const dir = Path.join(root, "top")
          Fs.rmSync(dir, { recursive: true })
          Fs.symlinkSync(outside, dir)
          const linked = `layer top: ${dir} is a symlink, not the driver's own folder; refused`
          const body = layerTar({ pwned: "x" })
          expect((yield* Effect.flip(driver.applyDiff({ id: "top", parent: "base", body }))).message).toBe(linked)
          expect((yield* Effect.flip(driver.get({ ID: "top" }))).message).toBe(linked)
          // Remove takes the links away, not what they point to.
          yield* driver.remove({ ID: "top" })
          yield* driver.remove({ ID: "base" })
          expect(Fs.readdirSync(root)).toEqual([])
          expect(Fs.readdirSync(outside).sort()).toEqual(["diff", "secret"])
          expect(Fs.readdirSync(Path.join(outside, "diff"))).toEqual(["secret"])
        })
    )

    it.effect("at start, a layer whose parent file leads out of the layers on disk (or loops) is left out", () =>
      Effect.gen(function* () {
        const root = yield* tempDir
        const first = yield* driverOn({ mode, root }, MountsMemory.layer())
        yield* first.create({ ID: "base" })
        yield* first.create({ ID: "good", Parent: "base" })
        for (const [ID, parent] of [
          ["escape", "../../etc"],
          ["loop1", "loop2"],
          ["loop2", "loop1"],
          ["injected", "base,upperdir=x"]
        ] as const) {
          yield* first.create({ ID })
          Fs.writeFileSync(Path.join(root, ID, "parent"), parent)
        }
        // A parent file that is a symlink is not followed out of the root.
        yield* first.create({ ID: "linked" })
        Fs.rmSync(Path.join(root, "linked", "parent"))
        Fs.symlinkSync("/etc/hostname", Path.join(root, "linked", "parent"))
        const second = yield* driverOn({ mode, root }, MountsMemory.layer())
        expect((yield* second.status({})).Status).toContainEqual(["Layers", "2"])
        for (const ID of ["escape", "loop1", "loop2", "injected"]) {
          expect((yield* second.exists({ ID })).Exists).toBe(false)
          expect((yield* Effect.flip(second.get({ ID })))._tag).toBe("LayerNotFound")
        }
        expect((yield* second.getMetadata({ ID: "good" })).Metadata?.Parent).toBe("base")
        // Left on disk for someone to look at.
        expect(Fs.existsSync(Path.join(root, "escape", "diff"))).toBe(true)
      })
    )

    it.effect("Put and Remove of a layer whose folder was deleted by hand forget it instead of failing forever", () =>
      Effect.gen(function* () {
        const root = yield* tempDir
        const driver = yield* driverOn({ mode, root }, MountsMemory.layer())
        yield* driver.create({ ID: "gone" })
        yield* driver.get({ ID: "gone" })
        Fs.rmSync(Path.join(root, "gone"), { recursive: true })
        // Its Put unmounts nothing (a base layer, or vfs), so it releases the layer without looking for its folders.
        yield* driver.put({ ID: "gone" })
        yield* driver.remove({ ID: "gone" })
        expect(yield* driver.exists({ ID: "gone" })).toEqual({ Exists: false })
        expect(Fs.readdirSync(root)).toEqual([])
      })
    )

    it.effect("answers clean errors: unknown layers, bad IDs, a call before Init", () =>
      Effect.gen(function* () {
        const root = yield* tempDir
        const driver = yield* driverOn({ mode, root }, MountsMemory.layer())
        expect((yield* Effect.flip(driver.create({ ID: "x", Parent: "missing" }))).message).toBe(
          "no such layer: missing"
        )
        expect((yield* Effect.flip(driver.create({ ID: "../x" })))._tag).toBe("InvalidLayerId")
        expect((yield* Effect.flip(driver.get({ ID: "nope" })))._tag).toBe("LayerNotFound")
        expect((yield* Effect.flip(driver.applyDiff({ id: "nope", parent: "", body: layerTar({}) })))._tag).toBe(
          "LayerNotFound"
        )
        const unrooted = yield* driverOn({ mode }, MountsMemory.layer())
        expect((yield* Effect.flip(unrooted.create({ ID: "a" })))._tag).toBe("GraphUnsupported")
        // Resolved against the plugin's working folder, a relative Home would have its leftovers cleared.
        expect(
          (yield* Effect.flip(unrooted.init({ Home: "", Opts: null, UIDMaps: null, GIDMaps: null }))).message
        ).toBe(`Init's Home must be an absolute path, not ""`)
        yield* unrooted.init({ Home: root, Opts: null, UIDMaps: null, GIDMaps: null })
        yield* unrooted.create({ ID: "a" })
        expect(Fs.existsSync(Path.join(root, "a", "diff"))).toBe(true)
      })
    )

    it.effect("refuses storage options, which it cannot honour, before making anything", () =>
      Effect.gen(function* () {
        const root = yield* tempDir
        const driver = yield* driverOn({ mode, root }, MountsMemory.layer())
        yield* driver.create({ ID: "base" })
        const sized = yield* Effect.flip(
          driver.createReadWrite({ ID: "rw", Parent: "base", StorageOpt: { size: "10G" } })
        )
        expect(sized._tag).toBe("GraphUnsupported")
        expect(sized.message).toBe(
          `--storage-opt size=10G is not supported: graph-${mode} sets no quotas, its layers share the space of the file system under its root`
        )
        expect((yield* Effect.flip(driver.create({ ID: "ro", StorageOpt: { inodes: "100" } }))).message).toMatch(
          /^--storage-opt inodes=100 is not supported/
        )
        expect((yield* driver.exists({ ID: "rw" })).Exists).toBe(false)
        expect((yield* driver.exists({ ID: "ro" })).Exists).toBe(false)
        // An empty map is no option at all.
        yield* driver.createReadWrite({ ID: "rw", Parent: "base", StorageOpt: {} })
        expect((yield* driver.exists({ ID: "rw" })).Exists).toBe(true)
      })
    )

    it.effect.skipIf(!isRoot)(
      "with user namespaces remapped, layers take host owners in and give container owners back out",
      () =>
        Effect.gen(function* () {
          const root = yield* tempDir
          const driver = yield* driverOn({ mode }, MountsMemory.layer())
          const ranges = [{ container_id: 0, host_id: 300_000, size: 65_536 }]
          yield* driver.init({ Home: root, Opts: null, UIDMaps: ranges, GIDMaps: ranges })
          // The runtime passes through the root as the containers' root.
          expect(Fs.statSync(root).mode & 0o777).toBe(0o711)
          yield* driver.create({ ID: "base" })
          const diff = Path.join(root, "base", "diff")
          expect([Fs.statSync(diff).uid, Fs.statSync(diff).gid]).toEqual([300_000, 300_000])
          const tar = TarStream.write(
            Stream.make(
              { header: header({ name: "etc/", type: "directory", mode: 0o755 }) },
              { header: header({ name: "etc/app", size: 1, uid: 1000, gid: 50 }), content: new Uint8Array([120]) },
              // Its folder is not in the tar: made for it, owned by the containers' root.
              { header: header({ name: "home/user/.profile", size: 0, uid: 1000, gid: 1000 }) }
            )
          )
          yield* driver.applyDiff({ id: "base", parent: "", body: tar })
          const owner = (rel: string) => {
            const stat = Fs.lstatSync(Path.join(diff, rel))
            return [stat.uid, stat.gid]
          }
          expect(owner("etc")).toEqual([300_000, 300_000])
          expect(owner("etc/app")).toEqual([301_000, 300_050])
          expect(owner("home")).toEqual([300_000, 300_000])
          expect(owner("home/user/.profile")).toEqual([301_000, 301_000])
          // Out again with the containers' IDs, as the daemon expects a layer's tar.
          const out = yield* Stream.runCollect(TarStream.entries(yield* driver.diff({ ID: "base" })))
          const owners = Object.fromEntries(out.map((e) => [e.header.name, [e.header.uid, e.header.gid]]))
          expect(owners["etc/app"]).toEqual([1000, 50])
          expect(owners["home/"]).toEqual([0, 0])
          // An owner outside the ranges has no host ID: refused, naming the entry, and nothing written for it.
          yield* driver.create({ ID: "top", Parent: "base" })
          const outside = TarStream.write(
            Stream.make({ header: header({ name: "far", size: 0, uid: 70_000, gid: 0 }) })
          )
          const refused = yield* Effect.flip(driver.applyDiff({ id: "top", parent: "base", body: outside }))
          expect(refused.message).toBe(
            `refused tar entry "far": its owner (user 70000) is outside the daemon's user-namespace map`
          )
          expect(Fs.existsSync(Path.join(root, "top", "diff", "far"))).toBe(false)
          // A file a host process gave an owner outside the ranges cannot be written out either.
          Fs.writeFileSync(Path.join(root, "top", "diff", "stray"), "")
          Fs.chownSync(Path.join(root, "top", "diff", "stray"), 5, 5)
          const stray = yield* Effect.flip(Stream.runDrain(yield* driver.diff({ ID: "top", Parent: "base" })))
          expect(stray.message).toContain("the owner of stray (host user 5) is outside the daemon's user-namespace map")
        })
    )

    it.effect(
      "concurrent Gets, Puts and Creates on different layers keep every count (mounts and copies that take time)",
      () =>
        Effect.gen(function* () {
          const root = yield* tempDir
          // Mounts and copies that wait, as real ones do: calls on other layers run in the meantime.
          const slow = Layer.effect(
            Mounts.Mounts,
            Effect.gen(function* () {
              const m = yield* Mounts.Mounts
              return {
                ...m,
                mountOverlay: (spec: Mounts.OverlaySpec) => Effect.andThen(Effect.yieldNow, m.mountOverlay(spec)),
                unmount: (target: string) => Effect.andThen(Effect.yieldNow, m.unmount(target)),
                copy: (from: string, to: string) => Effect.andThen(Effect.yieldNow, m.copy(from, to))
              }
            })
          ).pipe(Layer.provide(MountsMemory.layer()))
          const driver = yield* driverOn({ mode, root }, slow)
          yield* driver.create({ ID: "base" })
          const chain = ["a", "b", "c", "d"]
          yield* Effect.forEach(chain, (ID) => driver.create({ ID, Parent: "base" }), { concurrency: "unbounded" })
          yield* Effect.forEach(
            Array.from({ length: 200 }, (_, i) => chain[i % chain.length]!),
            (ID) => Effect.andThen(driver.get({ ID }), driver.put({ ID })),
            { concurrency: "unbounded" }
          )
          expect((yield* driver.status({})).Status).toContainEqual(["Layers", "5"])
          expect((yield* driver.status({})).Status).toContainEqual(["Layers In Use", "0"])
          for (const ID of chain) expect((yield* Effect.flip(driver.put({ ID })))._tag).toBe("LayerNotMounted")
        })
    )
  })
}

/** Memory mounts whose `operation` waits, once `started` is told, until `release` is. */
const held = (
  operation: "copy" | "unmount",
  started: Deferred.Deferred<void>,
  release: Deferred.Deferred<void>
): Layer.Layer<Mounts.Mounts> =>
  Layer.effect(
    Mounts.Mounts,
    Effect.gen(function* () {
      const m = yield* Mounts.Mounts
      const wait = Effect.andThen(Deferred.succeed(started, undefined), Deferred.await(release))
      return operation === "copy"
        ? { ...m, copy: (from: string, to: string) => Effect.andThen(wait, m.copy(from, to)) }
        : { ...m, unmount: (target: string) => Effect.andThen(wait, m.unmount(target)) }
    })
  ).pipe(Layer.provide(MountsMemory.layer()))

describe("GraphOverlay, calls that interleave", () => {
  it.effect("vfs: a Remove of the parent while a child is copied from it waits, then finds the child", () =>
    Effect.gen(function* () {
      const root = yield* tempDir
      const [started, release] = [yield* Deferred.make<void>(), yield* Deferred.make<void>()]
      const driver = yield* driverOn({ mode: "vfs", root }, held("copy", started, release))
      yield* driver.create({ ID: "base" })
      const creating = yield* Effect.forkChild(driver.create({ ID: "child", Parent: "base" }))
      yield* Deferred.await(started)
      const removing = yield* Effect.forkChild(Effect.flip(driver.remove({ ID: "base" })))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(creating)
      expect((yield* Fiber.join(removing))._tag).toBe("LayerHasChildren")
      expect(Fs.readdirSync(root).sort()).toEqual(["base", "child"])
      expect((yield* driver.getMetadata({ ID: "child" })).Metadata?.Parent).toBe("base")
    })
  )

  it.effect("overlay: a layer created while Cleanup unmounts stays known", () =>
    Effect.gen(function* () {
      const root = yield* tempDir
      const [started, release] = [yield* Deferred.make<void>(), yield* Deferred.make<void>()]
      const driver = yield* driverOn({ mode: "overlay", root }, held("unmount", started, release))
      yield* driver.create({ ID: "base" })
      yield* driver.create({ ID: "rw", Parent: "base" })
      yield* driver.get({ ID: "rw" })
      const cleaning = yield* Effect.forkChild(driver.cleanup({}))
      yield* Deferred.await(started)
      yield* driver.create({ ID: "new" })
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(cleaning)
      expect(yield* driver.exists({ ID: "new" })).toEqual({ Exists: true })
      expect((yield* driver.status({})).Status).toContainEqual(["Layers In Use", "0"])
      yield* driver.remove({ ID: "new" })
    })
  )

  it.effect("overlay: Create refuses a layer deeper than overlayfs mounts; vfs has no such limit", () =>
    Effect.gen(function* () {
      for (const mode of modes) {
        const root = yield* tempDir
        const driver = yield* driverOn({ mode, root }, MountsMemory.layer())
        const chain = Array.from({ length: 501 }, (_, i) => `l${i}`)
        for (const [i, ID] of chain.entries()) yield* driver.create(i === 0 ? { ID } : { ID, Parent: chain[i - 1]! })
        const deeper = driver.create({ ID: "deeper", Parent: "l500" })
        if (mode === "vfs") yield* deeper
        else {
          const refused = yield* Effect.flip(deeper)
          expect(refused._tag).toBe("LayerTooDeep")
          expect(refused.message).toBe(
            "layer deeper on l500 would stack 501 lower layers; overlayfs mounts at most 500"
          )
          expect(Fs.readdirSync(root)).not.toContain("deeper")
        }
      }
    })
  )
})

describe("MountsNode.featuresOff", () => {
  it("switches off redirect_dir and metacopy where the kernel turns them on by default", () => {
    const params = (values: Record<string, string>) => (name: string) => values[name]
    expect(MountsNode.featuresOff(params({ redirect_dir: "Y\n", metacopy: "Y\n" }))).toEqual([
      "redirect_dir=off",
      "metacopy=off"
    ])
    expect(MountsNode.featuresOff(params({ redirect_dir: "N\n", metacopy: "Y\n" }))).toEqual(["metacopy=off"])
    // An older kernel without the parameters has neither feature.
    expect(MountsNode.featuresOff(params({}))).toEqual([])
  })
})

describe.skipIf(!isRoot)("GraphOverlay (overlay, real mounts)", () => {
  it.effect(
    "with redirect_dir and metacopy on by default, layers mount with both off: a renamed lower folder is copied",
    () =>
      Effect.gen(function* () {
        const root = yield* tempDir
        const seen: Array<string> = []
        const allOn = (name: string) => {
          seen.push(name)
          return "Y"
        }
        const driver = yield* driverOn({ mode: "overlay", root }, Layer.succeed(Mounts.Mounts, MountsNode.make(allOn)))
        yield* driver.create({ ID: "base" })
        yield* driver.applyDiff({ id: "base", parent: "", body: layerTar({ "d/": "", "d/f": "content" }) })
        yield* driver.createReadWrite({ ID: "rw", Parent: "base" })
        const { Dir } = yield* driver.get({ ID: "rw" })
        expect(seen).toContain("metacopy")
        // With redirect_dir off the kernel will not rename a lower folder (mv then copies it), so the upper folder
        // never holds a redirect that Diff could not carry.
        expect(() => Fs.renameSync(Path.join(Dir, "d"), Path.join(Dir, "e"))).toThrow(/EXDEV/)
        yield* driver.put({ ID: "rw" })
        yield* driver.cleanup({})
      })
  )

  it.effect("Get mounts the merged view; a file written there is the layer's diff; Put and Cleanup unmount", () =>
    Effect.gen(function* () {
      const root = yield* tempDir
      const driver = yield* driverOn({ mode: "overlay", root }, MountsNode.layer)
      yield* driver.create({ ID: "base" })
      yield* driver.applyDiff({ id: "base", parent: "", body: layerTar({ "etc/": "", "etc/hosts": "h" }) })
      yield* driver.createReadWrite({ ID: "rw", Parent: "base" })
      const { Dir } = yield* driver.get({ ID: "rw" })
      expect(Fs.readFileSync(Path.join(Dir, "etc/hosts"), "utf8")).toBe("h")
      Fs.writeFileSync(Path.join(Dir, "etc/added"), "new")
      Fs.rmSync(Path.join(Dir, "etc/hosts"))
      expect((yield* driver.changes({ ID: "rw", Parent: "base" })).Changes).toEqual([
        { Path: "/etc", Kind: 0 },
        { Path: "/etc/added", Kind: 1 },
        { Path: "/etc/hosts", Kind: 2 }
      ])
      expect(yield* tarNames(yield* driver.diff({ ID: "rw", Parent: "base" }))).toEqual([
        "etc/",
        "etc/added",
        "etc/.wh.hosts"
      ])
      yield* driver.get({ ID: "rw" })
      yield* driver.put({ ID: "rw" })
      expect(Fs.readFileSync("/proc/self/mountinfo", "utf8")).toContain(Dir)
      yield* driver.cleanup({})
      expect(Fs.readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(Dir)
      yield* driver.remove({ ID: "rw" })
      yield* driver.remove({ ID: "base" })
    })
  )

  it.effect("a chain deeper than a page of relative lower folders mounts (images have up to 127 layers)", () =>
    Effect.gen(function* () {
      const root = yield* tempDir
      const driver = yield* driverOn({ mode: "overlay", root }, MountsNode.layer)
      // The daemon's IDs are 64 hex digits: 80 lower folders as `<id>/diff` are about 5 600 bytes of options.
      const chain = Array.from({ length: 81 }, (_, i) => i.toString(16).padStart(64, "0"))
      for (const [i, ID] of chain.entries()) yield* driver.create(i === 0 ? { ID } : { ID, Parent: chain[i - 1]! })
      yield* driver.applyDiff({ id: chain[0]!, parent: "", body: layerTar({ deepest: "base" }) })
      yield* driver.applyDiff({ id: chain[40]!, parent: chain[39]!, body: layerTar({ middle: "40" }) })
      const top = chain.at(-1)!
      const { Dir } = yield* driver.get({ ID: top })
      expect(Fs.readFileSync(Path.join(Dir, "deepest"), "utf8")).toBe("base")
      expect(Fs.readFileSync(Path.join(Dir, "middle"), "utf8")).toBe("40")
      Fs.writeFileSync(Path.join(Dir, "mine"), "top")
      expect(Fs.readFileSync(Path.join(root, top, "diff/mine"), "utf8")).toBe("top")
      yield* driver.put({ ID: top })
      expect(Fs.readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(Dir)
      for (const ID of [...chain].reverse()) yield* driver.remove({ ID })
      expect(Fs.readdirSync(root)).toEqual(["owner.pid"])
    })
  )

  it.effect("a symlink planted as merged or work is refused: nothing mounted, nor a work folder emptied, outside", () =>
    Effect.gen(function* () {
      const root = yield* tempDir
      const outside = yield* tempDir
      Fs.mkdirSync(Path.join(outside, "target"))
      // Without the fix an overlay is mounted there: taken away before the folder is.
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (Fs.readFileSync("/proc/self/mountinfo", "utf8").includes(outside))
            ChildProcess.spawnSync("umount", [Path.join(outside, "target")])
        })
      )
      // overlayfs empties `WORKDIR/work` when it mounts.
      Fs.mkdirSync(Path.join(outside, "w", "work"), { recursive: true })
      Fs.writeFileSync(Path.join(outside, "w", "work", "precious"), "keep")
      const driver = yield* driverOn({ mode: "overlay", root }, MountsNode.layer)
      yield* driver.create({ ID: "base" })
      yield* driver.create({ ID: "a", Parent: "base" })
      yield* driver.create({ ID: "b", Parent: "base" })
      Fs.rmdirSync(Path.join(root, "a", "merged"))
      Fs.symlinkSync(Path.join(outside, "target"), Path.join(root, "a", "merged"))
      Fs.rmSync(Path.join(root, "b", "work"), { recursive: true })
      Fs.symlinkSync(Path.join(outside, "w"), Path.join(root, "b", "work"))
      expect((yield* Effect.flip(driver.get({ ID: "a" }))).message).toBe(
        `layer a: ${Path.join(root, "a", "merged")} is a symlink, not the driver's own folder; refused`
      )
      expect((yield* Effect.flip(driver.get({ ID: "b" })))._tag).toBe("UnsafeLayerPath")
      expect(Fs.readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(outside)
      expect(Fs.readFileSync(Path.join(outside, "w", "work", "precious"), "utf8")).toBe("keep")
      expect((yield* driver.status({})).Status).toContainEqual(["Layers In Use", "0"])
    })
  )

  it.effect(
    "under a root reached through a symlink, a restarted plugin adopts its mounts and Cleanup unmounts them",
    () =>
      Effect.gen(function* () {
        const real = yield* tempDir
        // Without the fix the mount outlives the test: taken away before the folder is.
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            if (Fs.readFileSync("/proc/self/mountinfo", "utf8").includes(real))
              ChildProcess.spawnSync("umount", [Path.join(real, "graph", "rw", "merged")])
          })
        )
        const holder = yield* tempDir
        // A data root moved to another disk and linked back; the driver's root a folder in it. (The root itself a
        // symlink is refused: see "a root that is itself a symlink".)
        const dataRoot = Path.join(holder, "linked")
        Fs.symlinkSync(real, dataRoot)
        const root = Path.join(dataRoot, "graph")
        const first = yield* stoppableDriverOn({ mode: "overlay", root }, MountsNode.layer)
        yield* first.driver.create({ ID: "base" })
        yield* first.driver.createReadWrite({ ID: "rw", Parent: "base" })
        yield* first.driver.get({ ID: "rw" })
        const mounted = () => Fs.readFileSync("/proc/self/mountinfo", "utf8").includes(real)
        expect(mounted()).toBe(true)
        // The plugin restarted: the first one has given the root up.
        yield* first.stop
        const second = yield* driverOn({ mode: "overlay", root }, MountsNode.layer)
        expect((yield* second.status({})).Status).toContainEqual(["Layers In Use", "1"])
        yield* second.cleanup({})
        expect(mounted()).toBe(false)
      })
  )

  it.effect("a plugin restarted under a mounted layer adopts the mount: the next Put unmounts it", () =>
    Effect.gen(function* () {
      const root = yield* tempDir
      const first = yield* stoppableDriverOn({ mode: "overlay", root }, MountsNode.layer)
      yield* first.driver.create({ ID: "base" })
      yield* first.driver.createReadWrite({ ID: "rw", Parent: "base" })
      const { Dir } = yield* first.driver.get({ ID: "rw" })
      const mounted = () => Fs.readFileSync("/proc/self/mountinfo", "utf8").includes(Dir)
      expect(mounted()).toBe(true)
      yield* first.stop
      const second = yield* driverOn({ mode: "overlay", root }, MountsNode.layer)
      expect((yield* Effect.flip(second.remove({ ID: "rw" })))._tag).toBe("LayerInUse")
      yield* second.put({ ID: "rw" })
      expect(mounted()).toBe(false)
      yield* second.remove({ ID: "rw" })
      yield* second.remove({ ID: "base" })
      expect(Fs.readdirSync(root)).toEqual(["owner.pid"])
    })
  )
})
