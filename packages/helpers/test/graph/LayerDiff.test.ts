import { LayerApply, LayerChanges, LayerDiff, TarStream } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { isRoot, parentAndCopy, snapshot } from "./support.ts"

const copyOf = (from: string, to: string) => ChildProcess.execFileSync("cp", ["-a", `${from}/.`, to])

const names = (bytes: Stream.Stream<Uint8Array, unknown>) =>
  Stream.runCollect(Stream.map(TarStream.entries(bytes), (e) => `${e.header.type} ${e.header.name}`))

describe("LayerDiff", () => {
  it.effect("naive diff round trip: the tar applied to a copy of the parent gives the layer", () =>
    Effect.gen(function* () {
      const { base, parent, layer } = yield* parentAndCopy
      Fs.writeFileSync(Path.join(layer, "etc/hosts"), "new hosts")
      Fs.rmSync(Path.join(layer, "var/cache"), { recursive: true })
      Fs.rmSync(Path.join(layer, "etc/alias"))
      Fs.mkdirSync(Path.join(layer, "opt/app"), { recursive: true })
      Fs.writeFileSync(Path.join(layer, "opt/app/big"), Buffer.alloc(300_000, 1))
      Fs.linkSync(Path.join(layer, "opt/app/big"), Path.join(layer, "opt/app/big2"))
      Fs.chmodSync(Path.join(layer, "same/file"), 0o400)

      const tar = LayerDiff.diff(LayerChanges.naive(layer, parent))
      expect(yield* names(tar)).toEqual([
        "directory etc/",
        "file etc/.wh.alias",
        "file etc/hosts",
        "directory opt/",
        "directory opt/app/",
        "file opt/app/big",
        "link opt/app/big2",
        "directory same/",
        "file same/file",
        "directory var/",
        "file var/.wh.cache"
      ])
      const target = Path.join(base, "target")
      copyOf(parent, target)
      const applied = yield* LayerApply.apply(target, tar)
      expect(applied.size).toBe(9 + 300_000 + 9)
      expect(snapshot(target)).toEqual(snapshot(layer))
      expect(Fs.statSync(Path.join(target, "opt/app/big2")).ino).toBe(Fs.statSync(Path.join(target, "opt/app/big")).ino)
    })
  )

  it.effect("a full diff (no parent) applied to an empty folder gives the same tree", () =>
    Effect.gen(function* () {
      const { base, parent } = yield* parentAndCopy
      const target = Path.join(base, "empty")
      Fs.mkdirSync(target)
      yield* LayerApply.apply(target, LayerDiff.diff(LayerChanges.naive(parent)))
      expect(snapshot(target)).toEqual(snapshot(parent))
    })
  )

  it.effect.skipIf(!isRoot)("overlay upper round trip: whiteouts and opaque folders come back as .wh. entries", () =>
    Effect.gen(function* () {
      const { base, parent } = yield* parentAndCopy
      // Build an upper folder the way the driver does: a tar applied in overlay form.
      const upper = Path.join(base, "upper")
      Fs.mkdirSync(upper)
      const layerTar = LayerDiff.diff(
        LayerChanges.naive(
          yield* Effect.sync(() => {
            const wanted = Path.join(base, "wanted")
            copyOf(parent, wanted)
            Fs.rmSync(Path.join(wanted, "etc/alias"))
            Fs.writeFileSync(Path.join(wanted, "etc/hosts"), "overlay hosts")
            return wanted
          }),
          parent
        )
      )
      yield* LayerApply.apply(upper, layerTar, { whiteouts: "overlay" })
      expect(Fs.lstatSync(Path.join(upper, "etc/alias")).isCharacterDevice()).toBe(true)
      ChildProcess.execFileSync("setfattr", ["-n", "trusted.overlay.opaque", "-v", "y", Path.join(upper, "etc")])

      const out = LayerDiff.diff(LayerChanges.overlay(upper, [parent]))
      expect(yield* names(out)).toEqual([
        "directory etc/",
        "file etc/.wh..wh..opq",
        "file etc/.wh.alias",
        "file etc/hosts"
      ])
      const target = Path.join(base, "target")
      copyOf(parent, target)
      yield* LayerApply.apply(target, out)
      // The opaque marker hid etc's other lower content (conf.d); the whiteout removed alias.
      expect(Fs.readdirSync(Path.join(target, "etc")).sort()).toEqual(["hosts"])
      expect(Fs.readFileSync(Path.join(target, "etc/hosts"), "utf8")).toBe("overlay hosts")
    })
  )
})
