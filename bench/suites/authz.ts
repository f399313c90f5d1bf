/**
 * `pnpm bench authz`: the latency `authz-policy` adds to each Engine API call. Two private daemons run side by side
 * in the same run, one started with `--authorization-plugin` (a `dpk serve authz-policy` process holding a 50-rule
 * policy whose rules all have to be tried), one without. Sequential keep-alive calls (`GET /_ping`, the CLI's first
 * call, and `GET /containers/json`, which also sends the response to `AuthZRes`) alternate between the daemons in
 * interleaved rounds; the added latency is the difference of their percentiles. Needs root and dockerd.
 *
 * Flags: `--rounds N` (default 6), `--calls N` per round and path (default 500), `--profile` (a V8 CPU profile of
 * the plugin process, kept in a printed folder; summarise it with bench/profile-summary.ts). Last line: one JSON
 * object. `plugin_cpu_us_per_call` is the plugin process's CPU time (user + system, from /proc) over the measured
 * calls through the daemon that uses it, divided by their number: what the plugin costs per API call (both hooks),
 * which the host's load moves much less than the latency percentiles.
 */
import * as DockerEngine from "../../packages/testkit/src/engine/DockerEngine.ts"
import { Effect } from "effect"
import * as Result from "effect/Result"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"

const flag = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`)
  const value = at < 0 ? Number.NaN : Number(process.argv[at + 1])
  return Number.isFinite(value) && value > 0 ? value : fallback
}
const rounds = flag("rounds", 6)
const profile = process.argv.includes("--profile")
const calls = flag("calls", 500)
const paths = ["/_ping", "/v1.41/containers/json"] as const

/** 50 rules a request to either path has to go through before the default allows it. */
const policy = (): string => {
  const rules: Array<string> = []
  for (let i = 0; i < 50; i++) {
    const name = `rule-${i}`
    switch (i % 5) {
      case 0:
        rules.push(`  - { name: ${name}, decision: deny, users: [user-${i}] }`)
        break
      case 1:
        rules.push(`  - { name: ${name}, decision: deny, privileged: true }`)
        break
      case 2:
        rules.push(`  - { name: ${name}, decision: deny, hostMounts: [/srv/secret-${i}] }`)
        break
      case 3:
        rules.push(`  - { name: ${name}, decision: deny, routes: ["volumes/*", "networks/*"], methods: [DELETE] }`)
        break
      default:
        rules.push(`  - { name: ${name}, decision: deny, capAdd: [SYS_MODULE], images: ["evil-${i}/*"] }`)
    }
  }
  return `default: allow\nrules:\n${rules.join("\n")}\n`
}

const profileDir = profile ? Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-bench-authz-profile-")) : undefined

/** CPU seconds (user + system) a process has used so far (utime and stime of stat(5), 100 ticks a second). */
const cpuSeconds = (pid: number): number => {
  const fields = Fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

const serve = (name: string, policyFile: string): Promise<ChildProcess.ChildProcess> =>
  new Promise((resolve, reject) => {
    const bin = Path.join(import.meta.dirname, "..", "..", "packages", "cli", "src", "bin.ts")
    const child = ChildProcess.spawn(
      process.execPath,
      [
        "--conditions=@docker-plugin-kit/source",
        "--max-semi-space-size=2",
        ...(profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]),
        bin,
        "serve",
        "authz-policy"
      ].concat(["--name", name, "--policy", policyFile]),
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    const onData = (chunk: Buffer) => {
      // Keep draining: every decision writes an audit line.
      if (output.length < 4096) output += chunk.toString()
      if (output.includes("listening on")) resolve(child)
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.once("exit", (code) => reject(new Error(`dpk serve exited with ${code}:\n${output}`)))
  })

/** Sequential calls over one keep-alive connection; latencies in milliseconds. */
const measure = async (socket: string, path: string, count: number): Promise<Array<number>> => {
  const agent = new Http.Agent({ keepAlive: true, maxSockets: 1 })
  const once = () =>
    new Promise<number>((resolve, reject) => {
      const started = process.hrtime.bigint()
      const request = Http.request({ socketPath: socket, path, method: "GET", agent }, (response) => {
        response.resume()
        response.on("end", () => {
          if (response.statusCode !== 200) reject(new Error(`${path}: status ${response.statusCode}`))
          else resolve(Number(process.hrtime.bigint() - started) / 1e6)
        })
      })
      request.on("error", reject)
      request.end()
    })
  const out: Array<number> = []
  for (let i = 0; i < count; i++) out.push(await once())
  agent.destroy()
  return out
}

const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
const round3 = (n: number) => Math.round(n * 1000) / 1000

const tools = DockerEngine.findTools()
if (Result.isFailure(tools)) {
  console.log(`authz bench skipped: ${tools.failure}`)
  console.log(JSON.stringify({ suite: "authz", skipped: tools.failure }))
  process.exit(0)
}

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-bench-authz-"))
const name = `dpk-bench-authz-${process.pid}`
const policyFile = Path.join(dir, "policy.yaml")
Fs.writeFileSync(policyFile, policy())
const plugin = await serve(name, policyFile)

try {
  const summary = await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const withAuthz = yield* DockerEngine.make({ daemonArgs: ["--authorization-plugin", name] })
        const without = yield* DockerEngine.make()
        const socketOf = (engine: DockerEngine.Engine) => engine.host.replace(/^unix:\/\//, "")
        const samples = { with: new Map<string, Array<number>>(), without: new Map<string, Array<number>>() }
        let pluginCpu = 0
        for (const path of paths) {
          samples.with.set(path, [])
          samples.without.set(path, [])
          // Warm both daemons and the plugin (JIT, connections) before measuring.
          yield* Effect.promise(() => measure(socketOf(withAuthz), path, 200))
          yield* Effect.promise(() => measure(socketOf(without), path, 200))
        }
        for (let r = 0; r < rounds; r++) {
          for (const path of paths) {
            // Alternate which daemon goes first, so neither always meets the other's aftermath.
            const order = r % 2 === 0 ? (["with", "without"] as const) : (["without", "with"] as const)
            for (const which of order) {
              const engine = which === "with" ? withAuthz : without
              const cpuBefore = which === "with" ? cpuSeconds(plugin.pid!) : 0
              const latencies = yield* Effect.promise(() => measure(socketOf(engine), path, calls))
              if (which === "with") pluginCpu += cpuSeconds(plugin.pid!) - cpuBefore
              samples[which].get(path)!.push(...latencies)
            }
          }
        }
        const cpuPerCall = (pluginCpu * 1e6) / (rounds * paths.length * calls)
        const perPath = paths.map((path) => {
          const a = samples.with.get(path)!
          const b = samples.without.get(path)!
          return {
            path,
            calls: a.length,
            with_p50_ms: round3(percentile(a, 50)),
            with_p90_ms: round3(percentile(a, 90)),
            with_p99_ms: round3(percentile(a, 99)),
            without_p50_ms: round3(percentile(b, 50)),
            without_p90_ms: round3(percentile(b, 90)),
            without_p99_ms: round3(percentile(b, 99)),
            added_p50_ms: round3(percentile(a, 50) - percentile(b, 50)),
            added_p90_ms: round3(percentile(a, 90) - percentile(b, 90)),
            added_p99_ms: round3(percentile(a, 99) - percentile(b, 99))
          }
        })
        return { perPath, cpuPerCall }
      })
    )
  )
  const { perPath, cpuPerCall } = summary
  for (const s of perPath) {
    console.log(
      `${s.path}: with authz-policy p50/p90/p99 ${s.with_p50_ms}/${s.with_p90_ms}/${s.with_p99_ms} ms; without ${s.without_p50_ms}/${s.without_p90_ms}/${s.without_p99_ms} ms; added ${s.added_p50_ms}/${s.added_p90_ms}/${s.added_p99_ms} ms (${s.calls} calls each)`
    )
  }
  console.log(`plugin CPU per call (both hooks): ${cpuPerCall.toFixed(1)} µs`)
  const worstAddedP99 = Math.max(...perPath.map((s) => s.added_p99_ms))
  // A p99 of a few thousand calls is the host's scheduling noise as much as the plugin's cost: say how busy it was.
  const load = Os.loadavg()[0]!
  if (load > Os.cpus().length) {
    console.log(
      `warning: load average ${load.toFixed(1)} on ${Os.cpus().length} CPUs; the p99 figures mostly measure the host`
    )
  }
  console.log(
    JSON.stringify({
      suite: "authz",
      rules: 50,
      rounds,
      paths: perPath,
      added_p99_ms: worstAddedP99,
      plugin_cpu_us_per_call: Number(cpuPerCall.toFixed(1)),
      load_average: round3(load),
      cpus: Os.cpus().length,
      target_p99_ms: 2,
      met: worstAddedP99 <= 2
    })
  )
} finally {
  const exited = new Promise((resolve) => plugin.once("exit", resolve))
  plugin.kill("SIGTERM")
  // The profile is written as the process exits.
  if (profileDir !== undefined) {
    await exited
    console.log(`CPU profile of the plugin (summarise with bench/profile-summary.ts): ${profileDir}`)
  }
  Fs.rmSync(dir, { recursive: true, force: true })
}
