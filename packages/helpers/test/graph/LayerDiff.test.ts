import { FileName, LayerApply, LayerChanges, LayerDiff, SpecialFiles, TarStream } from "@docker-plugin-kit/helpers"
import { ReusableChunk } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { binaryFolder, isRoot, latin1Name, nonUtf8Tree, parentAndCopy, snapshot, tempDir } from "./support.ts"

const copyOf = (from: string, to: string) => ChildProcess.execFileSync("cp", ["-a", `${from}/.`, to])

const names = (bytes: Stream.Stream<Uint8Array, unknown>) =>
  Stream.runCollect(Stream.map(TarStream.entries(bytes), (e) => `${e.header.type} ${e.header.name}`))

/**
 * The bytes of a tar. With `release`, chunks are copied (and handed back, as the server does once it has written
 * them) only after four more have come, as a socket's buffer holds chunks for a while: a chunk reused while still
 * held would change before it is copied.
 */
const copied = (tar: Stream.Stream<Uint8Array, unknown>, release: boolean) =>
  Effect.gen(function* () {
    const parts: Array<Buffer> = []
    const held: Array<Uint8Array> = []
    const memories = new Set<ArrayBufferLike>()
    let reused = 0
    const copyOldest = () => {
      const chunk = held.shift()!
      parts.push(Buffer.from(chunk))
      if (release) ReusableChunk.release(chunk)
    }
    yield* Stream.runForEach(tar, (chunk) =>
      Effect.sync(() => {
        if (ReusableChunk.isReusable(chunk)) {
          if (memories.has(chunk.buffer)) reused++
          memories.add(chunk.buffer)
        }
        held.push(chunk)
        if (held.length > (release ? 4 : 0)) copyOldest()
      })
    )
    while (held.length > 0) copyOldest()
    return { bytes: Buffer.concat(parts), reused }
  })

/** The paths `LayerChanges.items` walks, and how often it waited for attributes still being read. */
const walk = (source: LayerChanges.Source) =>
  Effect.scoped(
    Effect.gen(function* () {
      let waits = 0
      const paths: Array<string> = []
      for (const item of yield* LayerChanges.items(source)) {
        if (item instanceof LayerChanges.Pending) {
          waits++
          yield* item.ready
        } else paths.push(item.path)
      }
      return { waits, paths }
    })
  )

describe("LayerDiff", () => {
  it.effect(
    "chunks handed back once copied (some held a while, as a socket does) are reused, and the tar is unchanged",
    () =>
      Effect.gen(function* () {
        const root = Path.join(yield* tempDir, "layer")
        // Small files of every size up to past the small-file limit, and large files of several chunks.
        for (let i = 0; i < 300; i++) {
          const dir = Path.join(root, `d${i % 7}`)
          Fs.mkdirSync(dir, { recursive: true })
          Fs.writeFileSync(Path.join(dir, `f${i}`), Buffer.alloc((i * 7919) % 40_000, i % 251))
        }
        for (let i = 0; i < 3; i++) Fs.writeFileSync(Path.join(root, `big${i}`), Buffer.alloc(700_000 + i, 200 + i))
        const source = LayerChanges.naive(root)
        const kept = yield* copied(LayerDiff.diff(source), false)
        const handedBack = yield* copied(LayerDiff.diff(source), true)
        expect(handedBack.reused).toBeGreaterThan(0)
        expect(handedBack.bytes.equals(kept.bytes)).toBe(true)
        const target = Path.join(root, "..", "target")
        Fs.mkdirSync(target)
        yield* LayerApply.apply(target, Stream.make(handedBack.bytes))
        expect(snapshot(target)).toEqual(snapshot(root))
      })
  )

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

  it.effect.skipIf(!isRoot)(
    "as root: a binary file capability goes onto the disk and back into a tar byte for byte (docker load, commit)",
    () =>
      Effect.gen(function* () {
        const base = yield* tempDir
        const layer = Path.join(base, "layer")
        Fs.mkdirSync(layer)
        // v2, effective, permitted CAP_SETUID (bit 7: the byte 0x80, which is not UTF-8), as newuidmap carries.
        const capability = Uint8Array.from([1, 0, 0, 2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        const bytes = Uint8Array.from({ length: 256 }, (_, i) => 255 - i)
        const xattrs = { "security.capability": capability, "user.bytes": bytes }
        const header = TarStream.header({ name: "newuidmap", mode: 0o755, size: 2, xattrs })
        yield* LayerApply.apply(layer, TarStream.write(Stream.make({ header, content: Buffer.from("#!") })))
        const onDisk = (name: string) =>
          ChildProcess.execFileSync("getfattr", ["--only-values", "-n", name, Path.join(layer, "newuidmap")])
        expect(new Uint8Array(onDisk("security.capability"))).toEqual(capability)
        expect(new Uint8Array(onDisk("user.bytes"))).toEqual(bytes)

        const entries = yield* Stream.runCollect(TarStream.entries(LayerDiff.diff(LayerChanges.naive(layer))))
        expect(entries.map((e) => [e.header.name, e.header.xattrs])).toEqual([["newuidmap", xattrs]])
      })
  )

  it.effect(
    "overlay: attributes read in slices beside the walk come out on their entries, as one getfattr finds them",
    () =>
      Effect.gen(function* () {
        const base = yield* tempDir
        const upper = Path.join(base, "upper")
        // One folder at the top: the slices split below it, 12 folders in groups of 1, 2, 4 and 5.
        for (let i = 0; i < 12; i++) {
          const dir = Path.join(upper, "usr", `d${String(i).padStart(2, "0")}`)
          Fs.mkdirSync(dir, { recursive: true })
          for (let j = 0; j < 3; j++) Fs.writeFileSync(Path.join(dir, `f${j}`), `${i}/${j}`)
          ChildProcess.execFileSync("setfattr", ["-n", "user.folder", "-v", `d${i}`, dir])
          ChildProcess.execFileSync("setfattr", ["-n", "user.file", "-v", `f${i}`, Path.join(dir, "f2")])
        }
        const source = LayerChanges.overlay(upper, [])
        const walked = yield* walk(source)
        // The walk reached paths whose slice was still being read, and went on once it was.
        expect(walked.waits).toBeGreaterThan(0)
        expect(walked.paths.length).toBe(1 + 12 * 4)
        const whole = yield* SpecialFiles.readXattrsTree(upper)
        const entries = yield* Stream.runCollect(TarStream.entries(LayerDiff.diff(source)))
        expect(entries.length).toBe(1 + 12 * 4)
        for (const entry of entries) {
          const rel = entry.header.name.replace(/\/$/, "")
          expect([rel, entry.header.xattrs ?? {}]).toEqual([rel, whole.get(rel) ?? {}])
        }
        expect(entries.filter((e) => Object.keys(e.header.xattrs ?? {}).length > 0).length).toBe(24)
      })
  )

  it.effect("naive: the layer's attributes and the parent's capabilities, read in slices, give the same changes", () =>
    Effect.gen(function* () {
      const base = yield* tempDir
      const parent = Path.join(base, "parent")
      for (let i = 0; i < 12; i++) {
        const dir = Path.join(parent, "usr", `d${String(i).padStart(2, "0")}`)
        Fs.mkdirSync(dir, { recursive: true })
        for (let j = 0; j < 3; j++) Fs.writeFileSync(Path.join(dir, `f${j}`), `${i}/${j}`)
      }
      // v2, effective, permitted CAP_SETUID: on a file of the parent, kept by the copy (not a change); on another,
      // set in the layer only (a change, though size and time are the same), in the last slice.
      const capability = Buffer.from([1, 0, 0, 2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
      const setCapability = (file: string) =>
        ChildProcess.execFileSync("setfattr", [
          "-n",
          "security.capability",
          "-v",
          `0s${capability.toString("base64")}`,
          file
        ])
      if (isRoot) setCapability(Path.join(parent, "usr", "d06", "f0"))
      const layer = Path.join(base, "layer")
      copyOf(parent, layer)
      for (const i of [0, 5, 11]) {
        const added = Path.join(layer, "usr", `d${String(i).padStart(2, "0")}`, "new")
        Fs.writeFileSync(added, `added ${i}`)
        ChildProcess.execFileSync("setfattr", ["-n", "user.file", "-v", `new ${i}`, added])
      }
      if (isRoot) setCapability(Path.join(layer, "usr", "d11", "f1"))
      Fs.rmSync(Path.join(layer, "usr", "d03"), { recursive: true })
      const source = LayerChanges.naive(layer, parent)
      const walked = yield* walk(source)
      expect(walked.waits).toBeGreaterThan(0)
      expect(walked.paths).toEqual([
        "usr",
        "usr/d00",
        "usr/d00/new",
        "usr/d03",
        "usr/d05",
        "usr/d05/new",
        "usr/d11",
        ...(isRoot ? ["usr/d11/f1"] : []),
        "usr/d11/new"
      ])
      // The same changes as the comparison that reads every attribute first.
      expect((yield* LayerChanges.changes(source)).map((c) => c.Path.slice(1))).toEqual(walked.paths)
      const entries = yield* Stream.runCollect(TarStream.entries(LayerDiff.diff(source)))
      const xattrsOf = (name: string) => entries.find((e) => e.header.name === name)?.header.xattrs
      expect(new TextDecoder().decode(xattrsOf("usr/d11/new")?.["user.file"])).toBe("new 11")
      expect(entries.some((e) => e.header.name === "usr/.wh.d03")).toBe(true)
      if (isRoot) expect(Buffer.from(xattrsOf("usr/d11/f1")?.["security.capability"] ?? [])).toEqual(capability)
    })
  )

  it.effect("names and link targets that are not UTF-8 go out through Diff and back byte for byte", () =>
    Effect.gen(function* () {
      const { base, parent, layer } = yield* parentAndCopy
      nonUtf8Tree(parent)
      copyOf(parent, layer)
      // A new layer holding the whole tree: what docker save and a first commit send.
      const whole = Path.join(base, "whole")
      Fs.mkdirSync(whole)
      yield* LayerApply.apply(whole, LayerDiff.diff(LayerChanges.naive(layer)))
      expect(snapshot(whole)).toEqual(snapshot(layer))
      // Against the parent: one such name changed, one deleted; Changes names them.
      const at = (rel: string) => FileName.fsPath(Path.join(layer, rel))
      Fs.writeFileSync(at(`${binaryFolder}/plain`), "changed")
      Fs.rmSync(at(latin1Name))
      const source = LayerChanges.naive(layer, parent)
      expect(yield* LayerChanges.changes(source)).toEqual([
        { Path: `/${latin1Name}`, Kind: LayerChanges.Kind.Delete },
        { Path: `/${binaryFolder}`, Kind: LayerChanges.Kind.Modify },
        { Path: `/${binaryFolder}/plain`, Kind: LayerChanges.Kind.Modify }
      ])
      expect(yield* names(LayerDiff.diff(source))).toEqual([
        `file .wh.${latin1Name}`,
        `directory ${binaryFolder}/`,
        `file ${binaryFolder}/plain`
      ])
      const target = Path.join(base, "target")
      copyOf(parent, target)
      yield* LayerApply.apply(target, LayerDiff.diff(source))
      expect(snapshot(target)).toEqual(snapshot(layer))
    })
  )

  it.effect.skipIf(!isRoot)("as root: an overlay whiteout of a name that is not UTF-8 goes out as its .wh. entry", () =>
    Effect.gen(function* () {
      const { base, parent } = yield* parentAndCopy
      nonUtf8Tree(parent)
      const upper = Path.join(base, "upper")
      Fs.mkdirSync(upper)
      ChildProcess.execFileSync("mknod", [Path.join(upper, "gone"), "c", "0", "0"])
      Fs.renameSync(Path.join(upper, "gone"), FileName.fsPath(Path.join(upper, latin1Name)))
      expect(yield* names(LayerDiff.diff(LayerChanges.overlay(upper, [parent])))).toEqual([`file .wh.${latin1Name}`])
    })
  )
})
