/**
 * log-file driven by the real docker CLI against a private Engine 20.10 (`docker run --log-driver NAME`), with the
 * plugin served in this process on /run/docker/plugins/<unique>.sock.
 */
import { LogFile, type LogFilesMemory } from "@docker-plugin-kit/drivers"
import type { LogStreams } from "@docker-plugin-kit/helpers"
import { PluginServer } from "@docker-plugin-kit/server"
import { DockerEngine } from "@docker-plugin-kit/testkit"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Schedule, Scope } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import { uniqueName } from "../../support/engine.ts"

const shared = await DockerEngine.shared()
const engine = shared.engine!
/** FIFOs our daemon left in the shared /run/docker/logging (see `startWith`): removed once it has stopped. */
const leftFifos = new Set<string>()
// Registered first, so it runs last: after the daemon has stopped and let go of them.
afterAll(() => {
  const open = openFiles()
  for (const fifo of leftFifos) if (!open.has(fifo)) Fs.rmSync(fifo, { force: true })
})
afterAll(() => shared.close())

/** Serves a log driver as plugin `name` in this process; `docker logs -f` needs more than the default deadline. */
const serve = async (name: string, drivers: Layer.Layer<any, any>) => {
  const scope = Effect.runSync(Scope.make())
  await Effect.runPromise(
    Layer.buildWithScope(
      PluginServer.layer({ name, deadline: "1 hour" }).pipe(Layer.provide(drivers)),
      scope
    ) as Effect.Effect<unknown>
  )
  return () => Effect.runPromise(Scope.close(scope, Exit.void))
}

const loggingDir = "/run/docker/logging"

/** The FIFOs daemons have made for their containers' logging plugins (the folder is shared by every daemon). */
const fifos = (): ReadonlyArray<string> =>
  Fs.existsSync(loggingDir) ? Fs.readdirSync(loggingDir).map((entry) => Path.join(loggingDir, entry)) : []

/** Every path some process on the host has open. */
const openFiles = (): ReadonlySet<string> => {
  const open = new Set<string>()
  for (const pid of Fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    try {
      for (const fd of Fs.readdirSync(`/proc/${pid}/fd`)) open.add(Fs.readlinkSync(`/proc/${pid}/fd/${fd}`))
    } catch {
      // The process ended meanwhile.
    }
  }
  return open
}

interface Record {
  readonly log: string
  readonly stream: string
  readonly attrs?: { readonly [key: string]: string }
  readonly time: string
}

describe.skipIf(shared.engine === undefined)("log-file against Docker Engine 20.10", () => {
  const name = uniqueName("dpk-e2e-log")
  const dir =
    // Vitest runs a skipped describe's body too: no folder where the engine cannot run (its hooks do not).
    shared.engine === undefined ? "" : Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-e2e-log-"))
  const reports: Array<LogStreams.Stats> = []
  let close: () => Promise<void>

  const records = (id: string, suffix = ""): ReadonlyArray<Record> =>
    Fs.readFileSync(Path.join(dir, `${id}.log${suffix}`), "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Record)
  const run = (...args: ReadonlyArray<string>) =>
    engine.docker("run", "-d", "--network", "none", "--log-driver", name, ...args)
  const waitExit = (id: string) => engine.docker("wait", id)
  /** A container writing `line 0` to `line 499` with these log options. */
  const run500 = (...logOpts: ReadonlyArray<string>) =>
    run(
      ...logOpts.flatMap((option) => ["--log-opt", option]),
      ...[engine.image, "sh", "-c", 'i=0; while [ $i -lt 500 ]; do echo "line $i"; i=$((i+1)); done']
    )
  /**
   * A container run with these log options, whose logging is expected not to start. When `StartLogging` fails, Engine
   * 20.10 keeps the FIFO it made for the container open and leaves it in the host-wide /run/docker/logging: the new
   * ones are noted, and removed at the end if no process holds them (other daemons may be making theirs meanwhile).
   */
  const startWith = (...logOpts: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      const before = new Set(fifos())
      const result = yield* engine.dockerResult(
        ...["run", "--rm", "--network", "none", "--log-driver", name],
        ...logOpts.flatMap((option) => ["--log-opt", option]),
        ...[engine.image, "true"]
      )
      for (const fifo of fifos()) if (!before.has(fifo)) leftFifos.add(fifo)
      return result
    })

  beforeAll(async () => {
    close = await serve(
      name,
      LogFile.layerNode({ dir, report: (stats) => Effect.sync(() => void reports.push(stats)) })
    )
  })
  afterAll(async () => {
    await close?.()
    Fs.rmSync(dir, { recursive: true, force: true })
  })

  it.live("stdout and stderr lines land in the container's file with their stream and timestamp", () =>
    Effect.gen(function* () {
      const before = Date.now()
      const id = yield* run(engine.image, "sh", "-c", "echo out1; echo err1 1>&2; echo out2")
      expect(yield* waitExit(id)).toBe("0")
      const written = records(id)
      // stdout and stderr are copied by two goroutines: order is kept within each stream.
      expect(written.filter((r) => r.stream === "stdout").map((r) => r.log)).toEqual(["out1\n", "out2\n"])
      expect(written.filter((r) => r.stream === "stderr").map((r) => r.log)).toEqual(["err1\n"])
      for (const r of written) {
        const t = Date.parse(r.time)
        expect(t).toBeGreaterThanOrEqual(before - 1000)
        expect(t).toBeLessThanOrEqual(Date.now() + 1000)
      }
    })
  )

  it.live("docker logs, --tail 1, --since, --until and --timestamps show them, stderr on stderr", () =>
    Effect.gen(function* () {
      const id = yield* run(engine.image, "sh", "-c", "echo one; echo two; echo three; echo oops 1>&2")
      yield* waitExit(id)
      const all = yield* engine.dockerResult("logs", id)
      expect(all.exitCode).toBe(0)
      expect(all.stdout).toBe("one\ntwo\nthree\n")
      expect(all.stderr).toBe("oops\n")
      const tail = yield* engine.dockerResult("logs", "--tail", "1", id)
      expect(tail.stdout + tail.stderr).toMatch(/^(three|oops)\n$/)
      const since = yield* engine.dockerResult("logs", "--since", "1h", id)
      expect(since.stdout).toBe("one\ntwo\nthree\n")
      const future = yield* engine.dockerResult("logs", "--since", new Date(Date.now() + 3_600_000).toISOString(), id)
      expect(future.stdout + future.stderr).toBe("")
      // --until: nothing before the container ran, everything up to now; --timestamps prefixes each line's time.
      const early = yield* engine.dockerResult("logs", "--until", new Date(Date.now() - 3_600_000).toISOString(), id)
      expect(early.stdout + early.stderr).toBe("")
      const untilNow = yield* engine.dockerResult("logs", "--until", new Date(Date.now() + 1000).toISOString(), id)
      expect(untilNow.stdout).toBe("one\ntwo\nthree\n")
      const stamped = (yield* engine.dockerResult("logs", "--timestamps", id)).stdout.split("\n").filter(Boolean)
      expect(stamped.map((line) => line.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /, ""))).toEqual(["one", "two", "three"])
    })
  )

  it.live("docker logs -f shows lines as they come and returns when the container exits", () =>
    Effect.gen(function* () {
      const id = yield* run(engine.image, "sh", "-c", "echo first; sleep 2; echo second; sleep 1")
      const started = Date.now()
      const followed = yield* engine.dockerResult("logs", "-f", id)
      expect(followed.exitCode).toBe(0)
      expect(followed.stdout).toBe("first\nsecond\n")
      // It waited for the container rather than answering what was there at the start.
      expect(Date.now() - started).toBeGreaterThan(1500)
    })
  )

  it.live("docker logs -f --until returns at the until time on a quiet container, not when it stops", () =>
    Effect.gen(function* () {
      const id = yield* run(engine.image, "sh", "-c", "echo early; sleep 60")
      yield* Effect.sleep("500 millis")
      const started = Date.now()
      const until = new Date(started + 2000).toISOString()
      const followed = yield* engine.dockerResult("logs", "-f", "--until", until, id)
      expect(followed.exitCode).toBe(0)
      expect(followed.stdout).toBe("early\n")
      // Past until (and its grace for lines still on their way), long before the container's 60 s are up.
      expect(Date.now() - started).toBeLessThan(15_000)
      yield* engine.docker("rm", "-f", id)
    })
  )

  it.live("a line longer than the daemon's 16 KiB read (sent as partial entries) comes back whole", () =>
    Effect.gen(function* () {
      // 40 000 digits then a newline: the daemon cuts it into partial entries of 16 KiB at most.
      const id = yield* run(engine.image, "sh", "-c", "printf '%040000d\\n' 7; echo after")
      yield* waitExit(id)
      const logs = yield* engine.dockerResult("logs", id)
      expect(logs.stdout).toBe(`${"0".repeat(39_999)}7\nafter\n`)
      // In the file, the pieces are records of their own; only the last one ends the line.
      const pieces = records(id).map((r) => r.log)
      expect(pieces.length).toBeGreaterThan(2)
      expect(pieces.join("")).toBe(`${"0".repeat(39_999)}7\nafter\n`)
      expect(pieces.slice(0, -2).every((piece) => !piece.endsWith("\n"))).toBe(true)
    })
  )

  it.live("a second docker start appends to the same file", () =>
    Effect.gen(function* () {
      const id = yield* run(engine.image, "sh", "-c", "echo run")
      yield* waitExit(id)
      yield* engine.docker("start", "-a", id)
      expect(records(id).map((r) => r.log)).toEqual(["run\n", "run\n"])
      expect((yield* engine.docker("logs", id)).split("\n")).toEqual(["run", "run"])
    })
  )

  it.live("rotation keeps at most max-file files", () =>
    Effect.gen(function* () {
      const id = yield* run500("max-size=2k", "max-file=3")
      yield* waitExit(id)
      const files = Fs.readdirSync(dir).filter((f) => f.startsWith(id))
      expect(files.sort()).toEqual([`${id}.log`, `${id}.log.1`, `${id}.log.2`])
      for (const f of files) expect(Fs.statSync(Path.join(dir, f)).size).toBeLessThanOrEqual(2048)
      const shown = (yield* engine.docker("logs", id)).split("\n")
      expect(shown[shown.length - 1]).toBe("line 499")
      expect(shown.length).toBeLessThan(500)
    })
  )

  it.live("compress=true: rotated files are gzip, in order, and docker logs reads across them", () =>
    Effect.gen(function* () {
      const id = yield* run500("max-size=2k", "max-file=3", "compress=true")
      yield* waitExit(id)
      const files = () => Fs.readdirSync(dir).filter((f) => f.startsWith(id))
      // The last rotation's compression runs beside the writes: wait for it.
      for (let i = 0; i < 200 && !files().every((f) => f === `${id}.log` || f.endsWith(".gz")); i++) {
        yield* Effect.sleep("25 millis")
      }
      expect(files().sort()).toEqual([`${id}.log`, `${id}.log.1.gz`, `${id}.log.2.gz`])
      const text = (f: string) => {
        const bytes = Fs.readFileSync(Path.join(dir, f))
        return (f.endsWith(".gz") ? Zlib.gunzipSync(bytes) : bytes).toString("utf8")
      }
      const kept = [`${id}.log.2.gz`, `${id}.log.1.gz`, `${id}.log`].map(text)
      for (const content of kept) expect(content.length).toBeLessThanOrEqual(2048)
      const logged = kept
        .join("")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => (JSON.parse(l) as Record).log.trimEnd())
      // Oldest file first, nothing missing or repeated between them, ending with the last line written.
      const first = Number(logged[0]!.split(" ")[1])
      expect(logged).toEqual(Array.from({ length: 500 - first }, (_, i) => `line ${first + i}`))
      expect(first).toBeGreaterThan(0)
      const shown = (yield* engine.docker("logs", id)).split("\n")
      expect(shown).toEqual(logged)
    })
  )

  it.live("compress=true without rotation fails docker run, as json-file does", () =>
    Effect.gen(function* () {
      const result = yield* startWith("compress=true")
      expect(result.exitCode).not.toBe(0)
      expect(result.stderr).toContain(
        "log-opt compress=true: needs max-size and a max-file of at least 2 (only rotated files are compressed)"
      )
    })
  )

  it.live("labels, env and tag land in each record's attrs exactly as json-file writes them", () =>
    Effect.gen(function* () {
      const options = [
        ...["--label", "app=web", "--label", "com.example.tier=front", "--label", "unpicked=x"],
        ...["--env", "MODE=prod", "--env", "NOTE=<a&b>"],
        ...["--log-opt", "labels=app,missing", "--log-opt", "labels-regex=^com\\.example\\."],
        ...["--log-opt", "env=MODE,NOTE", "--log-opt", "tag={{.ImageName}}|{{.ImageID}}|{{.DaemonName}}"]
      ]
      const command = [engine.image, "echo", "hi"]
      const ours = yield* run(...options, ...command)
      const theirs = yield* engine.docker(
        "run",
        "-d",
        "--network",
        "none",
        "--log-driver",
        "json-file",
        ...options,
        ...command
      )
      yield* waitExit(ours)
      yield* waitExit(theirs)
      const attrsOf = (file: string) => /,"attrs":(\{[^}]*\}),"time":/.exec(Fs.readFileSync(file, "utf8"))?.[1]
      const expected = attrsOf((yield* engine.docker("inspect", "-f", "{{.LogPath}}", theirs)).trim())
      expect(expected).toContain('"app":"web"')
      expect(attrsOf(Path.join(dir, `${ours}.log`))).toBe(expected)
      // The fields that differ between two containers.
      const named = yield* run("--name", `${name}-tagged`, "--log-opt", "tag={{.Name}}/{{.ID}}", ...command)
      yield* waitExit(named)
      expect(records(named)[0]?.attrs).toEqual({ tag: `${name}-tagged/${named.slice(0, 12)}` })
    })
  )

  it.live("a bad --log-opt fails docker run with the driver's message", () =>
    Effect.gen(function* () {
      const result = yield* startWith("max-size=huge")
      expect(result.exitCode).not.toBe(0)
      expect(result.stderr).toContain("failed to initialize logging driver")
      expect(result.stderr).toContain("log-opt max-size=huge: expected a size such as 10m, 512k or 1g")
    })
  )
})

describe.skipIf(shared.engine === undefined)("log-file with a stalled sink against Docker Engine 20.10", () => {
  const name = uniqueName("dpk-e2e-stall")
  const reports: Array<LogStreams.Stats> = []
  let close: () => Promise<void>
  beforeAll(async () => {
    close = await serve(
      name,
      LogFile.layerMemory(
        {
          dir: "/logs",
          buffer: { maxBytes: 64 * 1024, overflow: "drop-newest" },
          flushTimeout: "1 second",
          report: (stats) => Effect.sync(() => void reports.push(stats))
        },
        { stallAppends: true } satisfies LogFilesMemory.Options
      )
    )
  })
  afterAll(() => close?.())

  it.live("a container writing 100k lines exits, and the drop count is reported", () =>
    Effect.gen(function* () {
      const started = Date.now()
      const id = yield* engine.docker(
        ...["run", "-d", "--network", "none", "--log-driver", name, engine.image],
        "busybox",
        "seq",
        "1",
        "100000"
      )
      expect(yield* engine.docker("wait", id)).toBe("0")
      expect(Date.now() - started).toBeLessThan(60_000)
      yield* Effect.sleep("200 millis")
      expect(reports).toHaveLength(1)
      expect(reports[0]).toMatchObject({ containerId: id, received: 100_000, written: 0 })
      expect(reports[0]!.dropped).toBeGreaterThanOrEqual(90_000)
    })
  )
})

describe.skipIf(shared.engine === undefined)("log-file stopped while docker logs -f is attached, Engine 20.10", () => {
  const name = uniqueName("dpk-e2e-logstop")
  const dir =
    // Vitest runs a skipped describe's body too: no folder where the engine cannot run (its hooks do not).
    shared.engine === undefined ? "" : Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-e2e-logstop-"))
  let close: (() => Promise<void>) | undefined
  beforeAll(async () => {
    close = await serve(name, LogFile.layerNode({ dir }))
  })
  afterAll(async () => {
    await close?.()
    Fs.rmSync(dir, { recursive: true, force: true })
  })

  it.live("the follower ends cleanly with what was written: docker logs -f exits 0 while the container runs", () =>
    Effect.gen(function* () {
      const id = yield* engine.docker(
        ...["run", "-d", "--network", "none", "--log-driver", name, engine.image],
        ...["sh", "-c", "echo first; sleep 60"]
      )
      const file = Path.join(dir, `${id}.log`)
      const written = Effect.suspend(() =>
        Fs.existsSync(file) && Fs.readFileSync(file, "utf8").includes("first") ? Effect.void : Effect.fail("not yet")
      )
      yield* Effect.retry(written, { times: 100, schedule: Schedule.spaced("100 millis") })
      const followed = yield* Effect.forkChild(engine.dockerResult("logs", "-f", id))
      // Give the CLI time to attach before the plugin goes.
      yield* Effect.sleep("1 second")
      const stopping = close!()
      close = undefined
      yield* Effect.promise(() => stopping)
      const result = yield* Fiber.join(followed)
      // A follower cut mid-stream is an error the CLI prints ("unexpected EOF") with a non-zero exit.
      expect([result.exitCode, result.stdout, result.stderr]).toEqual([0, "first\n", ""])
      expect(yield* engine.docker("inspect", "-f", "{{.State.Running}}", id)).toBe("true")
      yield* engine.docker("rm", "-f", id)
    })
  )
})
