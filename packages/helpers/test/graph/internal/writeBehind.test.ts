import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as WriteBehind from "../../../src/graph/internal/writeBehind.ts"
import { tempDir } from "../support.ts"

/** Whether descriptor `fd` is still open on `path` in this process. */
const openOn = (fd: number, path: string) => {
  try {
    return Fs.readlinkSync(`/proc/self/fd/${fd}`) === path
  } catch {
    return false
  }
}

const newFile = (dir: string, name: string, flags = "wx") => {
  const path = Path.join(dir, name)
  return { path, fd: Fs.openSync(path, flags, 0o600) }
}

const mtime = new Date("2024-05-06T07:08:09.5Z")

/** A new file in `dir` handed over to `session` with `body` queued, left unfinished. */
const startFile = (session: WriteBehind.Session, dir: string, name: string, body: string) => {
  const f = newFile(dir, name)
  session.begin(f.fd, f.path)
  session.write(f.fd, Buffer.from(body))
  return f
}

/** Queues a whole file on `session`: `fd` handed over, each of `chunks` written, then finished with mode 0644. */
const queueFile = (session: WriteBehind.Session, f: { fd: number; path: string }, ...chunks: Array<Uint8Array>) => {
  session.begin(f.fd, f.path)
  for (const chunk of chunks) session.write(f.fd, chunk)
  session.finish(f.fd, false, 0, 0, 0o644, mtime)
}

describe("writeBehind.Session", () => {
  it.effect("writes bodies across batches and past the pending bound, then owner, mode and time, and closes", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const session = new WriteBehind.Session()
      // A body larger than the pending bound (the main thread has to wait for the thread), in uneven chunks.
      const big = Buffer.alloc(WriteBehind.maxPendingBytes + 3 * WriteBehind.batchBytes + 11)
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 12)) & 0xff
      const a = newFile(dir, "a")
      session.begin(a.fd, a.path)
      for (let at = 0; at < big.length; at += 70_001) session.write(a.fd, big.subarray(at, at + 70_001))
      session.finish(a.fd, false, 0, 0, 0o640, mtime)
      // Many small files in one batch.
      const small = Array.from({ length: 300 }, (_, i) => newFile(dir, `s${i}`))
      for (const [i, f] of small.entries()) {
        session.begin(f.fd, f.path)
        session.write(f.fd, Buffer.from(`file ${i}`))
        session.finish(f.fd, false, 0, 0, 0o604, mtime)
      }
      expect(session.drain()).toBeUndefined()
      expect(Fs.readFileSync(a.path).equals(big)).toBe(true)
      const stat = Fs.statSync(a.path)
      expect([stat.mode & 0o7777, stat.mtime.getTime()]).toEqual([0o640, mtime.getTime()])
      expect(openOn(a.fd, a.path)).toBe(false)
      for (const [i, f] of small.entries()) {
        expect(Fs.readFileSync(f.path, "utf8")).toBe(`file ${i}`)
        expect(Fs.statSync(f.path).mode & 0o7777).toBe(0o604)
        expect(openOn(f.fd, f.path)).toBe(false)
      }
    })
  )

  it.effect("sets a modification time before 1970 as it is (a negative number of seconds is not now)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const session = new WriteBehind.Session()
      const old = new Date(-1_000_000_500)
      const f = newFile(dir, "old")
      session.begin(f.fd, f.path)
      session.finish(f.fd, false, 0, 0, 0o644, old)
      expect(session.drain()).toBeUndefined()
      expect(Fs.statSync(f.path).mtime.getTime()).toBe(old.getTime())
    })
  )

  it.effect("copies each chunk when it is queued: the caller may reuse its memory at once", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const session = new WriteBehind.Session()
      const f = newFile(dir, "f")
      const chunk = Buffer.from("first")
      session.begin(f.fd, f.path)
      session.write(f.fd, chunk)
      chunk.write("XXXXX")
      session.write(f.fd, Buffer.from("+second"))
      session.finish(f.fd, false, 0, 0, 0o644, mtime)
      expect(session.drain()).toBeUndefined()
      expect(Fs.readFileSync(f.path, "utf8")).toBe("first+second")
    })
  )

  it.effect("a failed write is reported with its operation and path, and the descriptor is still closed", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const session = new WriteBehind.Session()
      Fs.writeFileSync(Path.join(dir, "read-only"), "")
      const bad = newFile(dir, "read-only", "r")
      const good = newFile(dir, "good")
      queueFile(session, bad, Buffer.from("cannot"), Buffer.from("skipped"))
      queueFile(session, good, Buffer.from("fine"))
      const failure = session.drain()
      expect(failure?._tag).toBe("LayerIoError")
      expect([failure?.operation, failure?.path]).toEqual(["write", bad.path])
      expect(failure?.message).toContain("EBADF")
      expect(openOn(bad.fd, bad.path)).toBe(false)
      // The other files of the batch are written as usual.
      expect(Fs.readFileSync(good.path, "utf8")).toBe("fine")
    })
  )

  it.effect("close without finish: the descriptor is closed and the file keeps its creation mode", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const session = new WriteBehind.Session()
      const f = startFile(session, dir, "cut", "half")
      session.close(f.fd)
      expect(session.drain()).toBeUndefined()
      expect(openOn(f.fd, f.path)).toBe(false)
      expect(Fs.readFileSync(f.path, "utf8")).toBe("half")
      expect(Fs.statSync(f.path).mode & 0o7777).toBe(0o600)
    })
  )

  it.effect("a failure belongs to its session: another session's drain does not report it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const failing = new WriteBehind.Session()
      const other = new WriteBehind.Session()
      Fs.writeFileSync(Path.join(dir, "read-only"), "")
      const bad = newFile(dir, "read-only", "r")
      // More than a batch: it goes to the thread now, before the other session's.
      queueFile(failing, bad, Buffer.alloc(WriteBehind.batchBytes + 1))
      queueFile(other, newFile(dir, "f"), Buffer.from("y"))
      // The other's drain waits past the failing session's first batch, which has failed by then.
      expect(other.drain()).toBeUndefined()
      expect(failing.failure()?.path).toBe(bad.path)
      expect(failing.drain()?.path).toBe(bad.path)
    })
  )

  it.effect(
    "a thread that stops on an error of its own fails the session instead of hanging it; the next starts anew",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const session = new WriteBehind.Session()
        const f = startFile(session, dir, "f", "x")
        // A message the thread cannot read: it throws outside any call's own error handling.
        ;(
          session as unknown as { thread: { worker: { postMessage: (m: unknown) => void } } }
        ).thread.worker.postMessage("not a batch")
        const failure = session.drain()
        expect(failure?._tag).toBe("LayerIoError")
        expect(failure?.message).toContain("it stopped")
        Fs.closeSync(f.fd)
        const next = new WriteBehind.Session()
        const g = newFile(dir, "g")
        queueFile(next, g, Buffer.from("fine"))
        expect(next.drain()).toBeUndefined()
        expect(Fs.readFileSync(g.path, "utf8")).toBe("fine")
      })
  )
})
