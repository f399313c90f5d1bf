/**
 * LogFilesNode on the real disk: a symlink planted where a log file would be is never followed; rotated files are
 * compressed whole or not at all, and read back decompressed.
 */
import { LogFiles, LogFilesNode } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Zlib from "node:zlib"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-logfiles-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const files = LogFiles.LogFiles.pipe(Effect.provide(LogFilesNode.layer))

const textOf = (file: LogFiles.OpenFile | undefined) =>
  file === undefined
    ? Effect.succeed(undefined)
    : Stream.runCollect(file.read(file.size)).pipe(Effect.map((chunks) => Buffer.concat(chunks).toString("utf8")))

describe("LogFilesNode", () => {
  it.effect("appends to a new file, and refuses a symlink in its place without writing through it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const fs = yield* files
      const plain = Path.join(dir, "plain.log")
      const append = yield* fs.openAppend(plain)
      yield* append.write(new TextEncoder().encode("line\n"))
      expect(Fs.readFileSync(plain, "utf8")).toBe("line\n")
      const outside = Path.join(dir, "outside")
      Fs.writeFileSync(outside, "must stay\n")
      const planted = Path.join(dir, "planted.log")
      Fs.symlinkSync(outside, planted)
      const error = yield* Effect.flip(fs.openAppend(planted))
      expect(error.message).toContain(planted)
      expect(error.message).toContain("symlink")
      const read = yield* Effect.flip(fs.open(planted))
      expect(read.message).toContain("symlink")
      expect(Fs.readFileSync(outside, "utf8")).toBe("must stay\n")
    }).pipe(Effect.scoped)
  )

  it.effect("says whether the file ends inside a record when opened for appending", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const fs = yield* files
      const path = Path.join(dir, "c.log")
      expect((yield* fs.openAppend(path)).unterminated).toBe(false)
      Fs.writeFileSync(path, '{"log":"whole\\n"}\n')
      expect((yield* fs.openAppend(path)).unterminated).toBe(false)
      Fs.appendFileSync(path, '{"log":"to')
      expect((yield* fs.openAppend(path)).unterminated).toBe(true)
    }).pipe(Effect.scoped)
  )

  it.effect("refuses a FIFO or a folder planted where a log file would be, without waiting on it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const fs = yield* files
      // Opening a FIFO with no other end waits for one: a thread of Node's small pool would be parked for good.
      const fifo = Path.join(dir, "fifo.log")
      ChildProcess.execFileSync("mkfifo", [fifo])
      const folder = Path.join(dir, "folder.log")
      Fs.mkdirSync(folder)
      for (const path of [fifo, folder]) {
        const refusals = [
          yield* Effect.flip(fs.openAppend(path)),
          yield* Effect.flip(fs.open(path)),
          yield* Effect.flip(fs.openCompressed(path)),
          yield* Effect.flip(fs.compress(path, `${path}.gz`))
        ]
        for (const error of refusals) expect(error.message).toContain(path)
        expect(refusals[1]!.message).toContain("not a regular file")
      }
      expect(Fs.existsSync(`${fifo}.gz`)).toBe(false)
    }).pipe(Effect.scoped, Effect.timeout("5 seconds"))
  )

  it.effect("compresses a rotated file to gzip through a temporary name, then removes the plain one", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const fs = yield* files
      const from = Path.join(dir, "c.log.1")
      const to = Path.join(dir, "c.log.1.gz")
      const content = Array.from({ length: 5000 }, (_, i) => `{"log":"line ${i}\\n"}\n`).join("")
      Fs.writeFileSync(from, content)
      // A temporary file left by a compression cut short is replaced, not appended to.
      Fs.writeFileSync(`${to}.tmp`, "stale")
      yield* fs.compress(from, to)
      expect(Fs.readdirSync(dir).sort()).toEqual(["c.log.1.gz"])
      expect(Zlib.gunzipSync(Fs.readFileSync(to)).toString("utf8")).toBe(content)
      expect(Fs.statSync(to).size).toBeLessThan(content.length / 4)
      expect(yield* textOf(yield* fs.openCompressed(to))).toBe(content)
      expect(yield* fs.openCompressed(Path.join(dir, "missing.gz"))).toBeUndefined()
    }).pipe(Effect.scoped)
  )

  it.effect("compression never reads or writes through a symlink, and a file that is not gzip fails its read", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const fs = yield* files
      const outside = Path.join(dir, "outside")
      Fs.writeFileSync(outside, "must stay\n")
      // A symlink planted as the rotated file: not compressed (its target would be read), and left alone.
      const planted = Path.join(dir, "p.log.1")
      Fs.symlinkSync(outside, planted)
      const refused = yield* Effect.flip(fs.compress(planted, Path.join(dir, "p.log.1.gz")))
      expect(refused.message).toContain("symlink")
      expect(Fs.existsSync(Path.join(dir, "p.log.1.gz"))).toBe(false)
      // A symlink planted as the compressed file is replaced by the rename, never written through.
      const from = Path.join(dir, "q.log.1")
      Fs.writeFileSync(from, "kept\n")
      const to = Path.join(dir, "q.log.1.gz")
      Fs.symlinkSync(outside, to)
      yield* fs.compress(from, to)
      expect(Fs.lstatSync(to).isFile()).toBe(true)
      expect(Fs.readFileSync(outside, "utf8")).toBe("must stay\n")
      const notGzip = Path.join(dir, "r.log.1.gz")
      Fs.writeFileSync(notGzip, "plain text\n")
      const failed = yield* Effect.flip(textOf(yield* fs.openCompressed(notGzip)))
      expect(failed.message).toContain(`decompress ${notGzip}`)
    }).pipe(Effect.scoped)
  )
})
