/**
 * `pnpm bench authz`: the latency `authz-policy` adds to each Engine API call. Three private daemons run side by
 * side in the same run: one started with `--authorization-plugin` naming a `dpk serve authz-policy` process holding
 * a 50-rule policy whose rules all have to be tried, one naming a bare `node:http` plugin that allows everything
 * (bench/bare-authz-plugin.ts: the floor, what the daemon's two extra round trips cost through the cheapest Node
 * plugin), and one without any. Sequential keep-alive calls (`GET /_ping`, the CLI's first call, and
 * `GET /containers/json`, which also sends the response to `AuthZRes`) rotate between the daemons in interleaved
 * rounds; the added latency is the difference of their percentiles. Needs root and dockerd.
 *
 * Flags: `--rounds N` (default 6), `--calls N` per round and path (default 500), `--profile` (a V8 CPU profile of
 * the plugin process, kept in a printed folder; summarise it with bench/profile-summary.ts). Last line: one JSON
 * object. `plugin_cpu_us_per_call` is the plugin process's CPU time (user + system, from /proc) over the measured
 * calls through the daemon that uses it, divided by their number: what the plugin costs per API call (both hooks),
 * which the host's load moves much less than the latency percentiles; `bare_cpu_us_per_call` the same for the
 * bare plugin.
 */
import * as DockerEngine from "../../packages/testkit/src/engine/DockerEngine.ts"
import { serveBare } from "../bare-plugin.ts"
import { cpuSeconds } from "../cpu.ts"
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
const bareName = `dpk-bench-authz-bare-${process.pid}`
const policyFile = Path.join(dir, "policy.yaml")
Fs.writeFileSync(policyFile, policy())
const plugin = await serve(name, policyFile)
const bare = await serveBare("bare-authz-plugin.ts", bareName)

const kinds = ["with", "bare", "without"] as const
type Kind = (typeof kinds)[number]

try {
  const summary = await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const engines: Record<Kind, DockerEngine.Engine> = {
          with: yield* DockerEngine.make({ daemonArgs: ["--authorization-plugin", name] }),
          bare: yield* DockerEngine.make({ daemonArgs: ["--authorization-plugin", bareName] }),
          without: yield* DockerEngine.make()
        }
        const socketOf = (kind: Kind) => engines[kind].host.replace(/^unix:\/\//, "")
        const samples = new Map<string, Array<number>>()
        const cpu = { with: 0, bare: 0 }
        for (const path of paths) {
          for (const kind of kinds) {
            samples.set(`${kind} ${path}`, [])
            // Warm the daemons and the plugins (JIT, connections) before measuring.
            yield* Effect.promise(() => measure(socketOf(kind), path, 200))
          }
        }
        for (let r = 0; r < rounds; r++) {
          for (const path of paths) {
            // Rotate which daemon goes first, so none always meets another's aftermath.
            const order = kinds.map((_, i) => kinds[(i + r) % kinds.length]!)
            for (const kind of order) {
              const pid = kind === "with" ? plugin.pid! : kind === "bare" ? bare.pid! : undefined
              const cpuBefore = pid === undefined ? 0 : cpuSeconds(pid)
              const latencies = yield* Effect.promise(() => measure(socketOf(kind), path, calls))
              if (kind !== "without") cpu[kind] += cpuSeconds(pid!) - cpuBefore
              samples.get(`${kind} ${path}`)!.push(...latencies)
            }
          }
        }
        const perCall = (seconds: number) => (seconds * 1e6) / (rounds * paths.length * calls)
        const perPath = paths.map((path) => {
          const of = (kind: Kind, p: number) => percentile(samples.get(`${kind} ${path}`)!, p)
          const row: Record<string, string | number> = { path, calls: samples.get(`with ${path}`)!.length }
          for (const kind of kinds) for (const p of [50, 90, 99]) row[`${kind}_p${p}_ms`] = round3(of(kind, p))
          for (const p of [50, 90, 99]) {
            row[`added_p${p}_ms`] = round3(of("with", p) - of("without", p))
            row[`bare_added_p${p}_ms`] = round3(of("bare", p) - of("without", p))
          }
          return row
        })
        return { perPath, cpuPerCall: perCall(cpu.with), bareCpuPerCall: perCall(cpu.bare) }
      })
    )
  )
  const { perPath, cpuPerCall, bareCpuPerCall } = summary
  const triple = (s: Record<string, string | number>, prefix: string) =>
    [50, 90, 99].map((p) => s[`${prefix}_p${p}_ms`]).join("/")
  for (const s of perPath) {
    console.log(
      `${s.path} p50/p90/p99 (${s.calls} calls each): with authz-policy ${triple(s, "with")} ms; bare plugin ${triple(s, "bare")} ms; none ${triple(s, "without")} ms; added by authz-policy ${triple(s, "added")} ms, by the bare plugin ${triple(s, "bare_added")} ms`
    )
  }
  console.log(
    `plugin CPU per call (both hooks): authz-policy ${cpuPerCall.toFixed(1)} µs, bare plugin ${bareCpuPerCall.toFixed(1)} µs`
  )
  const worst = (key: string) => Math.max(...perPath.map((s) => Number(s[key])))
  const worstAddedP99 = worst("added_p99_ms")
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
      bare_added_p99_ms: worst("bare_added_p99_ms"),
      plugin_cpu_us_per_call: Number(cpuPerCall.toFixed(1)),
      bare_cpu_us_per_call: Number(bareCpuPerCall.toFixed(1)),
      load_average: round3(load),
      cpus: Os.cpus().length,
      target_p99_ms: 2,
      met: worstAddedP99 <= 2
    })
  )
} finally {
  const exited = new Promise((resolve) => plugin.once("exit", resolve))
  plugin.kill("SIGTERM")
  bare.kill("SIGTERM")
  // The profile is written as the process exits.
  if (profileDir !== undefined) {
    await exited
    console.log(`CPU profile of the plugin (summarise with bench/profile-summary.ts): ${profileDir}`)
  }
  Fs.rmSync(dir, { recursive: true, force: true })
}
