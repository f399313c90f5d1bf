/**
 * `pnpm bench`: throughput and latency of a small call (`VolumeDriver.Get` of an existing volume on the memory
 * driver) over a Unix socket, keep-alive, against a bare `node:http` server doing the same work.
 *
 * Each server runs in its own child process; the load generator (autocannon) runs in this one. Both servers are
 * measured in the same run with the same load: a warm-up of each, then many short rounds of one measured window per
 * server, alternating the order. The ratio is the median over the rounds of plugin/bare in the same round: on a
 * shared machine the load of other work drifts over seconds, and comparing windows a second apart cancels most of
 * it, while the median ignores the rounds a burst spoiled (see bench/README.md). The last line printed is one JSON
 * object with the figures.
 *
 * Options (all optional): --duration SECONDS per window (1) --warmup SECONDS (2) --connections N (16) --rounds N (12)
 * --profile (write V8 CPU profiles of the servers to a temporary folder and print its path)
 * --only plugin|bare (measure one server; the ratio is then omitted)
 * --plugin-script FILE (serve another script as "plugin", e.g. a variant under study; it gets the socket path as its
 * only argument and must answer the same bytes as the bare server).
 */
import autocannon from "autocannon"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import { accept, type ChildMessage, path, requestBody, volumeName } from "./shared.ts"

const { values: flags } = parseArgs({
  options: {
    duration: { type: "string", default: "1" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "16" },
    rounds: { type: "string", default: "12" },
    profile: { type: "boolean", default: false },
    only: { type: "string" },
    "plugin-script": { type: "string" }
  },
  allowPositionals: false
})

const positive = (name: string, value: string, integer: boolean): number => {
  const n = Number(value)
  if (!(n > 0) || (integer && !Number.isInteger(n))) throw new Error(`--${name} must be a positive number`)
  return n
}
const duration = positive("duration", flags.duration, false)
const warmup = positive("warmup", flags.warmup, false)
const connections = positive("connections", flags.connections, true)
const rounds = positive("rounds", flags.rounds, true)
if (flags.only !== undefined && flags.only !== "plugin" && flags.only !== "bare") {
  throw new Error("--only must be plugin or bare")
}

type TargetName = "plugin" | "bare"
const targetNames: ReadonlyArray<TargetName> =
  flags.only === undefined ? ["bare", "plugin"] : [flags.only as TargetName]

const here = Path.dirname(new URL(import.meta.url).pathname)
const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-bench-"))
const profileDir = Path.join(tmp, "profiles")

// ---------------------------------------------------------------------------------------------------------------
// Children
// ---------------------------------------------------------------------------------------------------------------

interface Target {
  readonly name: TargetName
  readonly socketPath: string
  readonly child: ChildProcess.ChildProcess
  readonly ready: Promise<void>
}

const children = new Set<ChildProcess.ChildProcess>()

const log = (line: string) => process.stderr.write(`${line}\n`)

const forward = (name: string, stream: NodeJS.ReadableStream | null) => {
  let pending = ""
  stream?.setEncoding("utf8")
  stream?.on("data", (chunk: string) => {
    pending += chunk
    const lines = pending.split("\n")
    pending = lines.pop() ?? ""
    for (const line of lines) log(`[${name}] ${line}`)
  })
}

/** The V8 flags `dpk serve` starts a plugin with (see the `dpk` launcher and bench/README.md, step 8). */
const pluginNodeFlags = ["--max-semi-space-size=2"]

const spawn = (name: TargetName): Target => {
  const socketPath = Path.join(tmp, `${name}.sock`)
  const script =
    name === "plugin"
      ? Path.resolve(flags["plugin-script"] ?? Path.join(here, "plugin-server.ts"))
      : Path.join(here, "bare-server.ts")
  // The plugin runs with the V8 flag `dpk serve` uses; the bare server with Node's defaults.
  const nodeArgs = ["--conditions=@docker-plugin-kit/source", ...(name === "plugin" ? pluginNodeFlags : [])]
  if (flags.profile) nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${Path.join(profileDir, name)}`)
  const child = ChildProcess.spawn(process.execPath, [...nodeArgs, script, socketPath], {
    stdio: ["ignore", "pipe", "pipe", "ipc"]
  })
  children.add(child)
  child.once("exit", () => children.delete(child))
  forward(name, child.stdout)
  forward(name, child.stderr)
  const ready = new Promise<void>((resolve, reject) => {
    // A server is ready once its socket accepts a connection.
    const started = Date.now()
    let exited = false
    child.once("exit", (code, signal) => {
      exited = true
      reject(new Error(`${name} server exited (${signal ?? code}) before it was ready`))
    })
    const attempt = () => {
      if (exited) return
      if (Date.now() - started > 30_000) return reject(new Error(`${name} server did not start within 30 s`))
      const socket = Net.connect({ path: socketPath })
      socket.once("connect", () => {
        socket.destroy()
        resolve()
      })
      socket.once("error", () => {
        socket.destroy()
        setTimeout(attempt, 50)
      })
    }
    attempt()
  })
  return { name, socketPath, child, ready }
}

type Stats = ChildMessage

const statsOf = (target: Target): Promise<Stats> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${target.name} server did not report its stats`)), 5_000)
    const onMessage = (message: ChildMessage) => {
      if (message.type !== "stats") return
      clearTimeout(timer)
      target.child.off("message", onMessage)
      resolve(message)
    }
    target.child.on("message", onMessage)
    target.child.send({ type: "stats" })
  })

const stopChildren = async (): Promise<void> => {
  const exits = [...children].map(
    (child) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
        // "close" comes after the child's output is drained, so none of it follows the result line.
        child.once("close", () => {
          clearTimeout(timer)
          resolve()
        })
        child.kill("SIGTERM")
      })
  )
  await Promise.all(exits)
}

// Whatever happens, no server outlives the benchmark.
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL")
  if (!flags.profile) Fs.rmSync(tmp, { recursive: true, force: true })
})
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    log(`bench: ${signal}, stopping`)
    process.exit(130)
  })
}
// The whole run is bounded: startup, every warm-up and window, and shutdown.
const budgetMs = (60 + targetNames.length * (warmup + rounds * (duration + 5))) * 1000
setTimeout(() => {
  log(`bench: did not finish within ${Math.round(budgetMs / 1000)} s, giving up`)
  process.exit(1)
}, budgetMs).unref()

// ---------------------------------------------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------------------------------------------

interface Answer {
  readonly status: number
  readonly contentType: string | undefined
  readonly body: string
}

const post = (socketPath: string, callPath: string, body: string): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const request = Http.request(
      { socketPath, path: callPath, method: "POST", headers: { accept, "content-type": "application/json" } },
      (response) => {
        let text = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => {
          text += chunk
        })
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, contentType: response.headers["content-type"], body: text })
        )
      }
    )
    request.on("error", reject)
    request.end(body)
  })

// ---------------------------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------------------------

/** Latencies in ms, kept exactly (autocannon's own histogram rounds to whole milliseconds). */
class Samples {
  values = new Float64Array(1 << 16)
  length = 0
  add(value: number) {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2)
      grown.set(this.values)
      this.values = grown
    }
    this.values[this.length++] = value
  }
  addAll(other: Samples) {
    for (let i = 0; i < other.length; i++) this.add(other.values[i]!)
  }
  percentile(p: number): number {
    if (this.length === 0) return Number.NaN
    const sorted = this.values.slice(0, this.length).sort()
    return sorted[Math.min(this.length - 1, Math.ceil((p / 100) * this.length) - 1)]!
  }
}

interface Window {
  readonly requests: number
  readonly seconds: number
  readonly rps: number
  readonly errors: number
  readonly non2xx: number
  readonly samples: Samples
  readonly serverCpu: number
  readonly cpuPerRequestUs: number
  readonly loadCpu: number
}

const load = (target: Target, seconds: number, samples?: Samples): Promise<autocannon.Result> =>
  new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://localhost${path}`,
        socketPath: target.socketPath,
        method: "POST",
        headers: { accept, "content-type": "application/json" },
        body: requestBody,
        connections,
        pipelining: 1,
        duration: seconds,
        timeout: 10
      },
      (error, result) => (error ? reject(error) : resolve(result))
    )
    if (samples !== undefined) {
      instance.on("response", (_client, statusCode, _bytes, responseTime) => {
        if (statusCode === 200) samples.add(responseTime)
      })
    }
  })

const measure = async (target: Target): Promise<Window> => {
  const samples = new Samples()
  const before = await statsOf(target)
  const loadBefore = process.cpuUsage()
  const started = performance.now()
  const result = await load(target, duration, samples)
  const elapsedMs = performance.now() - started
  const loadCpu = process.cpuUsage(loadBefore)
  const after = await statsOf(target)
  const seconds = result.duration
  const serverCpuMs = after.cpuUserMs + after.cpuSystemMs - before.cpuUserMs - before.cpuSystemMs
  return {
    requests: result.requests.total,
    seconds,
    rps: result.requests.total / seconds,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    samples,
    serverCpu: serverCpuMs / elapsedMs,
    cpuPerRequestUs: (serverCpuMs * 1000) / result.requests.total,
    loadCpu: (loadCpu.user + loadCpu.system) / 1000 / elapsedMs
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Run
// ---------------------------------------------------------------------------------------------------------------

const round1 = (n: number) => Math.round(n * 10) / 10
const round3 = (n: number) => Math.round(n * 1000) / 1000
/** The q-quantile, interpolating between the two nearest values (q = 0.5: the median). */
const quantile = (values: ReadonlyArray<number>, q: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (sorted.length - 1) * q
  const low = Math.floor(at)
  return sorted[low]! + (sorted[Math.ceil(at)]! - sorted[low]!) * (at - low)
}
const median = (values: ReadonlyArray<number>) => quantile(values, 0.5)

/**
 * Interquartile range over the median: how much a server's windows disagree, ignoring the outlying quarter on each
 * side. The same work should take the same time in every window.
 */
const spreadOf = (values: ReadonlyArray<number>) => (quantile(values, 0.75) - quantile(values, 0.25)) / median(values)

/**
 * Above this spread of the bare server's windows, something else was using the machine for much of the run: the
 * bare server does the same work in every window, and on a quiet machine half of its windows agree within ~5%.
 */
const quietSpread = 0.1

const main = async () => {
  log(
    `bench: ${path} over a Unix socket, keep-alive, ${connections} connections, ${warmup} s warm-up, ${rounds} ` +
      `round(s) of ${duration} s per server; node ${process.version}, ${Os.availableParallelism()} CPU(s)`
  )
  const targets = new Map(targetNames.map((name) => [name, spawn(name)] as const))
  await Promise.all([...targets.values()].map((t) => t.ready))

  const plugin = targets.get("plugin")
  if (plugin !== undefined) {
    const created = await post(
      plugin.socketPath,
      "/VolumeDriver.Create",
      `${JSON.stringify({ Name: volumeName, Opts: null })}\n`
    )
    if (created.status !== 200) throw new Error(`plugin: Create answered ${created.status} ${created.body}`)
  }
  const answers = new Map<TargetName, Answer>()
  for (const target of targets.values()) {
    const answer = await post(target.socketPath, path, requestBody)
    if (answer.status !== 200) throw new Error(`${target.name}: Get answered ${answer.status} ${answer.body}`)
    answers.set(target.name, answer)
  }
  const [first, second] = [...answers.values()]
  if (first !== undefined && second !== undefined) {
    if (first.body !== second.body || first.contentType !== second.contentType) {
      throw new Error(`the servers answer differently:\n${JSON.stringify(first)}\n${JSON.stringify(second)}`)
    }
  }
  log(`bench: both answer ${first?.contentType} ${first?.body}`)

  // Warm every server up once (JIT, connection pools, heap), then alternate the measured windows so that a
  // disturbance of the machine (another process taking a core) hits both servers alike.
  for (const target of targets.values()) await load(target, warmup)
  const windows = new Map<TargetName, Array<Window>>(targetNames.map((name) => [name, []]))
  const ratios: Array<number> = []
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? targetNames : [...targetNames].reverse()
    for (const name of order) {
      const window = await measure(targets.get(name)!)
      windows.get(name)!.push(window)
      log(
        `bench: round ${round + 1} ${name.padEnd(6)} ${Math.round(window.rps)} req/s, ` +
          `p50 ${round3(window.samples.percentile(50))} ms, p99 ${round3(window.samples.percentile(99))} ms, ` +
          `server CPU ${Math.round(window.serverCpu * 100)}% (${round1(window.cpuPerRequestUs)} µs/request), ` +
          `load generator CPU ${Math.round(window.loadCpu * 100)}%` +
          (window.errors + window.non2xx > 0 ? `, ${window.errors} errors, ${window.non2xx} non-2xx` : "")
      )
    }
    const pluginWindow = windows.get("plugin")?.[round]
    const bareWindow = windows.get("bare")?.[round]
    if (pluginWindow !== undefined && bareWindow !== undefined) ratios.push(pluginWindow.rps / bareWindow.rps)
  }

  const summary = (name: TargetName) => {
    const ws = windows.get(name)
    if (ws === undefined) return undefined
    const samples = new Samples()
    for (const w of ws) samples.addAll(w.samples)
    return {
      rps: median(ws.map((w) => w.rps)),
      p50: samples.percentile(50),
      p99: samples.percentile(99),
      errors: ws.reduce((n, w) => n + w.errors + w.non2xx, 0),
      serverCpu: median(ws.map((w) => w.serverCpu)),
      cpuPerRequestUs: median(ws.map((w) => w.cpuPerRequestUs)),
      spread: spreadOf(ws.map((w) => w.rps))
    }
  }
  const ours = summary("plugin")
  const bare = summary("bare")
  const pluginStats = plugin === undefined ? undefined : await statsOf(plugin)
  await stopChildren()

  // The paired figure: each round compares windows a second apart, which cancels the slow drift of the machine's
  // other load. Over 30 runs it spread about half as much as the ratio of the two servers' median windows (standard
  // deviation 0.034 against 0.061, bench/README.md), which is printed too.
  const compared =
    ours === undefined || bare === undefined
      ? undefined
      : { ours, bare, ratio: median(ratios), windowRatio: ours.rps / bare.rps }
  const lines: Array<string> = []
  const row = (label: string, s: NonNullable<typeof ours>) =>
    `${label.padEnd(22)} ${String(Math.round(s.rps)).padStart(8)} req/s   p50 ${round3(s.p50).toFixed(3)} ms   ` +
    `p99 ${round3(s.p99).toFixed(3)} ms   server CPU ${Math.round(s.serverCpu * 100)}%, ` +
    `${round1(s.cpuPerRequestUs)} µs/request` +
    (s.errors > 0 ? `   ${s.errors} errors` : "")
  if (bare !== undefined) lines.push(row("bare node:http", bare))
  if (ours !== undefined) lines.push(row("plugin (HttpRouter)", ours))
  if (compared !== undefined) {
    lines.push(
      `ratio plugin / bare:   ${compared.ratio.toFixed(3)} (median of the per-round ratios; ratio of the median ` +
        `windows: ${compared.windowRatio.toFixed(3)}, spread of the windows: plugin ${Math.round(compared.ours.spread * 100)}%, ` +
        `bare ${Math.round(compared.bare.spread * 100)}%)`
    )
    if (compared.bare.spread > quietSpread) {
      lines.push(
        `warning: the bare server's windows differ by ${Math.round(compared.bare.spread * 100)}% (quiet machine: < ` +
          `${quietSpread * 100}%): something else was using the machine, so the ratio is not reliable; rerun when it is quiet`
      )
    }
  }
  if (pluginStats !== undefined) {
    lines.push(`plugin server RSS after the run: ${round1(pluginStats.rss / 2 ** 20)} MiB`)
  }
  for (const line of lines) console.log(line)
  if (flags.profile) console.log(`CPU profiles of the servers (summarise with bench/profile-summary.ts): ${profileDir}`)

  const result = {
    bench: "VolumeDriver.Get",
    rps: ours === undefined ? null : Math.round(ours.rps),
    p50_ms: ours === undefined ? null : round3(ours.p50),
    p99_ms: ours === undefined ? null : round3(ours.p99),
    bare_rps: bare === undefined ? null : Math.round(bare.rps),
    bare_p50_ms: bare === undefined ? null : round3(bare.p50),
    bare_p99_ms: bare === undefined ? null : round3(bare.p99),
    ratio: compared === undefined ? null : round3(compared.ratio),
    window_ratio: compared === undefined ? null : round3(compared.windowRatio),
    cpu_us_per_req: ours === undefined ? null : round1(ours.cpuPerRequestUs),
    bare_cpu_us_per_req: bare === undefined ? null : round1(bare.cpuPerRequestUs),
    spread: ours === undefined ? null : round3(ours.spread),
    bare_spread: bare === undefined ? null : round3(bare.spread),
    rss_mb: pluginStats === undefined ? null : round1(pluginStats.rss / 2 ** 20),
    errors: (ours?.errors ?? 0) + (bare?.errors ?? 0),
    connections,
    duration_s: duration,
    warmup_s: warmup,
    rounds,
    node: process.version,
    cpus: Os.availableParallelism()
  }
  console.log(JSON.stringify(result))
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exit(1)
  }
)
