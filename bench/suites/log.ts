/**
 * `pnpm bench log`: how fast a container's output goes through the `log-file` plugin, against the engine's own
 * `json-file` driver, in the same run on the same private daemon.
 *
 * Each round runs `busybox seq 1 N` (N lines, `--lines`, default 1,000,000) once with `--log-driver json-file`, once
 * with `--log-driver <log-file plugin>` and once with a bare plugin that drains the FIFO and keeps nothing
 * (bench/bare-log-plugin.ts: the floor, what the daemon spends to hand lines to any plugin), each going first in
 * turn. A run is timed from just before `docker run` until the container has exited (`docker wait`) and the last
 * line is in its log file: the same "done" for both drivers (the daemon reports the exit only after the plugin
 * answered StopLogging, which flushes). The figure per driver is the median over the rounds; `ratio` is log-file's
 * lines/s over json-file's (the target is at least 1.0), `bare_ratio` the bare plugin's. `dropped` counts the
 * lines missing from log-file's files (0 when the disk keeps up).
 *
 * The plugin runs as `dpk serve log-file` in its own process, as users run it. Needs root and dockerd (like the
 * end-to-end tests). Options: --lines N (1000000) --rounds N (3), --profile (a V8 CPU profile of the plugin process,
 * kept in a printed folder; summarise it with bench/profile-summary.ts). The last line printed is one JSON object.
 *
 * `log_file_cpu_us_per_line` is the plugin process's CPU time (user + system, from /proc) over the measured runs
 * divided by their lines: the plugin's own cost, which the host's load moves much less than the rates. The
 * `dockerd_cpu_us_per_line_*` figures are the same for the daemon with each driver: what it spends to hand a line
 * to a plugin against writing it itself.
 */
import { Effect, Exit, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import * as DockerEngine from "../../packages/testkit/src/engine/DockerEngine.ts"
import { serveBare } from "../bare-plugin.ts"
import { cpuSeconds } from "../cpu.ts"

const { values: flags } = parseArgs({
  options: {
    lines: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "3" },
    profile: { type: "boolean", default: false }
  },
  allowPositionals: false
})
const positive = (name: string, value: string) => {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`)
  return n
}
const lines = positive("lines", flags.lines)
const rounds = positive("rounds", flags.rounds)
const log = (line: string) => process.stderr.write(`${line}\n`)

const repo = Path.join(import.meta.dirname, "..", "..")
const cliBin = Path.join(repo, "packages", "cli", "src", "bin.ts")
const pluginName = `dpk-bench-log-${process.pid}`
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-bench-log-"))
const logDir = Path.join(dir, "logs")
// Outside `dir`, which is removed at the end.
const profileDir = flags.profile ? Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-bench-log-profile-")) : undefined

const bareName = `dpk-bench-log-bare-${process.pid}`

/** `dpk serve log-file` as a child process, until `stop`. */
const servePlugin = async () => {
  const child = ChildProcess.spawn(
    process.execPath,
    [
      "--conditions=@docker-plugin-kit/source",
      "--max-semi-space-size=2",
      ...(profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]),
      cliBin,
      "serve",
      "log-file",
      "--name",
      pluginName,
      "--dir",
      logDir
    ],
    { stdio: ["ignore", "pipe", "pipe"] }
  )
  let output = ""
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("listening on")) resolve()
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.once("exit", (code) => reject(new Error(`dpk serve log-file exited with ${code}:\n${output}`)))
  })
  child.stderr.on("data", (chunk: Buffer) => log(`[plugin] ${chunk.toString().trimEnd()}`))
  return {
    /** CPU seconds (user + system) the process has used so far. */
    cpuSeconds: () => cpuSeconds(child.pid!),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once("exit", () => resolve())
        child.kill("SIGTERM")
      })
  }
}

/** The last complete line of a file (read from its end, so a large file is not read whole). */
const lastLine = (file: string): string | undefined => {
  let fd: number
  try {
    fd = Fs.openSync(file, "r")
  } catch {
    return undefined
  }
  try {
    const size = Fs.fstatSync(fd).size
    const length = Math.min(size, 4096)
    const buffer = Buffer.alloc(length)
    Fs.readSync(fd, buffer, 0, length, size - length)
    const text = buffer.toString("utf8").trimEnd()
    return text.slice(text.lastIndexOf("\n") + 1)
  } finally {
    Fs.closeSync(fd)
  }
}

/** Lines in a file, counted in a stream. */
const countLines = async (file: string): Promise<number> => {
  let n = 0
  for await (const chunk of Fs.createReadStream(file)) {
    for (const byte of chunk as Buffer) if (byte === 10) n++
  }
  return n
}

interface Measure {
  readonly seconds: number
  readonly id: string
  readonly file: string
}

const measure = (engine: DockerEngine.Engine, driver: string) =>
  Effect.gen(function* () {
    const wanted = `"log":"${lines}\\n"`
    const started = performance.now()
    const seq = ["busybox", "seq", "1", String(lines)]
    const id = yield* engine.docker(...["run", "-d", "--network", "none", "--log-driver", driver, engine.image, ...seq])
    yield* engine.docker("wait", id)
    const file =
      driver === "json-file"
        ? yield* engine.docker("inspect", "-f", "{{.LogPath}}", id)
        : Path.join(logDir, `${id}.log`)
    // The last line may be missing when lines were dropped; the drop count says so, the run goes on. The bare
    // plugin keeps nothing: its run ends when the container's does (after StopLogging, which drains the FIFO).
    const exited = performance.now()
    while (driver !== bareName && !(lastLine(file) ?? "").includes(wanted) && performance.now() - exited < 30_000) {
      yield* Effect.sleep("5 millis")
    }
    return { seconds: (performance.now() - started) / 1000, id, file } satisfies Measure
  })

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

const main = Effect.gen(function* () {
  const scope = yield* Scope.make()
  const started = yield* Effect.exit(DockerEngine.make().pipe(Scope.provide(scope)))
  if (Exit.isFailure(started)) {
    const error = Exit.findErrorOption(started)
    log(`bench log: cannot run without a Docker Engine: ${error._tag === "Some" ? error.value.message : "defect"}`)
    yield* Scope.close(scope, Exit.void)
    process.exitCode = 1
    return
  }
  const engine = started.value
  const plugin = yield* Effect.promise(servePlugin)
  const bare = yield* Effect.promise(() => serveBare("bare-log-plugin.ts", bareName))
  const drivers = ["json-file", "log-file", "bare"] as const
  type Driver = (typeof drivers)[number]
  const nameOf = (driver: Driver) => (driver === "log-file" ? pluginName : driver === "bare" ? bareName : driver)
  const times: Record<Driver, Array<number>> = { "json-file": [], "log-file": [], bare: [] }
  let dropped = 0
  let pluginCpu = 0
  const daemonCpu: Record<Driver, number> = { "json-file": 0, "log-file": 0, bare: 0 }
  try {
    // A warm-up of each driver (image in cache, plugins activated and JIT-warm), not counted.
    log(`bench log: ${lines} lines per run, ${rounds} rounds; warming up`)
    for (const driver of drivers) yield* measure(engine, nameOf(driver))
    for (let round = 0; round < rounds; round++) {
      // Each driver goes first in turn.
      const order = drivers.map((_, i) => drivers[(i + round) % drivers.length]!)
      for (const driver of order) {
        const cpuBefore = plugin.cpuSeconds()
        const daemonBefore = cpuSeconds(engine.pid)
        const result = yield* measure(engine, nameOf(driver))
        if (driver === "log-file") pluginCpu += plugin.cpuSeconds() - cpuBefore
        daemonCpu[driver] += cpuSeconds(engine.pid) - daemonBefore
        times[driver].push(result.seconds)
        if (driver === "log-file") {
          const written = yield* Effect.promise(() => countLines(result.file))
          dropped += lines - written
        }
        log(
          `round ${round + 1} ${driver}: ${result.seconds.toFixed(2)} s, ${Math.round(lines / result.seconds)} lines/s`
        )
        yield* engine.docker("rm", "-f", result.id)
        Fs.rmSync(result.file, { force: true })
      }
    }
  } finally {
    yield* Effect.promise(plugin.stop)
    bare.kill("SIGTERM")
    yield* Scope.close(scope, Exit.void)
    Fs.rmSync(dir, { recursive: true, force: true })
  }
  const jsonRate = lines / median(times["json-file"])
  const pluginRate = lines / median(times["log-file"])
  const bareRate = lines / median(times.bare)
  const perLine = (seconds: number) => Number(((seconds * 1e6) / (lines * rounds)).toFixed(2))
  const result = {
    lines,
    rounds,
    log_file_lines_per_s: Math.round(pluginRate),
    json_file_lines_per_s: Math.round(jsonRate),
    ratio: Number((pluginRate / jsonRate).toFixed(3)),
    bare_plugin_lines_per_s: Math.round(bareRate),
    bare_ratio: Number((bareRate / jsonRate).toFixed(3)),
    dropped,
    log_file_cpu_us_per_line: perLine(pluginCpu),
    dockerd_cpu_us_per_line_json_file: perLine(daemonCpu["json-file"]),
    dockerd_cpu_us_per_line_log_file: perLine(daemonCpu["log-file"]),
    dockerd_cpu_us_per_line_bare: perLine(daemonCpu.bare),
    log_file_seconds: times["log-file"].map((s) => Number(s.toFixed(2))),
    json_file_seconds: times["json-file"].map((s) => Number(s.toFixed(2))),
    bare_seconds: times.bare.map((s) => Number(s.toFixed(2)))
  }
  log(
    `log-file ${result.log_file_lines_per_s} lines/s, json-file ${result.json_file_lines_per_s} lines/s, ratio ${result.ratio}, dropped ${dropped}, plugin CPU ${result.log_file_cpu_us_per_line} µs/line, bare plugin ${result.bare_plugin_lines_per_s} lines/s (ratio ${result.bare_ratio}); dockerd CPU per line: ${result.dockerd_cpu_us_per_line_json_file} µs with json-file, ${result.dockerd_cpu_us_per_line_log_file} with log-file, ${result.dockerd_cpu_us_per_line_bare} with the bare plugin`
  )
  if (profileDir !== undefined)
    log(`CPU profile of the plugin (summarise with bench/profile-summary.ts): ${profileDir}`)
  console.log(JSON.stringify(result))
})

await Effect.runPromise(main)
