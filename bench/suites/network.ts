/**
 * `pnpm bench network`: the cost of a container on a `network-bridge` network against the engine's own bridge
 * driver, on a private Engine 20.10 (root and dockerd needed). Each iteration is `docker run --rm` of a container
 * that pings a peer container once: on a network served by `dpk serve network-bridge` (CreateEndpoint, Join, veth
 * pair, Leave, DeleteEndpoint over the plugin socket) and on a network of the built-in `bridge` driver, alternating,
 * in the same run. The last line is one JSON object: the median wall time of each and their ratio (target: within
 * 1.3x of the built-in bridge).
 *
 * Options: --iterations N per network (10) --warmup N per network (1)
 */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import { DockerEngine } from "../../packages/testkit/src/index.ts"

const { values: flags } = parseArgs({
  options: { iterations: { type: "string", default: "10" }, warmup: { type: "string", default: "1" } },
  allowPositionals: false
})
const iterations = Number(flags.iterations)
const warmup = Number(flags.warmup)
if (!(Number.isInteger(iterations) && iterations > 0 && Number.isInteger(warmup) && warmup >= 0)) {
  throw new Error("--iterations must be a positive integer, --warmup an integer")
}

const cli = Path.join(import.meta.dirname, "..", "..", "packages", "cli", "src", "bin.ts")
const tag = Math.random().toString(16).slice(2, 8)
const octet = () => Math.floor(Math.random() * 256)
const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** `dpk serve network-bridge`, resolved once it listens. */
const serve = (name: string, stateDir: string) =>
  new Promise<ChildProcess.ChildProcess>((resolve, reject) => {
    const child = ChildProcess.spawn(
      process.execPath,
      [
        "--conditions=@docker-plugin-kit/source",
        cli,
        "serve",
        "network-bridge",
        "--name",
        name,
        "--state-dir",
        stateDir
      ],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("listening on")) resolve(child)
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.once("exit", (code) => reject(new Error(`dpk serve exited with ${code}:\n${output}`)))
  })

const program = Effect.gen(function* () {
  const engine = yield* DockerEngine.make()
  const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-bench-network-"))
  const name = `dpk-bench-net-${tag}`
  yield* Effect.acquireRelease(
    Effect.promise(() => serve(name, Path.join(base, "state"))),
    (child) =>
      Effect.promise(async () => {
        const exited = new Promise((done) => child.once("exit", done))
        child.kill("SIGTERM")
        await exited
        Fs.rmSync(base, { recursive: true, force: true })
      })
  )
  const docker = engine.docker
  const networks = [
    {
      label: "network-bridge",
      net: `10.${200 + (octet() % 50)}.${octet()}`,
      args: ["-d", name, "-o", `bridge=dpkbench${tag}`]
    },
    {
      label: "built-in bridge",
      net: `10.${200 + (octet() % 50)}.${octet()}`,
      args: ["-d", "bridge", "-o", `com.docker.network.bridge.name=dpkbenchb${tag}`]
    }
  ] as const
  for (const [i, n] of networks.entries()) {
    const id = `bench${i}`
    yield* Effect.acquireRelease(docker("network", "create", ...n.args, "--subnet", `${n.net}.0/24`, id), () =>
      Effect.ignore(docker("network", "rm", id))
    )
    yield* Effect.acquireRelease(
      docker("run", "-d", "--network", id, "--ip", `${n.net}.10`, engine.image, "sleep", "3600"),
      (peer) => Effect.ignore(docker("rm", "-f", peer))
    )
  }
  const once = (i: number) =>
    Effect.gen(function* () {
      const started = performance.now()
      const out = yield* docker(
        "run",
        "--rm",
        "--network",
        `bench${i}`,
        engine.image,
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "2",
        `${networks[i]!.net}.10`
      )
      if (!out.includes("1 packets received"))
        return yield* Effect.die(new Error(`no answer on ${networks[i]!.label}: ${out}`))
      return performance.now() - started
    })
  const times: [Array<number>, Array<number>] = [[], []]
  for (let round = 0; round < warmup + iterations; round++) {
    // Alternate which network goes first, so drift of the host's load hits both alike.
    for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
      const ms = yield* once(i)
      if (round >= warmup) times[i]!.push(ms)
    }
  }
  const [ours, builtin] = times.map(median) as [number, number]
  console.log(
    `network-bridge:  median ${ours.toFixed(0)} ms over ${iterations} runs (${times[0].map((t) => t.toFixed(0)).join(" ")})`
  )
  console.log(
    `built-in bridge: median ${builtin.toFixed(0)} ms over ${iterations} runs (${times[1].map((t) => t.toFixed(0)).join(" ")})`
  )
  console.log(`ratio ${(ours / builtin).toFixed(3)} (target: at most 1.3)`)
  console.log(
    JSON.stringify({
      suite: "network",
      iterations,
      network_bridge_median_ms: Math.round(ours),
      builtin_bridge_median_ms: Math.round(builtin),
      ratio: Number((ours / builtin).toFixed(3))
    })
  )
})

await Effect.runPromise(Effect.scoped(program))
