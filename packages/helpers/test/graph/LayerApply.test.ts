import { FileName, LayerApply, SpecialFiles, TarStream } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, Stream } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import {
  binaryFolder,
  gnuTar,
  isRoot,
  latin1Name,
  nonUtf8Tree,
  type RawEntry,
  rawTar,
  snapshot,
  tempDir
} from "./support.ts"

const mtime = new Date("2024-01-02T03:04:05Z")
const file = (name: string, body: string, header: Partial<RawEntry["header"]> = {}): RawEntry => ({
  header: { name, mtime, mode: 0o644, ...header },
  body
})
const dir = (name: string, header: Partial<RawEntry["header"]> = {}): RawEntry => ({
  header: { name, type: "directory", mtime, mode: 0o755, ...header }
})
const symlink = (name: string, linkname: string): RawEntry => ({ header: { name, type: "symlink", linkname, mtime } })
const hardlink = (name: string, linkname: string): RawEntry => ({ header: { name, type: "link", linkname, mtime } })

/** A folder with `root/` (the target) and `outside/victim` beside it, which no tar may touch. */
const sandbox = Effect.map(tempDir, (base) => {
  const root = Path.join(base, "root")
  const outside = Path.join(base, "outside")
  Fs.mkdirSync(root)
  Fs.mkdirSync(outside)
  Fs.writeFileSync(Path.join(outside, "victim"), "original")
  return { base, root, outside }
})

const applyTar = (root: string, entries: ReadonlyArray<RawEntry>, options: LayerApply.Options = {}) =>
  Effect.flatMap(rawTar(entries), (tar) => LayerApply.apply(root, Stream.make(tar), options))

const outsideUntouched = (outside: string) => {
  expect(Fs.readdirSync(outside)).toEqual(["victim"])
  expect(Fs.readFileSync(Path.join(outside, "victim"), "utf8")).toBe("original")
}

const getfattr = (path: string, name: string) =>
  ChildProcess.execFileSync("getfattr", ["--only-values", "-h", "-n", name, path], { encoding: "utf8" })

/** Runs `effect` with its log messages kept in `into` instead of printed. */
const keepingLogs = <A, E, R>(into: Array<string>, effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(
    effect,
    Logger.CurrentLoggers,
    new Set([Logger.make(({ logLevel, message }) => void into.push(`${logLevel}: ${String(message)}`))])
  )

describe("LayerApply.apply", () => {
  it.effect("writes files, folders, symlinks, hard links and FIFOs with modes and times; answers the size", () =>
    Effect.gen(function* () {
      const { root } = yield* sandbox
      const applied = yield* applyTar(root, [
        dir("etc/", { mode: 0o750 }),
        file("etc/hosts", "127.0.0.1 localhost\n"),
        // tar-stream replaces a mode of 0 by its default unless type bits are given.
        file("etc/shadow", "secret", { mode: 0o100000 }),
        file("bin/su", "x", { mode: 0o4755 }),
        symlink("etc/link", "/etc/hosts"),
        hardlink("etc/hard", "etc/hosts"),
        { header: { name: "run/fifo", type: "fifo", mode: 0o600, mtime } },
        { header: { name: ".wh..wh.plnk/1", mtime }, body: "" }
      ])
      expect(applied).toEqual({ size: 27, entries: 8, skipped: 1 })
      expect(Fs.readFileSync(Path.join(root, "etc/hosts"), "utf8")).toBe("127.0.0.1 localhost\n")
      expect(Fs.statSync(Path.join(root, "etc")).mode & 0o7777).toBe(0o750)
      expect(Fs.statSync(Path.join(root, "etc")).mtime).toEqual(mtime)
      expect(Fs.statSync(Path.join(root, "etc/shadow")).mode & 0o7777).toBe(0)
      expect(Fs.statSync(Path.join(root, "etc/hosts")).mtime).toEqual(mtime)
      expect(Fs.readlinkSync(Path.join(root, "etc/link"))).toBe("/etc/hosts")
      expect(Fs.statSync(Path.join(root, "etc/hard")).ino).toBe(Fs.statSync(Path.join(root, "etc/hosts")).ino)
      expect(Fs.lstatSync(Path.join(root, "run/fifo")).isFIFO()).toBe(true)
      expect(Fs.existsSync(Path.join(root, ".wh..wh.plnk"))).toBe(false)
      if (isRoot) expect(Fs.statSync(Path.join(root, "bin/su")).mode & 0o7777).toBe(0o4755)
    })
  )

  it.effect.skipIf(!isRoot)("as root: owners, devices and PAX extended attributes", () =>
    Effect.gen(function* () {
      const { root } = yield* sandbox
      yield* applyTar(root, [
        file("f", "x", { uid: 1234, gid: 5678, pax: { "SCHILY.xattr.user.note": "hello" } }),
        { header: { name: "null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666, mtime } },
        dir("d/", { uid: 42, gid: 43 })
      ])
      const f = Fs.statSync(Path.join(root, "f"))
      expect([f.uid, f.gid]).toEqual([1234, 5678])
      expect(getfattr(Path.join(root, "f"), "user.note")).toBe("hello")
      const dev = Fs.lstatSync(Path.join(root, "null"))
      expect(dev.isCharacterDevice()).toBe(true)
      expect(dev.rdev).toBe(259) // makedev(1, 3)
      expect(Fs.statSync(Path.join(root, "d")).uid).toBe(42)
    })
  )

  it.effect("applies names and link targets that are not UTF-8 byte for byte (both GNU tar formats)", () =>
    Effect.gen(function* () {
      const { base } = yield* sandbox
      const source = Path.join(base, "source")
      Fs.mkdirSync(source)
      nonUtf8Tree(source)
      for (const format of ["gnu", "posix"] as const) {
        const root = Path.join(base, format)
        Fs.mkdirSync(root)
        yield* LayerApply.apply(root, Stream.make(gnuTar(source, format)))
        expect(snapshot(root)).toEqual(snapshot(source))
        const hard = FileName.fsPath(Path.join(root, binaryFolder, "hard"))
        expect(Fs.statSync(hard).ino).toBe(Fs.statSync(FileName.fsPath(Path.join(root, latin1Name))).ino)
      }
      // A naive whiteout of a name that is not UTF-8 removes that name, and only it.
      const deletion = Path.join(base, "deletion")
      Fs.mkdirSync(deletion)
      Fs.writeFileSync(FileName.fsPath(Path.join(deletion, `.wh.${latin1Name}`)), "")
      const root = Path.join(base, "gnu")
      yield* LayerApply.apply(root, Stream.make(gnuTar(deletion, "gnu")))
      expect(Fs.existsSync(FileName.fsPath(Path.join(root, latin1Name)))).toBe(false)
      expect(Fs.readFileSync(FileName.fsPath(Path.join(root, binaryFolder, "hard")), "utf8")).toBe("latin1 name")
    })
  )

  it.effect.skipIf(!isRoot)(
    "as root: an overlay whiteout and an extended attribute on names that are not UTF-8, in a folder that is not",
    () =>
      Effect.gen(function* () {
        const { root } = yield* sandbox
        const header = (name: string, type: TarStream.EntryType, size = 0) =>
          TarStream.header({ name, type, size, mtime })
        const tar = TarStream.write(
          Stream.make(
            { header: header(`${binaryFolder}/`, "directory") },
            {
              header: { ...header(`${binaryFolder}/${latin1Name}`, "file", 1), xattrs: { "user.k": Buffer.from("v") } },
              content: Buffer.from("!")
            },
            // A plain name in that folder: reached through the folder's descriptor, not renamed.
            {
              header: { ...header(`${binaryFolder}/plain`, "file", 1), xattrs: { "user.k": Buffer.from("p") } },
              content: Buffer.from("!")
            },
            { header: header(`${binaryFolder}/.wh.gone${latin1Name}`, "file") }
          )
        )
        yield* LayerApply.apply(root, tar, { whiteouts: "overlay" })
        const inFolder = Fs.readdirSync(FileName.fsPath(Path.join(root, binaryFolder)), { encoding: "buffer" })
        // No temporary name is left behind.
        expect(inFolder.map(FileName.decode).sort()).toEqual([latin1Name, `gone${latin1Name}`, "plain"].sort())
        const whiteout = Fs.lstatSync(FileName.fsPath(Path.join(root, binaryFolder, `gone${latin1Name}`)))
        expect(whiteout.isCharacterDevice() && whiteout.rdev === 0).toBe(true)
        const xattrs = yield* SpecialFiles.readXattrsTree(root)
        expect(xattrs.get(`${binaryFolder}/${latin1Name}`)).toEqual({ "user.k": Uint8Array.from(Buffer.from("v")) })
        expect(xattrs.get(`${binaryFolder}/plain`)).toEqual({ "user.k": Uint8Array.from(Buffer.from("p")) })
      })
  )

  it.effect("naive whiteouts delete lower files and folders; an opaque marker hides the rest of its folder", () =>
    Effect.gen(function* () {
      const { root } = yield* sandbox
      Fs.mkdirSync(Path.join(root, "a/sub"), { recursive: true })
      Fs.writeFileSync(Path.join(root, "a/sub/x"), "x")
      Fs.writeFileSync(Path.join(root, "a/gone"), "g")
      Fs.mkdirSync(Path.join(root, "o"))
      Fs.writeFileSync(Path.join(root, "o/old"), "old")
      yield* applyTar(root, [
        { header: { name: "a/.wh.sub", mtime }, body: "" },
        { header: { name: "a/.wh.gone", mtime }, body: "" },
        { header: { name: "a/.wh.never-there", mtime }, body: "" },
        dir("o/"),
        { header: { name: "o/.wh..wh..opq", mtime }, body: "" },
        file("o/new", "n")
      ])
      expect(Fs.readdirSync(Path.join(root, "a"))).toEqual([])
      expect(Fs.readdirSync(Path.join(root, "o"))).toEqual(["new"])
    })
  )

  it.effect.skipIf(!isRoot)("overlay whiteouts become 0/0 character devices and trusted.overlay.opaque", () =>
    Effect.gen(function* () {
      const { root } = yield* sandbox
      yield* applyTar(
        root,
        [
          dir("a/"),
          { header: { name: "a/.wh.gone", mtime }, body: "" },
          dir("o/"),
          { header: { name: "o/.wh..wh..opq", mtime }, body: "" },
          file("o/new", "n")
        ],
        { whiteouts: "overlay" }
      )
      const gone = Fs.lstatSync(Path.join(root, "a/gone"))
      expect(gone.isCharacterDevice()).toBe(true)
      expect(gone.rdev).toBe(0)
      expect(getfattr(Path.join(root, "o"), "trusted.overlay.opaque")).toBe("y")
      expect(Fs.readdirSync(Path.join(root, "o"))).toEqual(["new"])
    })
  )

  it.effect("a time before 1970 is kept, whether the file is written behind or not", () =>
    Effect.gen(function* () {
      const { root } = yield* sandbox
      for (const writeBehind of [true, false]) {
        const name = `old-${writeBehind}`
        yield* applyTar(root, [file(name, "x", { mtime: new Date(0), pax: { mtime: "-1000000.5" } })], { writeBehind })
        expect([name, Fs.statSync(Path.join(root, name)).mtime.getTime()]).toEqual([name, -1_000_000_500])
      }
    })
  )

  it.effect("an extended attribute with an empty value is set, empty", () =>
    Effect.gen(function* () {
      const { root } = yield* sandbox
      yield* applyTar(root, [file("f", "x", { pax: { "SCHILY.xattr.user.empty": "", "SCHILY.xattr.user.k": "v" } })])
      const xattrs = yield* SpecialFiles.readXattrsTree(root)
      expect(xattrs.get("f")).toEqual({ "user.empty": new Uint8Array(0), "user.k": Uint8Array.from(Buffer.from("v")) })
      expect(getfattr(Path.join(root, "f"), "user.empty")).toBe("")
    })
  )

  it.effect.skipIf(!isRoot)(
    "as root: a symlink's extended attributes are set on it, not its target; one Linux does not permit is left out",
    () =>
      Effect.gen(function* () {
        const { root } = yield* sandbox
        const logs: Array<string> = []
        yield* keepingLogs(
          logs,
          applyTar(root, [
            file("target", "t"),
            {
              header: {
                name: "l",
                type: "symlink",
                linkname: "target",
                mtime,
                // `user.*` attributes are for regular files and folders only: Linux answers EPERM on a symlink.
                pax: { "SCHILY.xattr.trusted.k": "v", "SCHILY.xattr.user.k": "u" }
              }
            }
          ])
        )
        const xattrs = yield* SpecialFiles.readXattrsTree(root)
        expect(xattrs.get("l")).toEqual({ "trusted.k": Uint8Array.from(Buffer.from("v")) })
        expect(xattrs.get("target")).toBeUndefined()
        expect(Fs.lstatSync(Path.join(root, "l")).mtime).toEqual(mtime)
        expect(logs).toHaveLength(1)
        expect(logs[0]).toMatch(/^Warn: tar entry "l": .*user\.k \(.*Operation not permitted\)$/)
      })
  )

  it.effect.skipIf(!isRoot)(
    "as root: a file system out of inodes fails with the folder being made, not a defect, whoever makes it",
    () =>
      Effect.gen(function* () {
        const { base } = yield* sandbox
        const small = Path.join(base, "small")
        Fs.mkdirSync(small)
        // Room for the root and four more inodes.
        ChildProcess.execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m,nr_inodes=5", "tmpfs", small])
        yield* Effect.addFinalizer(() => Effect.sync(() => ChildProcess.execFileSync("umount", [small])))
        const root = Path.join(small, "root")
        Fs.mkdirSync(root)
        // Folders made for a file whose parents the tar never gives, then one it gives.
        for (const entries of [[file("a/b/c/d/e/f", "x")], [dir("a"), dir("a/b"), dir("a/b/c"), dir("a/b/c/d")]]) {
          Fs.rmSync(root, { recursive: true })
          Fs.mkdirSync(root)
          const error = yield* Effect.flip(applyTar(root, entries))
          expect(error._tag).toBe("LayerIoError")
          expect(error).toMatchObject({ operation: "mkdir" })
          expect(error.message).toMatch(/No space left on device|ENOSPC/)
        }
      }).pipe(Effect.scoped)
  )

  it.effect("an extended attribute value over 64 KiB fails with the path, not a defect", () =>
    Effect.gen(function* () {
      const { root } = yield* sandbox
      const error = yield* Effect.flip(
        applyTar(root, [file("big", "x", { pax: { "SCHILY.xattr.user.big": "v".repeat(99_000) } })])
      )
      expect(error._tag).toBe("LayerIoError")
      expect(error.message).toBe(
        `setxattr ${Path.join(root, "big")}: the value of user.big is 99000 bytes, more than the 65536 Linux allows`
      )
    })
  )

  it.effect("an owner past 2^32 - 1 fails its chown, and the error names chown, whatever the entry", () =>
    Effect.gen(function* () {
      const { root } = yield* sandbox
      // Node refuses such an id before any call: the refusal is right, it was named chmod (or mkdir, symlink).
      const pax = { uid: "4294967296" }
      const cases: ReadonlyArray<readonly [string, ReadonlyArray<RawEntry>, LayerApply.Options]> = [
        ["behind", [file("behind", "x", { pax })], {}],
        ["in-place", [file("in-place", "x", { pax })], { writeBehind: false }],
        ["d", [dir("d/", { pax })], {}],
        ["l", [{ header: { name: "l", type: "symlink", linkname: "behind", mtime, pax } }], {}],
        ["p", [{ header: { name: "p", type: "fifo", mode: 0o600, mtime, pax } }], {}],
        ["copy", [file(".wh..wh.plnk/k", "x", { pax }), hardlink("copy", ".wh..wh.plnk/k")], {}]
      ]
      for (const [name, entries, options] of cases) {
        const error = yield* Effect.flip(applyTar(root, entries, { owners: true, ...options }))
        const operation = error._tag === "LayerIoError" ? [error.operation, error.path] : [error.message]
        expect([name, error._tag, ...operation]).toEqual([name, "LayerIoError", "chown", Path.join(root, name)])
      }
    })
  )

  it.effect("a naive opaque marker removes what the layer did not write at every depth, following no symlink", () =>
    Effect.gen(function* () {
      const { root, outside } = yield* sandbox
      for (const old of ["d/x/old", "d/x/sub/deep", "d/y/old"]) {
        Fs.mkdirSync(Path.dirname(Path.join(root, old)), { recursive: true })
        Fs.writeFileSync(Path.join(root, old), "old")
      }
      yield* applyTar(root, [
        dir("d/"),
        dir("d/x/"),
        file("d/x/new", "n"),
        symlink("d/s", "../../outside"),
        { header: { name: "d/.wh..wh..opq", mtime }, body: "" }
      ])
      expect(Fs.readdirSync(Path.join(root, "d")).sort()).toEqual(["s", "x"])
      expect(Fs.readdirSync(Path.join(root, "d/x"))).toEqual(["new"])
      expect(Fs.readlinkSync(Path.join(root, "d/s"))).toBe("../../outside")
      outsideUntouched(outside)
    })
  )

  it.effect("a later entry replaces what is there, never following a symlink at its own name", () =>
    Effect.gen(function* () {
      const { root, outside } = yield* sandbox
      yield* applyTar(root, [symlink("f", "../outside/victim"), file("f", "mine"), dir("d/"), file("d", "now a file")])
      expect(Fs.readFileSync(Path.join(root, "f"), "utf8")).toBe("mine")
      expect(Fs.readFileSync(Path.join(root, "d"), "utf8")).toBe("now a file")
      outsideUntouched(outside)
    })
  )
})

/** Each hostile tar, the error it must give, and what it must say. */
const corpus: ReadonlyArray<{
  readonly name: string
  readonly entries: (outside: string) => ReadonlyArray<RawEntry>
  readonly tag: "UnsafeEntry" | "MalformedTar"
  readonly says: string
  readonly before?: (root: string, outside: string) => void
}> = [
  { name: "a ../ name", entries: () => [file("../outside/victim", "pwned")], tag: "UnsafeEntry", says: ".." },
  {
    name: "a ../ deeper in a name",
    entries: () => [file("a/../../outside/x", "pwned")],
    tag: "UnsafeEntry",
    says: ".."
  },
  { name: "an absolute name", entries: (o) => [file(`${o}/victim`, "pwned")], tag: "UnsafeEntry", says: "absolute" },
  {
    name: "a file written through a symlink planted in the tar",
    entries: () => [symlink("s", "../outside"), file("s/victim", "pwned")],
    tag: "UnsafeEntry",
    says: "symlink s"
  },
  {
    name: "a file written through an absolute symlink planted in the tar",
    entries: (o) => [symlink("s", o), file("s/new", "pwned")],
    tag: "UnsafeEntry",
    says: "symlink s"
  },
  {
    name: "a folder made through a symlink planted deeper",
    entries: () => [dir("a/"), symlink("a/s", "../../outside"), dir("a/s/sub/")],
    tag: "UnsafeEntry",
    says: "symlink a/s"
  },
  {
    name: "a file written through a symlink already in the folder",
    before: (root, outside) => Fs.symlinkSync(outside, Path.join(root, "s")),
    entries: () => [file("s/victim", "pwned")],
    tag: "UnsafeEntry",
    says: "symlink s"
  },
  {
    name: "a whiteout through a symlink already in the folder",
    before: (root, outside) => Fs.symlinkSync(outside, Path.join(root, "s")),
    entries: () => [{ header: { name: "s/.wh.victim", mtime }, body: "" }],
    tag: "UnsafeEntry",
    says: "symlink s"
  },
  {
    name: "an opaque marker through a symlink already in the folder",
    before: (root, outside) => Fs.symlinkSync(outside, Path.join(root, "s")),
    entries: () => [{ header: { name: "s/.wh..wh..opq", mtime }, body: "" }],
    tag: "UnsafeEntry",
    says: "symlink s"
  },
  {
    name: "a hard link to ../",
    entries: () => [hardlink("h", "../outside/victim")],
    tag: "UnsafeEntry",
    says: "hard link"
  },
  {
    name: "a hard link to an absolute path",
    entries: (o) => [hardlink("h", `${o}/victim`)],
    tag: "UnsafeEntry",
    says: "hard link"
  },
  {
    name: "a hard link through a planted symlink",
    entries: () => [symlink("s", "../outside"), hardlink("h", "s/victim")],
    tag: "UnsafeEntry",
    says: "symlink s"
  },
  { name: "a hard link to nothing", entries: () => [hardlink("h", "missing")], tag: "UnsafeEntry", says: "not a file" },
  {
    name: "a whiteout naming its parent",
    entries: () => [dir("a/"), { header: { name: "a/.wh..", mtime }, body: "" }],
    tag: "UnsafeEntry",
    says: "parent"
  },
  {
    name: "a whiteout naming its own folder",
    entries: () => [{ header: { name: ".wh..", mtime }, body: "" }],
    tag: "UnsafeEntry",
    says: "parent"
  },
  {
    name: "an empty whiteout",
    entries: () => [{ header: { name: "a/.wh.", mtime }, body: "" }],
    tag: "UnsafeEntry",
    says: "parent"
  },
  {
    name: "a component longer than 255 bytes",
    entries: () => [file(`a/${"x".repeat(300)}`, "x")],
    tag: "UnsafeEntry",
    says: "255"
  },
  {
    name: "a name longer than 4095 bytes",
    entries: () => [file(Array.from({ length: 30 }, () => "y".repeat(200)).join("/"), "x")],
    tag: "UnsafeEntry",
    says: "4095"
  },
  {
    name: "a file deeper under a symlink already in the folder",
    before: (root, outside) => Fs.symlinkSync(outside, Path.join(root, "s")),
    entries: () => [file("s/x/y", "pwned")],
    tag: "UnsafeEntry",
    says: "symlink s"
  }
]

describe("LayerApply.apply refuses hostile tars, writing nothing outside the folder", () => {
  it.effect("an overlong encoding of / or . is a byte of a name, never a separator or a step up", () =>
    Effect.gen(function* () {
      const { base, root, outside } = yield* sandbox
      const source = Path.join(base, "source")
      Fs.mkdirSync(source)
      // "..", "/" and "victim" with the slash and the dots as two-byte overlong sequences (C0 AF, C0 AE).
      const name = Buffer.concat([Buffer.from([0xc0, 0xae, 0xc0, 0xae, 0xc0, 0xaf]), Buffer.from("outside")])
      Fs.writeFileSync(Buffer.concat([Buffer.from(`${source}/`), name]), "planted")
      yield* LayerApply.apply(root, Stream.make(gnuTar(source, "posix")))
      expect(Fs.readdirSync(root, { encoding: "buffer" })).toEqual([name])
      outsideUntouched(outside)
    })
  )

  it.effect("a folder replaced by a symlink to outside: the folder's time is not set through it", () =>
    Effect.gen(function* () {
      const { root, outside } = yield* sandbox
      Fs.utimesSync(outside, 1e9, 1e9)
      yield* applyTar(root, [dir("d/"), symlink("d", "../outside")])
      expect(Fs.statSync(outside).mtime.getTime()).toBe(1e12)
      expect(Fs.readlinkSync(Path.join(root, "d"))).toBe("../outside")
      outsideUntouched(outside)
    })
  )

  it.effect("a folder replaced by a symlink to outside: the times of folders under it are not set through it", () =>
    Effect.gen(function* () {
      const { root, outside } = yield* sandbox
      // `a/b/`'s time is due at the end; once `a` leads outside, `a/b` names `outside/b`.
      Fs.mkdirSync(Path.join(outside, "b"))
      Fs.utimesSync(Path.join(outside, "b"), 1e9, 1e9)
      Fs.utimesSync(outside, 1e9, 1e9)
      yield* applyTar(root, [dir("a/"), dir("a/b/"), symlink("a", "../outside")])
      expect(Fs.readlinkSync(Path.join(root, "a"))).toBe("../outside")
      expect(Fs.statSync(Path.join(outside, "b")).mtime.getTime()).toBe(1e12)
      expect(Fs.statSync(outside).mtime.getTime()).toBe(1e12)
      expect(Fs.readdirSync(Path.join(outside, "b"))).toEqual([])
      Fs.rmdirSync(Path.join(outside, "b"))
      outsideUntouched(outside)
    })
  )

  it.effect("a folder replaced, then made again: the times of the new folders are the tar's", () =>
    Effect.gen(function* () {
      const { root, outside } = yield* sandbox
      const later = new Date("2025-06-07T08:09:10Z")
      yield* applyTar(root, [
        dir("a/"),
        dir("a/b/"),
        symlink("a", "../outside"),
        { header: { name: "a", mtime }, body: "" },
        dir("a/", { mtime: later }),
        dir("a/b/", { mtime: later })
      ])
      expect(Fs.statSync(Path.join(root, "a")).mtime).toEqual(later)
      expect(Fs.statSync(Path.join(root, "a/b")).mtime).toEqual(later)
      outsideUntouched(outside)
    })
  )

  for (const c of corpus) {
    it.effect(c.name, () =>
      Effect.gen(function* () {
        const { root, outside } = yield* sandbox
        c.before?.(root, outside)
        const error = yield* Effect.flip(applyTar(root, c.entries(outside)))
        expect(error._tag).toBe(c.tag)
        expect(error.message).toContain(c.says)
        outsideUntouched(outside)
      })
    )
  }

  it.effect("a tar that ends early", () =>
    Effect.gen(function* () {
      const { root, outside } = yield* sandbox
      const tar = yield* rawTar([file("a", "x".repeat(5000)), file("b", "y")])
      const error = yield* Effect.flip(LayerApply.apply(root, Stream.make(tar.subarray(0, 3000))))
      expect(error._tag).toBe("MalformedTar")
      const noEnd = yield* Effect.flip(LayerApply.apply(root, Stream.make(tar.subarray(0, tar.length - 1024))))
      expect(noEnd.message).toContain("end-of-archive")
      outsideUntouched(outside)
    })
  )

  it.effect("a target that is not a folder", () =>
    Effect.gen(function* () {
      const { base } = yield* sandbox
      const error = yield* Effect.flip(applyTar(Path.join(base, "outside/victim"), [file("a", "x")]))
      expect(error._tag).toBe("LayerIoError")
    })
  )
})

/** A file of AUFS' hard-link folder and a hard link to it, which apply: what comes before each refusal below. */
const plnkPrelude: ReadonlyArray<RawEntry> = [
  dir(".wh..wh.plnk/", { mode: 0o700 }),
  file(".wh..wh.plnk/good", "good"),
  hardlink("ok", ".wh..wh.plnk/good")
]

/** Nothing beside the target but `outside`, untouched (no kept-aside folder left), and no AUFS metadata in it. */
const nothingLeft = (base: string, root: string, outside: string) => {
  expect(Fs.readdirSync(base).sort()).toEqual(["outside", "root"])
  expect(Fs.readdirSync(root).filter((name) => name.startsWith(".wh.."))).toEqual([])
  outsideUntouched(outside)
}

/** Hostile tars through AUFS' hard-link folder: each refused at entry `refused`, after `plnkPrelude` applied. */
const aufsCorpus: ReadonlyArray<{
  readonly name: string
  readonly entries: (outside: string) => ReadonlyArray<RawEntry>
  readonly refused: string
  readonly says: string
  readonly before?: (root: string, outside: string) => void
}> = [
  {
    name: "a link target that climbs out of .wh..wh.plnk/",
    entries: () => [hardlink("evil", ".wh..wh.plnk/../../outside/victim")],
    refused: "evil",
    says: "hard link target: the name climbs out with .."
  },
  {
    name: "a link target .wh..wh.plnk/../../etc/passwd",
    entries: () => [hardlink("evil", ".wh..wh.plnk/../../etc/passwd")],
    refused: "evil",
    says: "hard link target: the name climbs out with .."
  },
  {
    name: "a .wh..wh.plnk/ entry whose name climbs out",
    entries: () => [file(".wh..wh.plnk/../../outside/victim", "pwned")],
    refused: ".wh..wh.plnk/../../outside/victim",
    says: "climbs out with .."
  },
  {
    name: "a link to a .wh..wh.plnk/ symlink to outside",
    entries: () => [symlink(".wh..wh.plnk/sym", "../../outside/victim"), hardlink("evil", ".wh..wh.plnk/sym")],
    refused: "evil",
    says: "not a regular file of the AUFS hard-link folder"
  },
  {
    name: "a link to a .wh..wh.plnk/ symlink to an absolute path",
    entries: (o) => [symlink(".wh..wh.plnk/sym", `${o}/victim`), hardlink("evil", ".wh..wh.plnk/sym")],
    refused: "evil",
    says: "not a regular file of the AUFS hard-link folder"
  },
  {
    name: "a .wh..wh.plnk/ hard link to outside",
    entries: () => [hardlink(".wh..wh.plnk/hard", "../outside/victim"), hardlink("evil", ".wh..wh.plnk/hard")],
    refused: ".wh..wh.plnk/hard",
    says: "hard link target: the name climbs out with .."
  },
  {
    name: "a .wh..wh.plnk/ hard link to an absolute path",
    entries: (o) => [hardlink(".wh..wh.plnk/hard", `${o}/victim`), hardlink("evil", ".wh..wh.plnk/hard")],
    refused: ".wh..wh.plnk/hard",
    says: "hard link target: absolute names are not allowed"
  },
  {
    name: "a link to a .wh..wh.plnk/ hard link (never kept, as Docker keeps none)",
    entries: () => [
      file("etc/passwd", "root"),
      hardlink(".wh..wh.plnk/hard", "etc/passwd"),
      hardlink("evil", ".wh..wh.plnk/hard")
    ],
    refused: "evil",
    says: "not a regular file of the AUFS hard-link folder"
  },
  {
    name: "a link to a .wh..wh.plnk/ folder",
    entries: () => [dir(".wh..wh.plnk/sub/"), hardlink("evil", ".wh..wh.plnk/sub")],
    refused: "evil",
    says: "not a regular file of the AUFS hard-link folder"
  },
  {
    name: "a link to a .wh..wh.plnk/ file the tar gives only later",
    entries: () => [hardlink("evil", ".wh..wh.plnk/later"), file(".wh..wh.plnk/later", "x")],
    refused: "evil",
    says: "not a regular file of the AUFS hard-link folder"
  },
  {
    name: "a copy written through a symlink planted in the tar",
    entries: () => [symlink("s", "../outside"), hardlink("s/victim", ".wh..wh.plnk/good")],
    refused: "s/victim",
    says: "symlink s"
  },
  {
    name: "a copy written through a symlink already in the folder",
    before: (root, outside) => Fs.symlinkSync(outside, Path.join(root, "s")),
    entries: () => [hardlink("s/victim", ".wh..wh.plnk/good")],
    refused: "s/victim",
    says: "symlink s"
  }
]

describe("LayerApply.apply of a layer exported by an AUFS-backed daemon", () => {
  it.effect(
    "a hard link into .wh..wh.plnk/ is a copy of the kept file, as Docker makes it; AUFS' metadata is left out",
    () =>
      Effect.gen(function* () {
        const linked = new Date("2023-04-05T06:07:08Z")
        for (const writeBehind of [true, false]) {
          const { base, root, outside } = yield* sandbox
          const applied = yield* applyTar(
            root,
            [
              file(".wh..wh.aufs", ""),
              dir(".wh..wh.orph/"),
              file(".wh..wh.orph/orphan", "orphan"),
              dir(".wh..wh.plnk/", { mode: 0o700 }),
              file(".wh..wh.plnk/1234.5678", "shared body", {
                mode: 0o640,
                mtime: linked,
                uid: 1234,
                gid: 5678,
                pax: { "SCHILY.xattr.user.k": "v" }
              }),
              dir("etc/"),
              hardlink("etc/a", ".wh..wh.plnk/1234.5678"),
              // Not normalised, in a folder the tar does not hold.
              hardlink("usr/b", "./.wh..wh.plnk//1234.5678"),
              // An ordinary hard link to a copy.
              hardlink("etc/c", "etc/a")
            ],
            { writeBehind }
          )
          // The kept file's bytes count once, as the daemon counts its entry; the AUFS entries are left out.
          expect(applied).toEqual({ size: 11, entries: 9, skipped: 5 })
          expect(Fs.readdirSync(root).sort()).toEqual(["etc", "usr"])
          const [a, b, c] = ["etc/a", "usr/b", "etc/c"].map((rel) => Fs.statSync(Path.join(root, rel)))
          for (const rel of ["etc/a", "usr/b"]) {
            expect(Fs.readFileSync(Path.join(root, rel), "utf8")).toBe("shared body")
            expect(getfattr(Path.join(root, rel), "user.k")).toBe("v")
          }
          // A file of its own per link into the folder (Docker copies the kept file), shared by an ordinary link.
          expect([a!.nlink, b!.nlink, c!.ino === a!.ino, b!.ino === a!.ino]).toEqual([2, 1, true, false])
          expect([a!.mode & 0o7777, b!.mode & 0o7777, a!.mtime, b!.mtime]).toEqual([0o640, 0o640, linked, linked])
          if (isRoot) expect([a!.uid, a!.gid, b!.uid, b!.gid]).toEqual([1234, 5678, 1234, 5678])
          nothingLeft(base, root, outside)
        }
      })
  )

  it.effect("a symlink named .wh..wh.plnk, planted or already in the folder, is never followed", () =>
    Effect.gen(function* () {
      const entries = [
        symlink(".wh..wh.plnk", "../outside"),
        file(".wh..wh.plnk/victim", "kept"),
        // The copy's own name is a symlink to outside: replaced, not followed.
        symlink("victim", "../outside/victim"),
        hardlink("victim", ".wh..wh.plnk/victim")
      ]
      const planted = yield* sandbox
      yield* applyTar(planted.root, entries)
      expect(Fs.readFileSync(Path.join(planted.root, "victim"), "utf8")).toBe("kept")
      nothingLeft(planted.base, planted.root, planted.outside)
      const existing = yield* sandbox
      Fs.symlinkSync(existing.outside, Path.join(existing.root, ".wh..wh.plnk"))
      yield* applyTar(existing.root, entries.slice(1))
      expect(Fs.readFileSync(Path.join(existing.root, "victim"), "utf8")).toBe("kept")
      expect(Fs.readlinkSync(Path.join(existing.root, ".wh..wh.plnk"))).toBe(existing.outside)
      expect(Fs.readdirSync(existing.base).sort()).toEqual(["outside", "root"])
      outsideUntouched(existing.outside)
    })
  )

  for (const c of aufsCorpus) {
    it.effect(`refuses ${c.name}, leaving nothing behind`, () =>
      Effect.gen(function* () {
        const { base, root, outside } = yield* sandbox
        c.before?.(root, outside)
        const error = yield* Effect.flip(applyTar(root, [...plnkPrelude, ...c.entries(outside)]))
        expect(error._tag).toBe("UnsafeEntry")
        expect(error.message).toContain(`refused tar entry ${JSON.stringify(c.refused)}: `)
        expect(error.message).toContain(c.says)
        // The entries before it stay applied.
        expect(Fs.readFileSync(Path.join(root, "ok"), "utf8")).toBe("good")
        nothingLeft(base, root, outside)
      })
    )
  }

  it.effect("a tar that ends inside a kept file leaves nothing behind", () =>
    Effect.gen(function* () {
      const { base, root, outside } = yield* sandbox
      const tar = yield* rawTar([...plnkPrelude, file(".wh..wh.plnk/big", "x".repeat(50_000))])
      const error = yield* Effect.flip(LayerApply.apply(root, Stream.make(tar.subarray(0, tar.length - 30_000))))
      expect(error._tag).toBe("MalformedTar")
      expect(error.message).toContain(".wh..wh.plnk/big")
      expect(Fs.readFileSync(Path.join(root, "ok"), "utf8")).toBe("good")
      nothingLeft(base, root, outside)
    })
  )
})
