/**
 * log-file driven by the fake daemon's logging sequences, in-process, over memory files (and once on disk).
 */
import { LogFile, LogFiles, LogFilesMemory, LogRecord } from "@docker-plugin-kit/drivers"
import { LogEntry, LogFifo, LogFraming, type LogStreams } from "@docker-plugin-kit/helpers"
import { LogDriver } from "@docker-plugin-kit/protocol"
import { InProcess, LogSequences, SocketHarness } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Zlib from "node:zlib"

const dir = "/logs"
const texts = (entries: ReadonlyArray<LogEntry.LogEntry>) => entries.map(LogEntry.lineText)

/** The driver over fresh memory files, a client, and a fake daemon with its FIFO folder. */
const setup = (options: LogFile.Options = {}, files: LogFilesMemory.Options = {}) =>
  Effect.gen(function* () {
    const memory = LogFilesMemory.make(files)
    const layer = LogFile.layer({ dir, ...options }).pipe(Layer.provide(LogFilesMemory.layerOf(memory)))
    const plugin = yield* InProcess.make(layer)
    const daemon = yield* LogSequences.make(plugin.client, { fifoDir: yield* SocketHarness.tempFolder })
    const records = (id: string, suffix = "") =>
      (memory.contents().get(`${dir}/${id}.log${suffix}`) ?? "")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as { log: string; stream: string; time: string })
    return { memory, daemon, records, plugin }
  })

describe("log-file", () => {
  it.live("stdout and stderr lines land in the container's file with their stream and time", () =>
    Effect.gen(function* () {
      const { daemon, records } = yield* setup()
      const logging = yield* daemon.run()
      expect(logging.start.error).toBeUndefined()
      expect(logging.readLogs).toBe(true)
      yield* logging.print("stdout", ["hello", "wörld"])
      yield* logging.print("stderr", ['oops "quoted"'])
      const stop = yield* logging.stop
      expect(stop.error).toBeUndefined()
      const written = records(logging.info.ContainerID)
      expect(written.map((r) => [r.stream, r.log])).toEqual([
        ["stdout", "hello\n"],
        ["stdout", "wörld\n"],
        ["stderr", 'oops "quoted"\n']
      ])
      expect(written[0]?.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/)
    })
  )

  it.live("docker logs of a stopped container reads everything back, --tail and --since included", () =>
    Effect.gen(function* () {
      const { daemon } = yield* setup()
      const logging = yield* daemon.run()
      const t0 = 1_764_244_800_000_000_000n
      const second = 1_000_000_000n
      yield* logging.write([
        ...LogSequences.entriesOf("stdout", "one", t0),
        ...LogSequences.entriesOf("stderr", "two", t0 + second),
        ...LogSequences.entriesOf("stdout", "three", t0 + 2n * second)
      ])
      yield* logging.stop
      const all = yield* daemon.logsStopped(logging.info)
      expect(all.error).toBeUndefined()
      expect(all.calls.map((c) => c.step)).toEqual(["Capabilities", "StartLogging", "ReadLogs", "StopLogging"])
      expect(texts(all.entries)).toEqual(["one\n", "two\n", "three\n"])
      expect(all.entries.map((e) => e.source)).toEqual(["stdout", "stderr", "stdout"])
      expect(texts((yield* daemon.logsStopped(logging.info, { Tail: 1 })).entries)).toEqual(["three\n"])
      expect((yield* daemon.logsStopped(logging.info, { Tail: 0 })).entries).toEqual([])
      const since = yield* daemon.logsStopped(logging.info, { Since: "2025-11-27T12:00:01Z" })
      expect(texts(since.entries)).toEqual(["two\n", "three\n"])
      const until = yield* daemon.logsStopped(logging.info, { Until: "2025-11-27T12:00:01Z" })
      expect(texts(until.entries)).toEqual(["one\n", "two\n"])
      const both = yield* daemon.logsStopped(logging.info, { Since: "2025-11-27T12:00:01Z", Tail: 1 })
      expect(texts(both.entries)).toEqual(["three\n"])
      // Tail counts back from Until: the last entry up to 12:00:01. json-file takes the last entry of the file
      // first and then stops at Until, which answers nothing here (README, docker logs).
      const upTo = yield* daemon.logsStopped(logging.info, { Until: "2025-11-27T12:00:01Z", Tail: 1 })
      expect(texts(upTo.entries)).toEqual(["two\n"])
    })
  )

  it.live("a second start of the container appends to its file", () =>
    Effect.gen(function* () {
      const { daemon, records } = yield* setup()
      const container = LogSequences.info()
      const first = yield* daemon.run(container)
      yield* first.print("stdout", ["first run"])
      yield* first.stop
      const second = yield* daemon.run(container)
      expect(second.file).not.toBe(first.file)
      yield* second.print("stdout", ["second run"])
      yield* second.stop
      expect(records(container.ContainerID).map((r) => r.log)).toEqual(["first run\n", "second run\n"])
      expect(texts((yield* daemon.logsStopped(container)).entries)).toEqual(["first run\n", "second run\n"])
    })
  )

  it.live("a long line arrives in chunks and is read back whole", () =>
    Effect.gen(function* () {
      const { daemon, records } = yield* setup()
      const logging = yield* daemon.run()
      const long = "x".repeat(LogSequences.chunkSize * 2 + 10)
      yield* logging.print("stdout", [long, "after"])
      yield* logging.stop
      expect(records(logging.info.ContainerID).map((r) => r.log.length)).toEqual([
        LogSequences.chunkSize,
        LogSequences.chunkSize,
        11,
        6
      ])
      expect(texts((yield* daemon.logsStopped(logging.info)).entries).join("")).toBe(`${long}\nafter\n`)
    })
  )

  /** A container printing `line 000` to `line 099` with these options, stopped: its files, and a check of its logs. */
  const hundredLines = (Config: Record<string, string>) =>
    Effect.gen(function* () {
      const { daemon, memory } = yield* setup()
      const logging = yield* daemon.run(LogSequences.info({ Config }))
      const lines = Array.from({ length: 100 }, (_, i) => `line ${String(i).padStart(3, "0")}`)
      for (const line of lines) yield* logging.print("stdout", [line])
      yield* logging.stop
      const id = logging.info.ContainerID
      const names = () => [...memory.contents().keys()].filter((p) => p.includes(id)).sort()
      /** The oldest lines were rotated away; what docker logs shows is the end of the output, in order. */
      const expectTail = Effect.gen(function* () {
        const back = texts((yield* daemon.logsStopped(logging.info)).entries)
        expect(back.length).toBeGreaterThan(20)
        expect(back).toEqual(lines.slice(-back.length).map((l) => `${l}\n`))
      })
      return { memory, id, names, expectTail }
    })

  it.live("rotation keeps at most max-file files, and docker logs reads across them", () =>
    Effect.gen(function* () {
      const { memory, id, names, expectTail } = yield* hundredLines({ "max-size": "1k", "max-file": "3" })
      expect(names()).toEqual([`${dir}/${id}.log`, `${dir}/${id}.log.1`, `${dir}/${id}.log.2`])
      for (const name of names()) expect(memory.contents().get(name)!.length).toBeLessThanOrEqual(1024)
      yield* expectTail
    })
  )

  it.live("with compress, rotated files are gzip, and docker logs reads across them in order", () =>
    Effect.gen(function* () {
      const { memory, id, names, expectTail } = yield* hundredLines({
        "max-size": "1k",
        "max-file": "3",
        compress: "true"
      })
      // The last rotation's compression runs beside the writes: wait for it.
      for (let i = 0; i < 100 && names().includes(`${dir}/${id}.log.1`); i++) yield* Effect.sleep("10 millis")
      expect(names()).toEqual([`${dir}/${id}.log`, `${dir}/${id}.log.1.gz`, `${dir}/${id}.log.2.gz`])
      const rotated = yield* Effect.scoped(memory.open(`${dir}/${id}.log.1.gz`))
      const raw = Buffer.concat(yield* Effect.scoped(Stream.runCollect(rotated!.read(rotated!.size))))
      const plain = Zlib.gunzipSync(raw).toString("utf8")
      expect(plain.length).toBeLessThanOrEqual(1024)
      expect(JSON.parse(plain.split("\n")[0]!).log).toMatch(/^line \d{3}\n$/)
      yield* expectTail
    })
  )

  it.live("compressed files an earlier compress=true left rotate away with their generation once it is off", () =>
    Effect.gen(function* () {
      const { daemon, memory } = yield* setup()
      const id = "d".repeat(64)
      const base = `${dir}/${id}.log`
      const runWith = (Config: Record<string, string>, prefix: string) =>
        Effect.gen(function* () {
          const logging = yield* daemon.run(LogSequences.info({ ContainerID: id, Config }))
          for (let i = 0; i < 100; i++) yield* logging.print("stdout", [`${prefix} ${String(i).padStart(3, "0")}`])
          yield* logging.stop
          return logging.info
        })
      yield* runWith({ "max-size": "1k", "max-file": "3", compress: "true" }, "zipped")
      for (let i = 0; i < 100 && memory.contents().has(`${base}.1`); i++) yield* Effect.sleep("10 millis")
      expect(memory.contents().has(`${base}.2.gz`)).toBe(true)
      const info = yield* runWith({ "max-size": "1k", "max-file": "3" }, "plain")
      const names = [...memory.contents().keys()].filter((p) => p.startsWith(base)).sort()
      expect(names).toEqual([base, `${base}.1`, `${base}.2`])
      const back = texts((yield* daemon.logsStopped(info)).entries)
      expect(back.length).toBeGreaterThan(20)
      const plain = Array.from({ length: 100 }, (_, i) => `plain ${String(i).padStart(3, "0")}\n`)
      expect(back).toEqual(plain.slice(-back.length))
    })
  )

  it.live("a generation left uncompressed (a compression cut short) is read in its place, in order", () =>
    Effect.gen(function* () {
      const { daemon, memory } = yield* setup()
      const info = LogSequences.info({ ContainerID: "c".repeat(64) })
      const base = `${dir}/${info.ContainerID}.log`
      const put = (path: string, line: string) =>
        Effect.scoped(
          Effect.flatMap(memory.openAppend(path), (file) =>
            file.write(new TextEncoder().encode(`${LogRecord.encode(LogSequences.entriesOf("stdout", line)[0]!)}\n`))
          )
        )
      yield* put(`${base}.3`, "oldest")
      yield* memory.compress(`${base}.3`, `${base}.3.gz`)
      yield* put(`${base}.2`, "older, left uncompressed")
      yield* put(`${base}.1`, "newer")
      yield* memory.compress(`${base}.1`, `${base}.1.gz`)
      yield* put(base, "current")
      const back = texts((yield* daemon.logsStopped(info)).entries)
      expect(back).toEqual(["oldest\n", "older, left uncompressed\n", "newer\n", "current\n"])
    })
  )

  it.live("a rotated file that cannot be read whole (a corrupt gzip) is skipped; the newer files are still read", () =>
    Effect.gen(function* () {
      const { daemon, memory } = yield* setup()
      const info = LogSequences.info({ ContainerID: "f".repeat(64) })
      const base = `${dir}/${info.ContainerID}.log`
      const put = (path: string, bytes: Uint8Array) =>
        Effect.scoped(Effect.flatMap(memory.openAppend(path), (file) => file.write(bytes)))
      const record = (line: string) =>
        new TextEncoder().encode(LogRecord.encode(LogSequences.entriesOf("stdout", line)[0]!))
      yield* put(`${base}.3`, record("oldest"))
      yield* memory.compress(`${base}.3`, `${base}.3.gz`)
      // A gzip whose data is damaged after its header: opening it works, reading it fails part of the way.
      const whole = Zlib.gzipSync(Buffer.from(LogRecord.encode(LogSequences.entriesOf("stdout", "damaged")[0]!)))
      yield* put(`${base}.2.gz`, Uint8Array.from([...whole.subarray(0, 12), ...Buffer.from("not deflate data")]))
      yield* put(`${base}.1`, record("newer"))
      yield* put(base, record("current"))
      const read = yield* daemon.logsStopped(info)
      expect(read.error).toBeUndefined()
      expect(texts(read.entries)).toEqual(["oldest\n", "newer\n", "current\n"])
    })
  )

  it.live("a record whose time a LogEntry cannot carry is left out; docker logs still shows the others", () =>
    Effect.gen(function* () {
      const { daemon, memory } = yield* setup()
      const info = LogSequences.info({ ContainerID: "d".repeat(64) })
      const record = (log: string, time: string) => JSON.stringify({ log, stream: "stdout", time })
      const file = [
        record("before\n", "2025-11-27T12:00:00Z"),
        // Go's zero time and a year past 2262: outside int64 nanoseconds, which `time_nano` is.
        record("zero time\n", "0001-01-01T00:00:00Z"),
        record("far future\n", "9999-12-31T23:59:59Z"),
        record("after\n", "2025-11-27T12:00:01Z")
      ]
      yield* Effect.scoped(
        Effect.flatMap(memory.openAppend(`${dir}/${info.ContainerID}.log`), (f) =>
          f.write(new TextEncoder().encode(`${file.join("\n")}\n`))
        )
      )
      const read = yield* daemon.logsStopped(info)
      expect(read.error).toBeUndefined()
      expect(texts(read.entries)).toEqual(["before\n", "after\n"])
    })
  )

  it.live("a torn last record (a crash or a full disk mid-write) does not swallow the next one appended", () =>
    Effect.gen(function* () {
      const { daemon, memory } = yield* setup()
      const info = LogSequences.info({ ContainerID: "e".repeat(64) })
      const whole = LogRecord.encode(LogSequences.entriesOf("stdout", "before", 1_764_244_800_000_000_000n)[0]!)
      // The plugin died while writing a record: the file ends inside it, with no newline.
      yield* Effect.scoped(
        Effect.flatMap(memory.openAppend(`${dir}/${info.ContainerID}.log`), (f) =>
          f.write(new TextEncoder().encode(`${whole}{"log":"torn`))
        )
      )
      const logging = yield* daemon.run(info)
      yield* logging.print("stdout", ["after"])
      yield* logging.stop
      const read = yield* daemon.logsStopped(info)
      expect(read.error).toBeUndefined()
      expect(texts(read.entries)).toEqual(["before\n", "after\n"])
    })
  )

  it.live("labels, env and tag are kept in each record's attrs, as json-file keeps them", () =>
    Effect.gen(function* () {
      const { daemon, memory } = yield* setup()
      const logging = yield* daemon.run(
        LogSequences.info({
          Config: { labels: "app", env: "MODE", tag: "{{.Name}}" },
          ContainerName: "/web-1",
          ContainerLabels: { app: "web", other: "x" },
          ContainerEnv: ["MODE=prod", "PATH=/bin"]
        })
      )
      yield* logging.print("stdout", ["hello"])
      yield* logging.print("stderr", ["oops"])
      yield* logging.stop
      const text = memory.contents().get(`${dir}/${logging.info.ContainerID}.log`)!
      const records = text.split("\n").filter((l) => l !== "")
      // In json-file's order (log, stream, attrs, time), the keys sorted.
      for (const record of records)
        expect(record).toContain(',"attrs":{"MODE":"prod","app":"web","tag":"web-1"},"time":"')
      expect(records.map((r) => Object.keys(JSON.parse(r)))).toEqual([
        ["log", "stream", "attrs", "time"],
        ["log", "stream", "attrs", "time"]
      ])
      // Read back as before: attributes do not change what docker logs shows.
      expect(texts((yield* daemon.logsStopped(logging.info)).entries)).toEqual(["hello\n", "oops\n"])
      // A template it cannot render fails the start, naming it.
      const bad = yield* daemon.run(LogSequences.info({ Config: { tag: "{{.Name | upper}}" } }))
      expect(bad.start.error).toContain("log-opt tag={{.Name | upper}}: only placeholders")
    })
  )

  it.live("bad --log-opt values and container IDs fail StartLogging with a message naming them", () =>
    Effect.gen(function* () {
      const { daemon } = yield* setup()
      const badSize = yield* daemon.run(LogSequences.info({ Config: { "max-size": "lots" } }))
      expect(badSize.start.error).toBe(
        "failed to initialize logging driver: error creating logger: LogDriver.StartLogging: log-opt max-size=lots: expected a size such as 10m, 512k or 1g"
      )
      const unknown = yield* daemon.run(LogSequences.info({ Config: { "max-files": "3" } }))
      expect(unknown.start.error).toContain("log-opt max-files=3: unknown option for log-file")
      const escaping = yield* daemon.run(LogSequences.info({ ContainerID: "../../etc/cron.d/x" }))
      expect(escaping.start.error).toContain('invalid container ID "../../etc/cron.d/x"')
      const read = yield* daemon.logsStopped(LogSequences.info({ ContainerID: "a/b" }))
      expect(read.error).toContain('invalid container ID "a/b"')
    })
  )

  it.live("docker logs -f gets what was written, then new lines, and ends when the container stops", () =>
    Effect.gen(function* () {
      const { daemon } = yield* setup()
      const logging = yield* daemon.run()
      yield* logging.print("stdout", ["before"])
      // The running container's logger is read while lines keep coming.
      yield* Effect.sleep("50 millis")
      const stream = yield* daemon.follow(logging)
      const collected = yield* Effect.forkChild(Stream.runCollect(stream))
      yield* Effect.sleep("50 millis")
      yield* logging.print("stderr", ["during"])
      yield* Effect.sleep("50 millis")
      yield* logging.stop
      const entries = yield* Fiber.join(collected).pipe(Effect.timeout("5 seconds"))
      expect(texts(entries)).toEqual(["before\n", "during\n"])
      const tail = yield* daemon.logs(logging, { Tail: 1 })
      expect(tail.error).toBeUndefined()
    })
  )

  it.live("docker logs -f --until ends at the until time, not at the container's next line or its stop", () =>
    Effect.gen(function* () {
      const { daemon } = yield* setup()
      const logging = yield* daemon.run()
      yield* logging.write(LogSequences.entriesOf("stdout", "old", 1_764_244_800_000_000_000n))
      yield* Effect.sleep("50 millis")
      // An until in the past: nothing newer can be wanted, so there is nothing to follow.
      const past = yield* daemon.follow(logging, { Until: "2025-11-27T12:00:01Z" })
      const ended = yield* Stream.runCollect(past).pipe(Effect.timeoutOption("2 seconds"))
      expect(ended._tag === "Some" && texts(ended.value)).toEqual(["old\n"])
      // An until a moment ahead: followed until then, while the container, still running, prints nothing.
      const soon = new Date(Date.now() + 300).toISOString()
      const following = yield* Stream.runCollect(yield* daemon.follow(logging, { Until: soon })).pipe(
        Effect.timeoutOption("3 seconds")
      )
      expect(following._tag === "Some" && texts(following.value)).toEqual(["old\n"])
      yield* logging.stop
    })
  )

  it.live("over a socket, a plugin shutting down ends docker logs -f with what was written, complete", () =>
    Effect.gen(function* () {
      const plugin = yield* SocketHarness.make(
        LogFile.layer({ dir }).pipe(Layer.provide(LogFilesMemory.layerOf(LogFilesMemory.make())))
      )
      const daemon = yield* LogSequences.make(plugin.client, { fifoDir: yield* SocketHarness.tempFolder })
      const logging = yield* daemon.run()
      yield* logging.print("stdout", ["before"])
      yield* Effect.sleep("50 millis")
      const collected = yield* Effect.forkChild(Stream.runCollect(yield* daemon.follow(logging)))
      yield* Effect.sleep("50 millis")
      // The container still runs: only the server's shutdown can end the follower here.
      yield* plugin.stop
      // A cut answer fails the stream (a broken transfer); a complete one gives the lines.
      const entries = yield* Fiber.join(collected).pipe(Effect.timeout("5 seconds"))
      expect(texts(entries)).toEqual(["before\n"])
    })
  )

  it.live("a stalled disk never blocks the container: entries are dropped, counted and reported", () =>
    Effect.gen(function* () {
      const reports: Array<LogStreams.Stats> = []
      const { daemon } = yield* setup(
        {
          buffer: { maxBytes: 64 * 1024, overflow: "drop-newest" },
          flushTimeout: "100 millis",
          report: (stats) => Effect.sync(() => void reports.push(stats))
        },
        { stallAppends: true }
      )
      const logging = yield* daemon.run()
      const lines = Array.from({ length: 100_000 }, (_, i) => `line ${i}`)
      for (let i = 0; i < lines.length; i += 5000) yield* logging.print("stdout", lines.slice(i, i + 5000))
      yield* logging.stop
      expect(reports).toHaveLength(1)
      expect(reports[0]).toMatchObject({ received: 100_000, written: 0 })
      expect(reports[0]!.dropped).toBeGreaterThan(90_000)
    }).pipe(Effect.timeout("60 seconds"))
  )

  it.live("a write cut short by StopLogging's flush deadline keeps its bytes: their buffer is not reused", () =>
    Effect.gen(function* () {
      // The first file opened stalls every write, holding the bytes as a write still in flight would.
      const memory = LogFilesMemory.make()
      const held: Array<Uint8Array> = []
      let stalled: string | undefined
      const files = LogFiles.LogFiles.of({
        ...memory,
        openAppend: (path) =>
          Effect.map(memory.openAppend(path), (file) => {
            stalled ??= path
            if (path !== stalled) return file
            return {
              ...file,
              write: (bytes) =>
                Effect.andThen(
                  Effect.sync(() => held.push(bytes)),
                  Effect.never
                )
            }
          })
      })
      const layer = LogFile.layer({ dir, flushTimeout: "100 millis" }).pipe(
        Layer.provide(Layer.succeed(LogFiles.LogFiles, files))
      )
      const plugin = yield* InProcess.make(layer)
      const daemon = yield* LogSequences.make(plugin.client, { fifoDir: yield* SocketHarness.tempFolder })
      const first = yield* daemon.run()
      yield* first.print("stdout", ["held in flight"])
      while (held.length === 0) yield* Effect.sleep("10 millis")
      const before = Buffer.from(held[0]!).toString("utf8")
      expect(JSON.parse(before).log).toBe("held in flight\n")
      yield* first.stop
      // Another container then writes several of the driver's 1 MiB blocks.
      const second = yield* daemon.run()
      const line = "y".repeat(200)
      for (let i = 0; i < 8; i++)
        yield* second.print(
          "stdout",
          Array.from({ length: 2500 }, () => line)
        )
      yield* second.stop
      expect(memory.contents().get(`${dir}/${second.info.ContainerID}.log`)?.length).toBeGreaterThan(4 * 1024 * 1024)
      expect(Buffer.from(held[0]!).toString("utf8")).toBe(before)
    }).pipe(Effect.timeout("60 seconds"))
  )

  it.live("on disk: files under --dir, Capabilities says ReadLogs", () =>
    Effect.gen(function* () {
      const base = yield* SocketHarness.tempFolder
      const plugin = yield* InProcess.make(LogFile.layerNode({ dir: Path.join(base, "logs") }))
      const capabilities = yield* plugin.call(LogDriver.Api.endpoints.capabilities.path)
      expect(capabilities.body).toEqual({ Cap: { ReadLogs: true } })
      const daemon = yield* LogSequences.make(plugin.client, { fifoDir: base })
      const logging = yield* daemon.run()
      yield* logging.print("stdout", ["on disk"])
      yield* logging.stop
      const file = Path.join(base, "logs", `${logging.info.ContainerID}.log`)
      expect(JSON.parse(Fs.readFileSync(file, "utf8")).log).toBe("on disk\n")
      expect(texts((yield* daemon.logsStopped(logging.info)).entries)).toEqual(["on disk\n"])
    })
  )

  it.live("on disk: a symlink planted where a container's file would be is neither written nor read through", () =>
    Effect.gen(function* () {
      const base = yield* SocketHarness.tempFolder
      const logs = Path.join(base, "logs")
      const plugin = yield* InProcess.make(LogFile.layerNode({ dir: logs }))
      const daemon = yield* LogSequences.make(plugin.client, { fifoDir: base })
      const outside = Path.join(base, "outside")
      Fs.writeFileSync(outside, "must stay\n")
      const info = LogSequences.info({ ContainerID: "planted" })
      Fs.symlinkSync(outside, Path.join(logs, "planted.log"))
      const logging = yield* daemon.run(info)
      yield* logging.print("stdout", ["through the link"])
      yield* logging.stop
      expect(Fs.readFileSync(outside, "utf8")).toBe("must stay\n")
      const read = yield* daemon.logsStopped(info)
      expect(read.error).toContain("planted.log: it is a symlink")
      expect(read.entries).toEqual([])
    })
  )
  it.live("a FIFO closed without StopLogging is finished: docker logs -f ends with the container's next stop", () =>
    Effect.gen(function* () {
      const { daemon, plugin, records } = yield* setup()
      const container = LogSequences.info()
      // A logger whose FIFO the daemon closes with no StopLogging (it crashed, or gave up on the stop).
      const lost = Path.join(yield* SocketHarness.tempFolder, "lost")
      const fifoScope = yield* Scope.make()
      const fifo = yield* LogFifo.create(lost).pipe(Scope.provide(fifoScope))
      const started = yield* plugin.call(LogDriver.Api.endpoints.startLogging.path, { File: lost, Info: container })
      expect(started.status).toBe(200)
      yield* fifo.write(LogFraming.encodeFrames(LogSequences.entriesOf("stdout", "before the crash")))
      yield* Scope.close(fifoScope, Exit.void)
      // The container starts again with a new logger, followed, and stops.
      const logging = yield* daemon.run(container)
      yield* logging.print("stdout", ["after the crash"])
      yield* Effect.sleep("50 millis")
      const collected = yield* Effect.forkChild(Stream.runCollect(yield* daemon.follow(logging)))
      yield* Effect.sleep("50 millis")
      yield* logging.stop
      const entries = yield* Fiber.join(collected).pipe(Effect.timeout("5 seconds"))
      expect(texts(entries)).toEqual(["before the crash\n", "after the crash\n"])
      expect(records(container.ContainerID).map((r) => r.log)).toEqual(["before the crash\n", "after the crash\n"])
      // The StopLogging that comes late is answered without an error; a second one is refused, as always.
      const late = yield* plugin.call(LogDriver.Api.endpoints.stopLogging.path, { File: lost })
      expect(late.status).toBe(200)
      const again = yield* plugin.call(LogDriver.Api.endpoints.stopLogging.path, { File: lost })
      expect(again.status).not.toBe(200)
    })
  )

  it.live("docker logs of a stopped container reads every max-file generation, as while it runs", () =>
    Effect.gen(function* () {
      const { daemon, memory } = yield* setup()
      const Config = { "max-size": "100", "max-file": "12" }
      const logging = yield* daemon.run(LogSequences.info({ Config }))
      const lines = Array.from({ length: 12 }, (_, i) => `line ${String(i).padStart(2, "0")}`)
      for (const line of lines) yield* logging.print("stdout", [line])
      const id = logging.info.ContainerID
      yield* Effect.sleep("50 millis")
      expect([...memory.contents().keys()].filter((p) => p.includes(id))).toHaveLength(12)
      const running = texts((yield* daemon.logs(logging)).entries)
      expect(running).toEqual(lines.map((l) => `${l}\n`))
      yield* logging.stop
      // The stream finishes once the daemon has closed the FIFO, after the answer; then no stream is live, and the
      // options come from ReadLogs' Info.Config.
      yield* Effect.sleep("200 millis")
      const stopped = yield* daemon.logs(logging)
      expect(stopped.error).toBeUndefined()
      expect(texts(stopped.entries)).toEqual(running)
      // Checked as StartLogging checks them.
      const bad = yield* daemon.logs({ ...logging, info: { ...logging.info, Config: { "max-file": "0" } } })
      expect(bad.error).toContain("log-opt max-file=0: must be a whole number of at least 1")
    })
  )
})
