import { LayerChanges, LayerDiff, TarStream } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { isRoot, parentAndCopy } from "./support.ts"

describe("LayerChanges", () => {
  it.effect("naive: added, modified and deleted paths, folders listed when something below changed", () =>
    Effect.gen(function* () {
      const { parent, layer } = yield* parentAndCopy
      Fs.writeFileSync(Path.join(layer, "etc/hosts"), "new hosts, longer")
      Fs.writeFileSync(Path.join(layer, "etc/conf.d/b"), "bb")
      Fs.rmSync(Path.join(layer, "var/cache"), { recursive: true })
      Fs.chmodSync(Path.join(layer, "etc/conf.d/a"), 0o600)
      Fs.mkdirSync(Path.join(layer, "new/deep"), { recursive: true })
      Fs.writeFileSync(Path.join(layer, "new/deep/f"), "fff")
      const source = LayerChanges.naive(layer, parent)
      expect(yield* LayerChanges.changes(source)).toEqual([
        { Path: "/etc", Kind: 0 },
        { Path: "/etc/conf.d", Kind: 0 },
        { Path: "/etc/conf.d/a", Kind: 0 },
        { Path: "/etc/conf.d/b", Kind: 1 },
        { Path: "/etc/hosts", Kind: 0 },
        { Path: "/new", Kind: 1 },
        { Path: "/new/deep", Kind: 1 },
        { Path: "/new/deep/f", Kind: 1 },
        { Path: "/var", Kind: 0 },
        { Path: "/var/cache", Kind: 2 }
      ])
      // a (1) + b (2) + hosts (17) + f (3)
      expect(yield* LayerChanges.size(source)).toBe(1 + 2 + 17 + 3)
    })
  )

  it.effect("naive without a parent: everything is added", () =>
    Effect.gen(function* () {
      const { parent } = yield* parentAndCopy
      const all = yield* LayerChanges.changes(LayerChanges.naive(parent))
      expect(all.every((c) => c.Kind === 1)).toBe(true)
      expect(all.map((c) => c.Path)).toContain("/var/cache/big")
      // The symlink etc/alias counts its target's length ("hosts"), as the daemon's lstat sizes do.
      expect(yield* LayerChanges.size(LayerChanges.naive(parent))).toBe(9 + 1 + 5 + 1000 + 9)
    })
  )

  it.effect("size counts a file with several hard links once and symlinks by their lstat size, as the daemon", () =>
    Effect.gen(function* () {
      const { parent, layer } = yield* parentAndCopy
      Fs.writeFileSync(Path.join(layer, "big"), "x".repeat(1000))
      Fs.linkSync(Path.join(layer, "big"), Path.join(layer, "big-again"))
      Fs.linkSync(Path.join(layer, "big"), Path.join(layer, "etc/big-third"))
      Fs.symlinkSync("a/longer/target", Path.join(layer, "link"))
      // archive.ChangesSize (naive) and directory.Size (overlay): non-folders by lstat size, each inode once.
      expect(yield* LayerChanges.size(LayerChanges.naive(layer, parent))).toBe(1000 + 15)
    })
  )

  it.effect.skipIf(!isRoot)("naive: a file whose capability alone changed is modified, as the daemon sees it", () =>
    Effect.gen(function* () {
      const { parent, layer } = yield* parentAndCopy
      // setcap changes neither size nor mtime: only the attribute (and ctime, which a copy does not keep).
      ChildProcess.execFileSync("setcap", ["cap_net_raw+ep", Path.join(layer, "same/file")])
      ChildProcess.execFileSync("setcap", ["cap_net_raw+ep", Path.join(parent, "etc/hosts")])
      ChildProcess.execFileSync("setcap", ["cap_net_raw+ep", Path.join(layer, "etc/hosts")])
      const source = LayerChanges.naive(layer, parent)
      expect(yield* LayerChanges.changes(source)).toEqual([
        { Path: "/same", Kind: 0 },
        { Path: "/same/file", Kind: 0 }
      ])
      ChildProcess.execFileSync("setcap", ["-r", Path.join(layer, "etc/hosts")])
      expect((yield* LayerChanges.changes(source)).map((c) => c.Path)).toEqual([
        "/etc",
        "/etc/hosts",
        "/same",
        "/same/file"
      ])
      const names: Array<string> = []
      const tar = LayerDiff.diff(source)
      yield* Stream.runForEach(TarStream.entries(tar), (e) => Effect.sync(() => names.push(e.header.name)))
      expect(names).toEqual(["etc/", "etc/hosts", "same/", "same/file"])
    })
  )

  it.effect(
    "overlay items: with modified: false every path but a deletion is added (the lowers are not looked at)",
    () =>
      Effect.gen(function* () {
        const { base, parent } = yield* parentAndCopy
        const upper = Path.join(base, "upper")
        Fs.mkdirSync(Path.join(upper, "etc"), { recursive: true })
        Fs.writeFileSync(Path.join(upper, "etc/hosts"), "in the lower too")
        Fs.writeFileSync(Path.join(upper, "etc/new"), "only here")
        const kinds = (options?: LayerChanges.ItemsOptions) =>
          Effect.scoped(
            Effect.gen(function* () {
              const out: Array<string> = []
              for (const item of yield* LayerChanges.items(LayerChanges.overlay(upper, [parent]), options)) {
                if (item instanceof LayerChanges.Pending) yield* item.ready
                else out.push(`${item.kind} ${item.path}`)
              }
              return out
            })
          )
        expect(yield* kinds()).toEqual(["0 etc", "0 etc/hosts", "1 etc/new"])
        expect(yield* kinds({ modified: false })).toEqual(["1 etc", "1 etc/hosts", "1 etc/new"])
      })
  )

  it.effect.skipIf(!isRoot)("overlay: whiteouts are deletions, paths found in a lower layer are modified", () =>
    Effect.gen(function* () {
      const { base, parent } = yield* parentAndCopy
      const upper = Path.join(base, "upper")
      Fs.mkdirSync(Path.join(upper, "etc"), { recursive: true })
      Fs.writeFileSync(Path.join(upper, "etc/hosts"), "changed")
      Fs.writeFileSync(Path.join(upper, "etc/new"), "n")
      ChildProcess.execFileSync("mknod", [Path.join(upper, "etc/alias"), "c", "0", "0"])
      Fs.mkdirSync(Path.join(upper, "same"))
      ChildProcess.execFileSync("setfattr", ["-n", "trusted.overlay.opaque", "-v", "y", Path.join(upper, "same")])
      Fs.writeFileSync(Path.join(upper, "same/file"), "hidden lower")
      const source = LayerChanges.overlay(upper, [parent])
      expect(yield* LayerChanges.changes(source)).toEqual([
        { Path: "/etc", Kind: 0 },
        { Path: "/etc/alias", Kind: 2 },
        { Path: "/etc/hosts", Kind: 0 },
        { Path: "/etc/new", Kind: 1 },
        { Path: "/same", Kind: 0 },
        // An opaque folder replaced the lower one: its file is compared with the lower file, as the daemon compares
        // the two trees.
        { Path: "/same/file", Kind: 0 }
      ])
      expect(yield* LayerChanges.size(source)).toBe(7 + 1 + 12)
    })
  )

  it.effect.skipIf(!isRoot)(
    "overlay: a folder made again (opaque) is compared with the lower layers merged, as the daemon's docker diff shows it",
    () =>
      Effect.gen(function* () {
        const { base } = yield* parentAndCopy
        const [top, bottom, upper] = ["l0", "l1", "upper"].map((name) => Path.join(base, name))
        const write = (path: string, text: string) => {
          Fs.mkdirSync(Path.dirname(path), { recursive: true })
          Fs.writeFileSync(path, text)
        }
        const opaque = (path: string) =>
          ChildProcess.execFileSync("setfattr", ["-n", "trusted.overlay.opaque", "-v", "y", path])
        for (const [name, text] of Object.entries({ a: "a", b: "b", "sub/x": "x", gone: "g", w: "w" })) {
          write(Path.join(bottom!, "d", name), text)
        }
        write(Path.join(bottom!, "e/old"), "o")
        // The top lower deletes d/gone, adds d/c, and makes e again (opaque) with one file: e/old is hidden.
        write(Path.join(top!, "d/c"), "c")
        ChildProcess.execFileSync("mknod", [Path.join(top!, "d/gone"), "c", "0", "0"])
        write(Path.join(top!, "e/fresh"), "f")
        opaque(Path.join(top!, "e"))
        // The container: rm -rf d e; mkdir d e; d/a copied back as it was, d/b changed, d/sub made again with
        // another file, d/n new; e left empty.
        Fs.mkdirSync(Path.join(upper!, "d"), { recursive: true })
        ChildProcess.execFileSync("cp", ["-a", Path.join(bottom!, "d/a"), Path.join(upper!, "d/a")])
        write(Path.join(upper!, "d/b"), "bb")
        write(Path.join(upper!, "d/sub/y"), "y")
        write(Path.join(upper!, "d/n"), "n")
        Fs.mkdirSync(Path.join(upper!, "e"))
        // A whiteout beside the opaque marker (a tar can carry both): d/w is deleted, not a device.
        ChildProcess.execFileSync("mknod", [Path.join(upper!, "d/w"), "c", "0", "0"])
        opaque(Path.join(upper!, "d"))
        opaque(Path.join(upper!, "e"))
        const source = LayerChanges.overlay(upper!, [top!, bottom!])
        expect(yield* LayerChanges.changes(source)).toEqual([
          { Path: "/d", Kind: 0 },
          { Path: "/d/b", Kind: 0 },
          { Path: "/d/c", Kind: 2 },
          { Path: "/d/n", Kind: 1 },
          { Path: "/d/sub", Kind: 0 },
          { Path: "/d/sub/x", Kind: 2 },
          { Path: "/d/sub/y", Kind: 1 },
          { Path: "/d/w", Kind: 2 },
          { Path: "/e", Kind: 0 },
          { Path: "/e/fresh", Kind: 2 }
        ])
        // The tar needs none of the deletions found by comparing (the opaque markers remove what is below); it
        // carries the whiteout the upper folder holds, as it is.
        const names: Array<string> = []
        yield* Stream.runForEach(TarStream.entries(LayerDiff.diff(source)), (entry) =>
          Effect.sync(() => void names.push(entry.header.name))
        )
        expect(names.filter((name) => name.includes(".wh."))).toEqual(["d/.wh..wh..opq", "d/.wh.w", "e/.wh..wh..opq"])
        // Only the sizes of what the layer holds.
        expect(yield* LayerChanges.size(source)).toBe(1 + 2 + 1 + 1)
      })
  )
})
