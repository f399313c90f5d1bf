/**
 * `pnpm bench startup`: how long a plugin takes from spawn to its first `Plugin.Activate` answer, against a bare
 * `node:http` server started the same way (plain `node FILE.js`, in the same run, rounds interleaved).
 *
 * Measured: a floor (the bare server importing `effect/Effect`, `effect/Layer` and `effect/Schema` and nothing else:
 * what any unbundled Effect plugin pays before its own code), `examples/hello-volume.ts` run from its built JavaScript
 * (the example compiled to JS, importing the packages' built `dist/`), the same example bundled into one file by `dpk
 * build` (started plain, and with Node's compile cache, `NODE_COMPILE_CACHE`, warm), and `dpk serve volume-memory` as
 * an installed CLI runs it (its `bin`: the CLI bundled by `pnpm build`). Each is started `--rounds` times (10); the
 * figure is the median. The clock starts just before `spawn` and stops when an Activate answer arrives (the socket is
 * polled every few milliseconds). After the last round each process idles for a second and its RSS is read from /proc.
 *
 * Options: --rounds N (10). The last line is one JSON object:
 * `{"bench":"startup","plugin_ms":…,"bundle_ms":…,"bundle_cached_ms":…,"dpk_ms":…,"bare_ms":…,"floor_ms":…,
 *   "ratio":…,"floor_ratio":…,"bundle_ratio":…,"bundle_cached_ratio":…,"dpk_ratio":…,"plugin_rss_mb":…,
 *   "bundle_rss_mb":…,…,"rounds":10,…}`
 * where `ratio` is plugin_ms / bare_ms.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Module from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"

const { values: flags } = parseArgs({ options: { rounds: { type: "string", default: "10" } } })
const rounds = Number(flags.rounds)
if (!Number.isInteger(rounds) || rounds < 1) throw new Error("--rounds must be a positive integer")

const root = Path.join(import.meta.dirname, "..", "..")
// Inside the repository, so the compiled example resolves the packages (their built dist/) from node_modules.
const work = Path.join(root, ".tmp", "bench-startup")
Fs.rmSync(work, { recursive: true, force: true })
Fs.mkdirSync(work, { recursive: true })
const sockets = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-startup-"))
const log = (line: string) => process.stderr.write(`${line}\n`)

const run = (command: string, args: ReadonlyArray<string>) => {
  const result = ChildProcess.spawnSync(command, args, { cwd: root, encoding: "utf8" })
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed:\n${result.stdout}${result.stderr}`)
}

// Everything runs from built JavaScript: the packages' dist/ (tsc -b is incremental), the example compiled alone,
// and the example bundled by `dpk build`.
log("startup: building the packages, the example, and its bundle")
run("pnpm", ["build"])
// The `dpk` an installed package runs (its `bin`): the CLI bundled by `pnpm build`.
const cliBin = Path.join(root, "packages", "cli", "dist", "dpk.js")
const exampleTs = Path.join(root, "examples", "hello-volume.ts")
const exampleJs = Path.join(work, "hello-volume.js")
process.removeAllListeners("warning") // stripTypeScriptTypes is flagged experimental; the bench does not care
Fs.writeFileSync(exampleJs, Module.stripTypeScriptTypes(Fs.readFileSync(exampleTs, "utf8")))
const bundleJs = Path.join(work, "hello-volume.bundle.js")
run(process.execPath, [cliBin, "build", exampleTs, "--out", bundleJs])

const bareJs = Path.join(work, "bare.js")
Fs.writeFileSync(
  bareJs,
  `import * as Fs from "node:fs"
import * as Http from "node:http"
const socketPath = process.argv[2]
Fs.rmSync(socketPath, { force: true })
const body = JSON.stringify({ Implements: ["VolumeDriver"] })
const server = Http.createServer((request, response) => {
  request.resume()
  request.on("end", () => {
    response.writeHead(200, { "content-type": "application/vnd.docker.plugins.v1.1+json", "content-length": Buffer.byteLength(body) })
    response.end(body)
  })
})
process.on("SIGTERM", () => server.close(() => process.exit(0)))
server.listen(socketPath)
`
)

// The floor of any unbundled Effect plugin: the bare server, plus importing Effect's core modules and Schema (which
// every declaration is made of) and nothing else. Node loads each ES module on its own, so this alone costs more than
// twice the bare start here; it says how far a plugin run from its built JavaScript can get without a bundle.
const floorJs = Path.join(work, "floor.js")
Fs.writeFileSync(
  floorJs,
  `import "effect/Effect"
import "effect/Layer"
import "effect/Schema"
${Fs.readFileSync(bareJs, "utf8")}`
)

interface Target {
  readonly name: "bare" | "floor" | "plugin" | "bundle" | "bundle_cached" | "dpk"
  readonly args: (socket: string) => ReadonlyArray<string>
  readonly env?: NodeJS.ProcessEnv
}
// Node's on-disk compile cache (NODE_COMPILE_CACHE, e.g. set in a managed plugin's config.json) keeps V8's compiled
// code of the bundle between starts; the warm-up start fills it.
const compileCache = Path.join(work, "compile-cache")
const targets: ReadonlyArray<Target> = [
  { name: "bare", args: (s) => [bareJs, s] },
  { name: "floor", args: (s) => [floorJs, s] },
  { name: "plugin", args: (s) => [exampleJs, s] },
  { name: "bundle", args: (s) => [bundleJs, s] },
  { name: "bundle_cached", args: (s) => [bundleJs, s], env: { ...process.env, NODE_COMPILE_CACHE: compileCache } },
  { name: "dpk", args: (s) => [cliBin, "serve", "volume-memory", "--socket", s] }
]

const activate = (socketPath: string): Promise<boolean> =>
  new Promise((resolve) => {
    const request = Http.request(
      { socketPath, path: "/Plugin.Activate", method: "POST", headers: { "content-length": 0 } },
      (response) => {
        response.resume()
        response.on("end", () => resolve(response.statusCode === 200))
      }
    )
    request.on("error", () => resolve(false))
    request.end()
  })

const rssMb = (pid: number): number => {
  const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN)
  return Math.round(kb / 102.4) / 10
}

const children = new Set<ChildProcess.ChildProcess>()
const killAll = () => {
  for (const child of children) child.kill("SIGKILL")
}
process.on("exit", killAll)

const startOnce = async (target: Target, round: number, measureRss: boolean) => {
  const socket = Path.join(sockets, `${target.name}-${round}.sock`)
  const started = performance.now()
  const child = ChildProcess.spawn(process.execPath, target.args(socket), {
    stdio: ["ignore", "ignore", "pipe"],
    env: target.env ?? process.env
  })
  children.add(child)
  let stderr = ""
  child.stderr.on("data", (d) => (stderr += d))
  let exited = false
  child.once("exit", () => (exited = true))
  const deadline = started + 20_000
  while (!(await activate(socket))) {
    if (exited || performance.now() > deadline) {
      throw new Error(`${target.name} did not answer Activate (${exited ? "exited" : "timed out"}): ${stderr}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  const ms = performance.now() - started
  let rss: number | undefined
  if (measureRss) {
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    rss = rssMb(child.pid!)
  }
  const gone = new Promise((resolve) => child.once("exit", resolve))
  child.kill("SIGTERM")
  await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 3_000))])
  child.kill("SIGKILL")
  children.delete(child)
  return { ms, rss }
}

const times = new Map<Target["name"], Array<number>>(targets.map((t) => [t.name, []]))
const rss = new Map<Target["name"], number>()
// One warm-up start each (file-system cache), not counted.
for (const target of targets) await startOnce(target, -1, false)
for (let round = 0; round < rounds; round++) {
  // Rotate the order so no target always follows the same one.
  const order = targets.map((_, i) => targets[(i + round) % targets.length]!)
  for (const target of order) {
    const { ms, rss: mb } = await startOnce(target, round, round === rounds - 1)
    times.get(target.name)!.push(ms)
    if (mb !== undefined) rss.set(target.name, mb)
  }
  log(
    `round ${round + 1}/${rounds}: ${targets.map((t) => `${t.name} ${times.get(t.name)!.at(-1)!.toFixed(0)} ms`).join(", ")}`
  )
}
Fs.rmSync(sockets, { recursive: true, force: true })

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
const ms = (name: Target["name"]) => Math.round(median(times.get(name)!))
const ratio = (name: Target["name"]) => Math.round((median(times.get(name)!) / median(times.get("bare")!)) * 100) / 100
for (const t of targets) {
  const sorted = [...times.get(t.name)!].sort((a, b) => a - b)
  log(
    `${t.name.padEnd(13)} median ${ms(t.name)} ms (min ${sorted[0]!.toFixed(0)}, max ${sorted.at(-1)!.toFixed(0)}), idle RSS ${rss.get(t.name)} MB`
  )
}
console.log(
  JSON.stringify({
    bench: "startup",
    plugin_ms: ms("plugin"),
    bundle_ms: ms("bundle"),
    bundle_cached_ms: ms("bundle_cached"),
    dpk_ms: ms("dpk"),
    bare_ms: ms("bare"),
    floor_ms: ms("floor"),
    ratio: ratio("plugin"),
    floor_ratio: ratio("floor"),
    bundle_ratio: ratio("bundle"),
    bundle_cached_ratio: ratio("bundle_cached"),
    dpk_ratio: ratio("dpk"),
    plugin_rss_mb: rss.get("plugin"),
    bundle_rss_mb: rss.get("bundle"),
    bundle_cached_rss_mb: rss.get("bundle_cached"),
    dpk_rss_mb: rss.get("dpk"),
    bare_rss_mb: rss.get("bare"),
    floor_rss_mb: rss.get("floor"),
    rounds,
    node: process.version,
    cpus: Os.availableParallelism()
  })
)
