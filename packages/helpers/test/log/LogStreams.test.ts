import { LogEntry, LogFifo, LogFraming, LogStreams } from "@docker-plugin-kit/helpers"
import type { LogDriver } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import { Data, Effect, Exit, Fiber, Logger, Scope } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-streams-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const info = (id: string): LogDriver.Info => ({
  Config: {},
  ContainerID: id.padEnd(64, "0"),
  ContainerName: "/c",
  ContainerEntrypoint: "sh",
  ContainerArgs: null,
  ContainerImageID: "sha256:0",
  ContainerImageName: "busybox",
  ContainerCreated: "2026-11-27T12:00:00Z",
  ContainerEnv: null,
  ContainerLabels: null,
  LogPath: "",
  DaemonName: "docker"
})

const entries = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) =>
    // Times of one varint size: every frame has the same size.
    LogEntry.make({ source: "stdout", timeNano: BigInt(1_000_000 + from + i), line: String(from + i).padStart(6, "0") })
  )

/** A sink that records what it got, and whether its scope closed. */
const recordingSink = () => {
  const got: Array<string> = []
  const state = { closed: false }
  const sink = () =>
    Effect.acquireRelease(
      Effect.succeed<LogStreams.Sink>({
        write: (batch) => Effect.sync(() => void got.push(...batch.map(LogEntry.lineText)))
      }),
      () =>
        Effect.sync(() => {
          state.closed = true
        })
    )
  return { got, state, sink }
}

/** A sink whose writes wait until `release` is called, recording the lines written. */
const gatedSink = () => {
  const got: Array<string> = []
  let release = () => {}
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const sink = () =>
    Effect.succeed<LogStreams.Sink>({
      write: (batch) =>
        Effect.promise(() => gate).pipe(Effect.andThen(Effect.sync(() => got.push(...batch.map(LogEntry.lineText)))))
    })
  return { got, release: () => release(), sink }
}

/** What one entry of `entries` costs in the buffer: its frame. */
const frameSize = LogFraming.encodeFrame(entries(1)[0]!).length

/** Streams entries 0 and 1, a message that runs past its frame, then entries 2 and 3 through `file`, and stops. */
const aroundCorrupt = (streams: LogStreams.LogStreams<unknown>, file: string, id: string) =>
  Effect.gen(function* () {
    const fifo = yield* LogFifo.create(file)
    yield* streams.start(file, info(id))
    yield* fifo.write(LogFraming.encodeFrames(entries(2)))
    yield* fifo.write(Uint8Array.of(0, 0, 0, 2, 0x0a, 0x05))
    yield* fifo.write(LogFraming.encodeFrames(entries(2, 2)))
    return yield* streams.stop(file)
  })

/** Runs `effect` with its log messages (and those of the fibers it starts) kept in `into` instead of printed. */
const keepingLogs = <A, E, R>(into: Array<string>, effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(
    effect,
    Logger.CurrentLoggers,
    new Set([
      Logger.make(
        ({ logLevel, message }) =>
          void into.push(`${logLevel}: ${Array.isArray(message) ? message.join(" ") : String(message)}`)
      )
    ])
  )

/** Polls until `done` holds, for at most a second. */
const eventually = (done: () => boolean) =>
  Effect.gen(function* () {
    for (let i = 0; i < 100 && !done(); i++) yield* Effect.sleep("10 millis")
  })

class Refused extends Data.TaggedError("Refused")<{ readonly message: string }> {}

describe("LogStreams", () => {
  it.live("stop answers once what was written before it is in the sink, without waiting for EOF", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { got, state, sink } = recordingSink()
      const streams = yield* LogStreams.make({ sink })
      const file = Path.join(dir, "a")
      const daemon = yield* Scope.make()
      const fifo = yield* LogFifo.create(file).pipe(Scope.provide(daemon))
      yield* streams.start(file, info("a"))
      // Written synchronously right before the stop: still in the pipe when StopLogging arrives.
      yield* fifo.write(LogFraming.encodeFrames(entries(2000)))
      const stats = yield* streams.stop(file)
      expect(stats).toMatchObject({ received: 2000, written: 2000, dropped: 0, failed: 0 })
      expect(got).toEqual(entries(2000).map(LogEntry.lineText))
      expect(yield* streams.stats).toEqual([])
      // The daemon closes its end after the answer: the stream finishes and the sink closes.
      expect(state.closed).toBe(false)
      yield* Scope.close(daemon, Exit.void)
      yield* Effect.sleep("100 millis")
      expect(state.closed).toBe(true)
    })
  )

  it.live("a stalled sink never blocks the writer: entries beyond the buffer are dropped and counted", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const streams = yield* LogStreams.make({
        sink: () => Effect.succeed<LogStreams.Sink>({ write: () => Effect.never }),
        buffer: { maxBytes: 1000 * frameSize, overflow: "drop-newest" },
        batchSize: 100,
        flushTimeout: "50 millis"
      })
      const file = Path.join(dir, "stalled")
      const fifo = yield* LogFifo.create(file)
      yield* streams.start(file, info("b"))
      const total = 100_000
      // Like the daemon in blocking mode: wait whenever the pipe is full. It must not stay full.
      for (let i = 0; i < total; i += 1000) yield* fifo.write(LogFraming.encodeFrames(entries(1000, i)))
      const stats = yield* streams.stop(file)
      expect(stats.received).toBe(total)
      expect(stats.written).toBe(0)
      // The first batch is stuck in the sink, the buffer holds its capacity, the rest is dropped.
      expect(stats.dropped).toBe(total - 1000 - 100)
    }).pipe(Effect.timeout("30 seconds"))
  )

  it.live("drop-oldest keeps the latest entries when the sink falls behind", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { got, release, sink } = gatedSink()
      const streams = yield* LogStreams.make({
        sink,
        buffer: { maxBytes: 10 * frameSize, overflow: "drop-oldest" },
        batchSize: 1
      })
      const file = Path.join(dir, "latest")
      const fifo = yield* LogFifo.create(file)
      yield* streams.start(file, info("c"))
      yield* fifo.write(LogFraming.encodeFrames(entries(1)))
      yield* Effect.sleep("50 millis")
      yield* fifo.write(LogFraming.encodeFrames(entries(100, 1)))
      yield* Effect.sleep("50 millis")
      release()
      const stats = yield* streams.stop(file)
      expect(stats.dropped).toBe(90)
      expect(got).toEqual(["000000", ...entries(10, 91).map(LogEntry.lineText)])
    })
  )

  it.live("a corrupt frame is reported, and the rest of the stream is drained, not left to block", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { got, sink } = recordingSink()
      const streams = yield* LogStreams.make({ sink, maxFrameSize: 64 })
      const file = Path.join(dir, "corrupt")
      const fifo = yield* LogFifo.create(file)
      yield* streams.start(file, info("d"))
      yield* fifo.write(LogFraming.encodeFrames(entries(3)))
      yield* fifo.write(Uint8Array.of(0, 1, 0, 0))
      yield* fifo.write(new Uint8Array(200_000))
      const stats = yield* streams.stop(file)
      expect(got).toEqual(entries(3).map(LogEntry.lineText))
      expect(stats.discardedBytes).toBe(200_004)
    })
  )

  it.live("an entry that is not a LogEntry is left out and counted; the entries after it still reach the sink", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { got, sink } = recordingSink()
      const streams = yield* LogStreams.make({ sink })
      const stats = yield* aroundCorrupt(streams, Path.join(dir, "bad-entry"), "i")
      expect(got).toEqual(entries(4).map(LogEntry.lineText))
      expect(stats).toMatchObject({ received: 5, written: 4, corrupt: 1, dropped: 0, discardedBytes: 0 })
    })
  )

  it.live("a sink with writeFrames gets the entries still framed, and its visits' corrupt entries are counted", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const got: Array<string> = []
      let plain = 0
      const streams = yield* LogStreams.make({
        sink: () =>
          Effect.succeed<LogStreams.Sink>({
            write: (batch) =>
              Effect.sync(() => {
                plain += batch.length
              }),
            writeFrames: (batch) =>
              Effect.sync(() => {
                batch.forEach((f) => {
                  got.push(Buffer.from(f.line.subarray(f.lineStart, f.lineEnd)).toString())
                })
              })
          })
      })
      const stats = yield* aroundCorrupt(streams, Path.join(dir, "frames"), "j")
      expect(got).toEqual(entries(4).map(LogEntry.lineText))
      expect(plain).toBe(0)
      expect(stats).toMatchObject({ received: 5, written: 4, corrupt: 1, dropped: 0 })
    })
  )

  it.live("start and stop name the file they refuse; a sink that fails to open fails the start", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { sink } = recordingSink()
      const streams = yield* LogStreams.make({ sink })
      const file = Path.join(dir, "twice")
      yield* LogFifo.create(file)
      yield* streams.start(file, info("e"))
      const again = yield* Effect.flip(streams.start(file, info("e")))
      expect(again.message).toBe(`already logging from ${file}`)
      const unknown = yield* Effect.flip(streams.stop(Path.join(dir, "nope")))
      expect(unknown.message).toBe(
        `not logging from File ${JSON.stringify(Path.join(dir, "nope"))} (no StartLogging for it, or stopped already)`
      )
      const missing = yield* Effect.flip(streams.start(Path.join(dir, "missing"), info("f")))
      expect(missing.message).toMatch(/^open .*missing: ENOENT/)

      const refusing = yield* LogStreams.make({ sink: () => Effect.fail(new Refused({ message: "no room" })) })
      const other = Path.join(dir, "refused")
      yield* LogFifo.create(other)
      expect((yield* Effect.flip(refusing.start(other, info("g")))).message).toBe("no room")
      expect(yield* refusing.stats).toEqual([])
      // Nothing was left open: the file can be started again once the sink opens.
      const invalid = yield* Effect.flip(LogStreams.make({ sink, buffer: { maxBytes: -1, overflow: "drop-newest" } }))
      expect(invalid.message).toMatch(/size must be a positive number of bytes/)
    })
  )

  it.live("two StartLogging of one file at once: one starts, the other is refused, and nothing is left running", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const opened = { sinks: 0, closed: 0 }
      // A sink that takes a while to open (a file to create, a connection to make), as a real one does.
      const sink = () =>
        Effect.acquireRelease(
          Effect.as(Effect.sleep("20 millis"), {
            write: () => Effect.void
          } satisfies LogStreams.Sink),
          () => Effect.sync(() => void opened.closed++)
        ).pipe(Effect.tap(() => Effect.sync(() => void opened.sinks++)))
      const streams = yield* LogStreams.make({ sink })
      const file = Path.join(dir, "racing")
      yield* LogFifo.create(file)
      const [first, second] = yield* Effect.all(
        [Effect.exit(streams.start(file, info("r"))), Effect.exit(streams.start(file, info("r")))],
        {
          concurrency: "unbounded"
        }
      )
      expect([first, second].filter(Exit.isSuccess)).toHaveLength(1)
      const refused = [first, second].find(Exit.isFailure)
      expect(refused && Exit.findErrorOption(refused)).toMatchObject({ value: { _tag: "StreamAlreadyStarted", file } })
      expect(opened.sinks).toBe(1)
      // The one that started is the one a stop finds.
      yield* streams.stop(file)
      expect(yield* streams.stats).toEqual([])
    })
  )

  it.live("closing the lifecycle's scope stops every stream and closes their sinks", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { got, state, sink } = recordingSink()
      const scope = yield* Scope.make()
      const streams = yield* LogStreams.make({ sink }).pipe(Scope.provide(scope))
      const file = Path.join(dir, "shutdown")
      const fifo = yield* LogFifo.create(file)
      yield* streams.start(file, info("h"))
      yield* fifo.write(LogFraming.encodeFrames(entries(5)))
      yield* Effect.sleep("50 millis")
      expect((yield* streams.stats).map((s) => s.received)).toEqual([5])
      yield* Scope.close(scope, Exit.void)
      expect(state.closed).toBe(true)
      expect(got).toHaveLength(5)
    })
  )
  it.live(
    "a FIFO that reaches EOF with no StopLogging is finished as a stop would; a late stop answers its counters",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const { got, state, sink } = recordingSink()
        const streams = yield* LogStreams.make({ sink })
        const file = Path.join(dir, "unstopped")
        const daemon = yield* Scope.make()
        const fifo = yield* LogFifo.create(file).pipe(Scope.provide(daemon))
        yield* streams.start(file, info("u"))
        yield* fifo.write(LogFraming.encodeFrames(entries(3)))
        // The daemon closes its end without a StopLogging (it crashed, or gave up on the stop).
        yield* Scope.close(daemon, Exit.void)
        yield* eventually(() => state.closed)
        expect(state.closed).toBe(true)
        expect(got).toEqual(entries(3).map(LogEntry.lineText))
        expect(yield* streams.stats).toEqual([])
        // The stop that comes late is answered as if it had come in time; a second one is refused, as always.
        const stats = yield* streams.stop(file)
        expect(stats).toMatchObject({ file, received: 3, written: 3, dropped: 0, failed: 0, discardedBytes: 0 })
        const again = yield* Effect.flip(streams.stop(file))
        expect(again._tag).toBe("StreamNotStarted")
      })
  )

  it.live("a stop that comes while an unstopped stream is finishing waits for the sink", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { got, release, sink } = gatedSink()
      const streams = yield* LogStreams.make({ sink })
      const file = Path.join(dir, "finishing")
      const daemon = yield* Scope.make()
      const fifo = yield* LogFifo.create(file).pipe(Scope.provide(daemon))
      yield* streams.start(file, info("w"))
      yield* fifo.write(LogFraming.encodeFrames(entries(5)))
      yield* Scope.close(daemon, Exit.void)
      // The stop comes while the sink still holds the entries read before EOF: it answers once they are written.
      yield* Effect.sleep("50 millis")
      const stopping = yield* Effect.forkChild(streams.stop(file))
      yield* Effect.sleep("50 millis")
      expect(stopping.pollUnsafe()).toBeUndefined()
      release()
      const stats = yield* Fiber.join(stopping)
      expect(stats).toMatchObject({ received: 5, written: 5 })
      expect(got).toEqual(entries(5).map(LogEntry.lineText))
    })
  )

  it.live("a frame cut short by EOF is logged and counted as discarded, like other framing errors", () => {
    const logs: Array<string> = []
    return keepingLogs(
      logs,
      Effect.gen(function* () {
        const dir = yield* tempDir
        const { got, state, sink } = recordingSink()
        const streams = yield* LogStreams.make({ sink })
        const file = Path.join(dir, "truncated")
        const daemon = yield* Scope.make()
        const fifo = yield* LogFifo.create(file).pipe(Scope.provide(daemon))
        yield* streams.start(file, info("t"))
        const [a, b] = entries(2).map(LogFraming.encodeFrame)
        yield* fifo.write(new Uint8Array([...a!, ...b!.subarray(0, 7)]))
        yield* Scope.close(daemon, Exit.void)
        yield* eventually(() => state.closed)
        // Its counters, answered by the stop that comes after EOF, count the partial frame's bytes.
        const stats = yield* streams.stop(file)
        expect(stats).toMatchObject({ received: 1, written: 1, discardedBytes: 7 })
        expect(got).toEqual(entries(1).map(LogEntry.lineText))
        expect(logs).toEqual([
          `Error: log stream of container ${"t".padEnd(12, "0")}: log stream ended inside a frame (7 of ${b!.length} bytes); the partial entry is discarded`
        ])
      })
    )
  })
})
