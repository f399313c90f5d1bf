/**
 * SecretFilesNode on real temp folders: no symlink below the root is followed (planted as the file, or as a folder
 * on its path, pointing outside), a FIFO or a device is refused without blocking, and a read never takes more than
 * the limit plus one byte.
 */
import { SecretFiles, SecretFilesNode } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-secretfiles-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** A root under a temp folder with `outside` beside it, and the service. */
const setup = Effect.gen(function* () {
  const dir = yield* tempDir
  const root = Path.join(dir, "root")
  const outside = Path.join(dir, "outside")
  Fs.mkdirSync(outside)
  Fs.writeFileSync(Path.join(outside, "host-secret"), "outside the root")
  const files = yield* SecretFiles.SecretFiles.pipe(Effect.provide(SecretFilesNode.layer))
  yield* files.makeDirectory(root)
  const write = (key: string, content: string | Uint8Array) => {
    Fs.mkdirSync(Path.dirname(Path.join(root, key)), { recursive: true })
    Fs.writeFileSync(Path.join(root, key), content)
  }
  const read = (key: string, limit = 511_999) => files.read(root, key.split("/"), limit)
  return { dir, root, outside, files, write, read }
})

/** A Found lookup (the Node Layer answers a Buffer). */
const found = (text: string) => ({ _tag: "Found", bytes: Buffer.from(text) })

describe("SecretFilesNode", () => {
  it.effect("creates the root private (0700), and reads a file by its key, in sub-folders too", () =>
    Effect.gen(function* () {
      const { root, write, read } = yield* setup
      expect(Fs.statSync(root).mode & 0o777).toBe(0o700)
      write("app_token", "t0ken\n")
      write("db/prod/password", "pw")
      expect(yield* read("app_token")).toEqual(found("t0ken\n"))
      expect(yield* read("db/prod/password")).toEqual(found("pw"))
    }).pipe(Effect.scoped)
  )

  it.effect("refuses a symlink planted as the file, pointing outside the root, without reading through it", () =>
    Effect.gen(function* () {
      const { root, outside, write, read } = yield* setup
      Fs.symlinkSync(Path.join(outside, "host-secret"), Path.join(root, "planted"))
      expect(yield* read("planted")).toEqual({ _tag: "Symlink", at: "planted" })
      // Even one pointing at a file under the root: the key would name another file than written.
      write("real", "x")
      Fs.symlinkSync("real", Path.join(root, "alias"))
      expect(yield* read("alias")).toEqual({ _tag: "Symlink", at: "alias" })
      // A dangling one too.
      Fs.symlinkSync(Path.join(outside, "nothing"), Path.join(root, "dangling"))
      expect(yield* read("dangling")).toEqual({ _tag: "Symlink", at: "dangling" })
    }).pipe(Effect.scoped)
  )

  it.effect("refuses a symlink planted as a folder on the path, pointing outside the root", () =>
    Effect.gen(function* () {
      const { root, outside, read } = yield* setup
      Fs.mkdirSync(Path.join(root, "db"))
      Fs.symlinkSync(outside, Path.join(root, "db", "prod"))
      expect(yield* read("db/prod/host-secret")).toEqual({ _tag: "Symlink", at: "db/prod" })
    }).pipe(Effect.scoped)
  )

  it.effect("refuses a hard link (a file of several names), which could be a file outside the root", () =>
    Effect.gen(function* () {
      const { root, outside, write, read } = yield* setup
      // Whoever can write in the folder can link any file of the same file system they can reach, not only a secret.
      Fs.linkSync(Path.join(outside, "host-secret"), Path.join(root, "linked"))
      expect(yield* read("linked")).toEqual({ _tag: "HardLinked", at: "linked", links: 2 })
      // A file of one name is read, a link to a file under the root is refused too (it has two names).
      write("own", "x")
      expect(yield* read("own")).toEqual(found("x"))
      Fs.linkSync(Path.join(root, "own"), Path.join(root, "twin"))
      expect(yield* read("twin")).toEqual({ _tag: "HardLinked", at: "twin", links: 2 })
    }).pipe(Effect.scoped)
  )

  it.effect("follows symlinks above and at the root: where the root is stays the operator's choice", () =>
    Effect.gen(function* () {
      const { dir, files, write } = yield* setup
      write("s", "through a linked root")
      Fs.symlinkSync(Path.join(dir, "root"), Path.join(dir, "linked-root"))
      expect(yield* files.read(Path.join(dir, "linked-root"), ["s"], 100)).toEqual(found("through a linked root"))
    }).pipe(Effect.scoped)
  )

  it.effect("refuses a FIFO at once (no writer needed), a folder, and a file where a folder should be", () =>
    Effect.gen(function* () {
      const { root, write, read } = yield* setup
      ChildProcess.execFileSync("mkfifo", [Path.join(root, "pipe")])
      const fifo = yield* read("pipe").pipe(Effect.timeout("2 seconds"))
      expect(fifo).toEqual({ _tag: "WrongKind", at: "pipe", kind: "a FIFO", wanted: "file" })
      Fs.mkdirSync(Path.join(root, "folder"))
      expect(yield* read("folder")).toEqual({ _tag: "WrongKind", at: "folder", kind: "a folder", wanted: "file" })
      write("plain", "x")
      expect(yield* read("plain/x")).toEqual({
        _tag: "WrongKind",
        at: "plain",
        kind: "a regular file",
        wanted: "folder"
      })
    }).pipe(Effect.scoped)
  )

  it.effect.skipIf(process.getuid?.() !== 0)("refuses a device without opening it (as root: mknod)", () =>
    Effect.gen(function* () {
      const { root, read } = yield* setup
      ChildProcess.execFileSync("mknod", [Path.join(root, "zero"), "c", "1", "5"])
      expect(yield* read("zero")).toEqual({ _tag: "WrongKind", at: "zero", kind: "a character device", wanted: "file" })
    }).pipe(Effect.scoped)
  )

  it.effect("says which part of the key is missing", () =>
    Effect.gen(function* () {
      const { write, read } = yield* setup
      write("db/other", "x")
      expect(yield* read("db/password")).toEqual({ _tag: "Missing", at: "db/password" })
      expect(yield* read("vault/db/password")).toEqual({ _tag: "Missing", at: "vault" })
    }).pipe(Effect.scoped)
  )

  it.effect("reads an empty file as no bytes, and never more than the limit plus one byte", () =>
    Effect.gen(function* () {
      const { root, write, read } = yield* setup
      write("empty", "")
      expect(yield* read("empty")).toEqual(found(""))
      write("largest", Buffer.alloc(511_999, "x"))
      write("limit", Buffer.alloc(512_000, "x"))
      const lengthOf = (key: string) =>
        Effect.map(read(key), (lookup) => (lookup._tag === "Found" ? lookup.bytes.length : undefined))
      expect(yield* lengthOf("largest")).toBe(511_999)
      expect(yield* lengthOf("limit")).toBe(512_000)
      // A sparse file of 1 GiB: only the limit and one byte are read (and allocated).
      const huge = Path.join(root, "huge")
      Fs.writeFileSync(huge, "")
      Fs.truncateSync(huge, 1024 ** 3)
      expect(yield* lengthOf("huge")).toBe(512_000)
      expect(yield* Effect.map(read("largest", 10), (l) => (l._tag === "Found" ? l.bytes.length : -1))).toBe(11)
    }).pipe(Effect.scoped)
  )

  it.effect("leaves no file descriptor open, whatever each lookup finds, under many concurrent calls", () =>
    Effect.gen(function* () {
      const { dir, root, outside, write, read, files } = yield* setup
      write("db/password", "pw")
      write("empty", "")
      Fs.symlinkSync(outside, Path.join(root, "linked"))
      ChildProcess.execFileSync("mkfifo", [Path.join(root, "pipe")])
      const fds = () => Fs.readdirSync("/proc/self/fd").length
      const before = fds()
      const keys = ["db/password", "empty", "db/missing", "missing/x", "linked/host-secret", "pipe", "db", "empty/x"]
      const lookups = yield* Effect.all(
        Array.from({ length: 400 }, (_, i) => read(keys[i % keys.length]!)),
        { concurrency: "unbounded" }
      )
      expect(lookups.map((l) => l._tag).slice(0, keys.length)).toEqual([
        "Found",
        "Found",
        "Missing",
        "Missing",
        "Symlink",
        "WrongKind",
        "WrongKind",
        "WrongKind"
      ])
      yield* Effect.flip(files.read(Path.join(dir, "no-root"), ["s"], 10))
      expect(fds()).toBe(before)
    }).pipe(Effect.scoped)
  )

  it.effect("fails with a typed error naming the path for a root it cannot open", () =>
    Effect.gen(function* () {
      const { dir, files } = yield* setup
      const error = yield* Effect.flip(files.read(Path.join(dir, "no-root"), ["s"], 10))
      expect(error._tag).toBe("SecretFilesError")
      expect(error.message).toContain(Path.join(dir, "no-root"))
      expect(error.message).toContain("ENOENT")
    }).pipe(Effect.scoped)
  )
})
