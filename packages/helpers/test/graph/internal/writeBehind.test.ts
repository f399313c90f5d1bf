import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { WriteBehind } from "../../../src/graph/internal/writeBehind.ts"
import type { Hold } from "../../../src/graph/TarStream.ts"
import { tempDir } from "../support.ts"

const KiB = 1024
const open = (path: string) => Fs.openSync(path, "wx", 0o600)
const isClosed = (fd: number) => {
  try {
    Fs.fstatSync(fd)
    return false
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EBADF"
  }
}
/** Waits until `hold` lets go (at once without one). */
const released = (hold: Hold | undefined) =>
  hold === undefined ? Effect.void : Effect.callback<void>((resume) => hold(() => resume(Effect.void)))

describe("WriteBehind", () => {
  it.effect("writes batches and a small tail at their places, then finishes and closes each file", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const writes = new WriteBehind()
      const content = Crypto.randomBytes(900 * KiB + 17)
      const big = writes.file(open(Path.join(dir, "big")), "big")
      for (let at = 0; at < content.length; at += 60 * KiB + 3) {
        yield* released(big.write(content.subarray(at, at + 60 * KiB + 3)))
      }
      const small = writes.file(open(Path.join(dir, "small")), "small")
      small.write(Buffer.from("tiny"))
      const finished: Array<string> = []
      big.end(() => finished.push(`big at ${Fs.fstatSync(big.fd).size}`))
      small.end(() => finished.push(`small at ${Fs.fstatSync(small.fd).size}`))
      yield* writes.drain
      // Each file's closing steps ran once all its content was on disk.
      expect(finished.sort()).toEqual([`big at ${content.length}`, "small at 4"])
      expect(Fs.readFileSync(Path.join(dir, "big")).equals(content)).toBe(true)
      expect(Fs.readFileSync(Path.join(dir, "small"), "utf8")).toBe("tiny")
      expect([isClosed(big.fd), isClosed(small.fd)]).toEqual([true, true])
    })
  )

  it.effect("a write that fails behind fails the drain naming the file, skips its closing steps and closes it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      Fs.writeFileSync(Path.join(dir, "read-only"), "")
      const writes = new WriteBehind()
      const file = writes.file(Fs.openSync(Path.join(dir, "read-only"), "r"), "usr/lib/big")
      file.write(Buffer.alloc(300 * KiB))
      let finished = false
      file.end(() => {
        finished = true
      })
      const error = yield* Effect.flip(writes.drain)
      expect(error).toMatchObject({ _tag: "LayerIoError", operation: "write", path: "usr/lib/big" })
      expect(finished).toBe(false)
      expect(isClosed(file.fd)).toBe(true)
      // The next entry is refused with the same failure.
      expect(() => writes.check()).toThrow(error)
    })
  )

  it.effect("a small file written at once that fails is reported by the next check", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      Fs.writeFileSync(Path.join(dir, "read-only"), "")
      const writes = new WriteBehind()
      const file = writes.file(Fs.openSync(Path.join(dir, "read-only"), "r"), "etc/motd")
      file.write(Buffer.from("hello"))
      file.end(() => {})
      expect(() => writes.check()).toThrow(/etc\/motd/)
      expect(isClosed(file.fd)).toBe(true)
    })
  )

  it.effect("holds the reader once maxBytes are behind, until half of them are written", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const writes = new WriteBehind(512 * KiB, 64)
      const file = writes.file(open(Path.join(dir, "f")), "f")
      expect(file.write(Buffer.alloc(256 * KiB, 1))).toBeUndefined()
      const hold = file.write(Buffer.alloc(256 * KiB, 2))
      expect(hold).toBeTypeOf("function")
      expect(writes.full).toBe(true)
      yield* released(hold)
      expect(writes.full).toBe(false)
      file.end(() => {})
      yield* writes.drain
      expect(Fs.statSync(Path.join(dir, "f")).size).toBe(512 * KiB)
    })
  )

  it.effect("holds the reader while maxFiles files are open; an ended file gives its place back", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const writes = new WriteBehind(4096 * KiB, 2)
      const a = writes.file(open(Path.join(dir, "a")), "a")
      expect(writes.full).toBe(false)
      const b = writes.file(open(Path.join(dir, "b")), "b")
      expect(writes.full).toBe(true)
      let roomed = false
      const waiting = yield* Effect.forkChild(Effect.tap(writes.room, () => Effect.sync(() => (roomed = true))))
      yield* Effect.yieldNow
      expect(roomed).toBe(false)
      a.end(() => {})
      b.end(() => {})
      yield* Fiber.join(waiting)
      expect(roomed).toBe(true)
      expect(writes.full).toBe(false)
    })
  )
})
