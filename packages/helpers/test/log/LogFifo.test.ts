import { LogEntry, LogFifo, LogFraming } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope, Stream } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-fifo-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const entry = (i: number) => LogEntry.make({ source: "stdout", timeNano: BigInt(i), line: `line ${i}` })

describe("LogFifo", () => {
  it.live("reads framed entries until the daemon's end closes", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = Path.join(dir, "fifo")
      const daemon = yield* Scope.make()
      const writer = yield* LogFifo.create(path).pipe(Scope.provide(daemon))
      expect(Fs.statSync(path).mode & 0o777).toBe(0o700)
      const reading = yield* Effect.forkChild(Stream.runCollect(LogFifo.entries(path)))
      yield* writer.write(LogFraming.encodeFrames([entry(1), entry(2)]))
      // A frame cut in two writes still arrives whole.
      const third = LogFraming.encodeFrame(entry(3))
      yield* writer.write(third.subarray(0, 5))
      yield* Effect.sleep("20 millis")
      yield* writer.write(third.subarray(5))
      // The daemon closes its end (and removes the FIFO): the stream ends.
      yield* Scope.close(daemon, Exit.void)
      const entries = yield* Fiber.join(reading)
      expect(entries.map(LogEntry.lineText)).toEqual(["line 1", "line 2", "line 3"])
      expect(Fs.existsSync(path)).toBe(false)
    })
  )

  it.live("opening never waits, even with no writer, and refuses what is not a FIFO", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = Path.join(dir, "file")
      Fs.writeFileSync(file, "x")
      const notFifo = yield* Stream.runCollect(LogFifo.bytes(file)).pipe(Effect.flip)
      expect(notFifo.message).toBe(`open ${file}: not a FIFO`)
      const missing = yield* Stream.runCollect(LogFifo.bytes(Path.join(dir, "missing"))).pipe(Effect.flip)
      expect(missing.message).toMatch(/^open .*missing: ENOENT/)
      const target = Path.join(dir, "fifo")
      yield* LogFifo.create(target)
      const link = Path.join(dir, "link")
      Fs.symlinkSync(target, link)
      const viaLink = yield* Stream.runCollect(LogFifo.bytes(link)).pipe(Effect.flip)
      expect(viaLink.message).toBe(`open ${link}: not a FIFO`)
      // A FIFO nobody has opened for writing yet: opening for reading does not wait for a writer.
      const lonely = Path.join(dir, "lonely")
      ChildProcess.execFileSync("mkfifo", [lonely])
      const reading = yield* Effect.forkChild(Stream.runCollect(LogFifo.bytes(lonely)))
      yield* Effect.sleep("50 millis")
      const fd = Fs.openSync(lonely, Fs.constants.O_WRONLY | Fs.constants.O_NONBLOCK)
      Fs.writeSync(fd, "abc")
      Fs.closeSync(fd)
      expect(Buffer.concat(yield* Fiber.join(reading)).toString()).toBe("abc")
    })
  )

  it.live("drain hands over what the pipe holds before returning", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = Path.join(dir, "fifo")
      const writer = yield* LogFifo.create(path)
      const seen: Array<number> = []
      const reader = yield* LogFifo.open(path, { onChunk: (c) => seen.push(c.length), onEnd: () => {} })
      // Synchronously: write, then drain; no event-loop turn in between.
      const total = writer.tryWrite(new Uint8Array(30_000))
      reader.drain()
      expect(seen.reduce((a, b) => a + b, 0)).toBe(total)
      expect(total).toBe(30_000)
    })
  )

  it.live(
    "after the end, drain reads nothing more: not the descriptor number, which another file may have by then",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const path = Path.join(dir, "fifo")
        const daemon = yield* Scope.make()
        const writer = yield* LogFifo.create(path).pipe(Scope.provide(daemon))
        const chunks: Array<string> = []
        const ends: Array<string> = []
        const reader = yield* LogFifo.open(path, {
          onChunk: (c) => chunks.push(Buffer.from(c).toString()),
          onEnd: (error) => ends.push(error === undefined ? "eof" : error.message)
        })
        writer.tryWrite(Buffer.from("before"))
        yield* Scope.close(daemon, Exit.void)
        for (let i = 0; i < 100 && ends.length === 0; i++) yield* Effect.sleep("10 millis")
        expect(ends).toEqual(["eof"])
        // The reader's descriptor is closed: the next files opened take the lowest free numbers, its own among them.
        const other = Path.join(dir, "other")
        Fs.writeFileSync(other, "not the container's output")
        const fds = Array.from({ length: 8 }, () => Fs.openSync(other, "r"))
        try {
          reader.drain()
        } finally {
          for (const fd of fds) Fs.closeSync(fd)
        }
        expect(chunks.join("")).toBe("before")
        expect(ends).toEqual(["eof"])
      }).pipe(Effect.scoped)
  )

  it("leaves the pipe for as long as it takes to get half full at the rate it fills, within the bound", () => {
    // 16 KiB in 2 ms: half the 64 KiB pipe in another 4 ms.
    expect(LogFifo.coalesceWait(10, 2, 16 * 1024)).toBe(4)
    // A slow writer: the bound.
    expect(LogFifo.coalesceWait(10, 2, 100)).toBe(10)
    expect(LogFifo.coalesceWait(10, 50, 0)).toBe(10)
    // A pipe found three quarters full, a wait under a millisecond, or coalescing off: read again at once.
    expect(LogFifo.coalesceWait(10, 2, 48 * 1024)).toBe(0)
    expect(LogFifo.coalesceWait(10, 0.5, 20 * 1024)).toBe(0)
    expect(LogFifo.coalesceWait(0, 2, 100)).toBe(0)
  })
})
