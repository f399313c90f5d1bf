/**
 * `pnpm bench graph [--size MiB] [--rounds N] [--mode overlay|vfs] [--in-place] [--source] [--profile DIR]`: a
 * generated layer (many small files, some large ones) applied through `GraphDriver.ApplyDiff` over the plugin's Unix
 * socket, against `tar -x` of the same tar into an empty folder; then the same layer streamed out through
 * `GraphDriver.Diff`, against `tar -c` of the extracted folder (both read by this process, byte for byte). The four
 * steps run `--rounds` times (default 3), each after a `sync`, on a new ext4 file system mounted from a file for the
 * run (`--in-place`: in the temporary folder; see `data`); a single round moves by a third on a shared virtual
 * machine, so the figures are the medians, with each round's ratios. Prints MB/s for each, the ratios, the plugin's
 * peak RSS (VmHWM), and the CPU seconds of the plugin and of tar for each direction; the last line is one JSON object.
 * The plugin is `dpk serve graph-overlay` in a process of its own, run from the CLI bundled as `pnpm build` bundles it
 * (`--source`: from the TypeScript sources); `--profile DIR` writes its V8 CPU profile there.
 */
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import { cpuSeconds } from "../cpu.ts"

const { values: flags } = parseArgs({
  options: {
    size: { type: "string", default: "256" },
    rounds: { type: "string", default: "3" },
    mode: { type: "string", default: "overlay" },
    source: { type: "boolean", default: false },
    "in-place": { type: "boolean", default: false },
    profile: { type: "string" }
  },
  strict: true
})
const sizeMiB = Number(flags.size)
if (!Number.isInteger(sizeMiB) || sizeMiB < 8)
  throw new Error(`--size must be a whole number of MiB >= 8: ${flags.size}`)
const rounds = Number(flags.rounds)
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a whole number >= 1: ${flags.rounds}`)
const mode = flags.mode === "vfs" ? "vfs" : "overlay"
if (process.getuid?.() !== 0) {
  console.error("bench graph: needs root (the plugin sets owners and mounts)")
  process.exit(2)
}

const MiB = 1 << 20
const repo = Path.resolve(import.meta.dirname, "..", "..")
const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-bench-graph-"))
const cleanups: Array<() => void> = [() => Fs.rmSync(work, { recursive: true, force: true })]
const cleanup = () => {
  for (const f of cleanups.reverse()) f()
}
process.on("exit", cleanup)

/** Half the bytes in small files (1-32 KiB, 100 per folder), half in files of 16 MiB (fewer for small sizes). */
const generate = (root: string, total: number) => {
  const noise = Crypto.randomBytes(MiB)
  let small = 0
  let files = 0
  for (let dir = 0; small < total / 2; dir++) {
    const folder = Path.join(root, "usr", "share", `d${dir}`)
    Fs.mkdirSync(folder, { recursive: true })
    for (let i = 0; i < 100 && small < total / 2; i++) {
      const size = 1024 + ((dir * 7919 + i * 104729) % (31 * 1024))
      Fs.writeFileSync(Path.join(folder, `f${i}`), noise.subarray(size % 4096, (size % 4096) + size))
      small += size
      files++
    }
  }
  const large = Math.min(16 * MiB, Math.floor(total / 8))
  Fs.mkdirSync(Path.join(root, "opt", "big"), { recursive: true })
  for (let written = 0, n = 0; written < total / 2; n++) {
    const fd = Fs.openSync(Path.join(root, "opt", "big", `blob${n}`), "w")
    for (let left = large; left > 0; left -= MiB) Fs.writeSync(fd, noise, 0, Math.min(MiB, left))
    Fs.closeSync(fd)
    written += large
    files++
  }
  return files
}

const run = (file: string, args: ReadonlyArray<string>) => {
  const started = performance.now()
  const result = ChildProcess.spawnSync(file, [...args], { stdio: ["ignore", "ignore", "pipe"] })
  if (result.status !== 0) throw new Error(`${file} ${args.join(" ")}: ${result.stderr}`)
  return (performance.now() - started) / 1000
}

/** Seconds until `stream` ends, its bytes, and milliseconds from `started` to its first byte. */
const drain = (stream: NodeJS.ReadableStream, started = performance.now()) =>
  new Promise<{ bytes: number; seconds: number; firstByteMs: number }>((resolve, reject) => {
    let bytes = 0
    let firstByteMs = Number.NaN
    stream.on("data", (c: Buffer) => {
      if (bytes === 0) firstByteMs = performance.now() - started
      bytes += c.length
    })
    stream.on("end", () => resolve({ bytes, seconds: (performance.now() - started) / 1000, firstByteMs }))
    stream.on("error", reject)
  })

const call = (socketPath: string, path: string, body: string | Fs.ReadStream) =>
  new Promise<Http.IncomingMessage>((resolve, reject) => {
    const req = Http.request({ socketPath, path, method: "POST", agent: false }, resolve)
    req.on("error", reject)
    if (typeof body === "string") req.end(body)
    else body.pipe(req)
  })

const json = async (socketPath: string, path: string, body: unknown) => {
  const res = await call(socketPath, path, `${JSON.stringify(body)}\n`)
  let text = ""
  for await (const c of res) text += c
  const parsed = JSON.parse(text)
  if (res.statusCode !== 200 || parsed.Err) throw new Error(`${path}: ${res.statusCode} ${text}`)
  return parsed
}

const peakRssMB = (pid: number) => {
  const line = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmHWM:"))
  return Number(line?.replace(/\D+/g, "") ?? 0) / 1024
}

const mbps = (bytes: number, seconds: number) => bytes / 1e6 / seconds

/**
 * Writes back what the last step left dirty before the next is timed: otherwise the kernel's flusher threads write
 * a gigabyte of the previous step's files during the next, taking CPU from whichever side is being measured.
 */
const settle = () => run("sync", [])

/**
 * Where the layers, tars and folders go: a new ext4 file system in a file of the temporary folder, mounted for the
 * run, or with `--in-place` the temporary folder itself. A file system that has seen many files deleted in the last
 * minutes (this project's tests, earlier runs) makes every file creation search past the deleted inodes: on this
 * project's machine `tar -x` of the same tar took from 0.75 to 5 s depending on what had been deleted before, and
 * the plugin's side moved just as much, though not always in the same runs.
 */
const data = (() => {
  if (flags["in-place"]) return work
  // Room for the source, the tar, and a folder and a layer per round; inodes for all their files (~31 000 per GiB).
  const bytes = Math.ceil((2 * rounds + 3) * sizeMiB * 1.2 + 1024) * MiB
  const inodes = (2 * rounds + 2) * sizeMiB * 40 + 20_000
  const free = Fs.statfsSync(work)
  if (free.bavail * free.bsize < bytes) {
    console.log(`bench graph: no room for a ${bytes / MiB} MiB file system in ${work}: measuring in place`)
    return work
  }
  const image = Path.join(work, "fs.img")
  const mount = Path.join(work, "fs")
  Fs.mkdirSync(mount)
  Fs.closeSync(Fs.openSync(image, "w"))
  Fs.truncateSync(image, bytes)
  try {
    // Inode tables and journal written now, not by a kernel thread in the background while the run is measured.
    run("mkfs.ext4", ["-q", "-F", "-N", String(inodes), "-E", "lazy_itable_init=0,lazy_journal_init=0", image])
    run("mount", ["-o", "loop", image, mount])
  } catch (error) {
    // No mkfs.ext4, or no loop device (a container): measure anyway, and say so.
    Fs.rmSync(image, { force: true })
    console.log(
      `bench graph: cannot make a file system for the run (${(error as Error).message.trim()}): measuring in place`
    )
    return work
  }
  // Lazily: the plugin, stopped just before, may still be leaving its overlay mounts inside.
  cleanups.push(() => ChildProcess.spawnSync("umount", ["-l", mount]))
  return mount
})()

// 1. The layer: a folder, and its tar (what the daemon would send).
const source = Path.join(data, "source")
const files = generate(source, sizeMiB * MiB)
const tarPath = Path.join(data, "layer.tar")
run("tar", ["-C", source, "-cf", tarPath, "."])
const tarBytes = Fs.statSync(tarPath).size
// Kept until the end: removing 30 000 files now would slow the first round's file creation (see `round`).
cleanups.push(() => Fs.rmSync(source, { recursive: true, force: true }))
console.log(`layer: ${files} files, ${(tarBytes / MiB).toFixed(0)} MiB of tar (${mode} mode)`)

// 2. The plugin, in a process of its own, as `dpk serve` runs it: from the CLI bundled the way `pnpm build` bundles
// the installed `dpk` (a process running the TypeScript sources holds ~45 MB more: the sources and every module
// apart), or with --source from the sources.
const cliSource = Path.join(repo, "packages", "cli", "src", "bin.ts")
const bundle = Path.join(work, "dpk.js")
if (!flags.source) {
  run(process.execPath, [
    "--conditions=@docker-plugin-kit/source",
    cliSource,
    "build",
    cliSource,
    "--out",
    bundle,
    "--external",
    "esbuild"
  ])
}
const socket = Path.join(work, "graph.sock")
const plugin = ChildProcess.spawn(
  process.execPath,
  [
    ...(flags.source ? ["--conditions=@docker-plugin-kit/source"] : []),
    "--max-semi-space-size=2",
    ...(flags.profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${Path.resolve(flags.profile)}`]),
    flags.source ? cliSource : bundle,
    "serve",
    `graph-${mode}`,
    "--name",
    "bench-graph",
    "--socket",
    socket,
    "--root",
    Path.join(data, "layers"),
    // Streamed calls of a big layer can outlast the default deadline.
    "--deadline-ms",
    "3600000"
  ],
  { stdio: ["ignore", "pipe", "inherit"] }
)
cleanups.push(() => plugin.kill("SIGTERM"))
await new Promise<void>((resolve, reject) => {
  let out = ""
  plugin.stdout.on("data", (c: Buffer) => {
    out += c.toString()
    if (out.includes("listening on")) resolve()
  })
  plugin.once("exit", (code) => reject(new Error(`the plugin exited with ${code}: ${out}`)))
})
const idleRss = peakRssMB(plugin.pid!)

/**
 * One round: tar -x and ApplyDiff, then tar -c and Diff, each timed after the previous one's writes have settled;
 * odd rounds run the plugin's side of each pair first. Nothing is deleted until every round is over: ext4 skips
 * recently deleted inodes when it allocates one, and the search grows with how many were freed in the last minutes
 * (in `perf`, most of `tar -x`'s system time was there, right after a round had removed its folders).
 */
const round = async (r: number) => {
  const extracted = Path.join(data, `extracted-${r}`)
  const id = `layer-${r}`
  const pluginFirst = r % 2 === 1
  const inTurn = async <A, B>(tarSide: () => Promise<A>, pluginSide: () => Promise<B>): Promise<[A, B]> => {
    if (!pluginFirst) {
      const t = await tarSide()
      return [t, await pluginSide()]
    }
    const p = await pluginSide()
    return [await tarSide(), p]
  }
  Fs.mkdirSync(extracted)
  cleanups.push(() => Fs.rmSync(extracted, { recursive: true, force: true }))
  await json(socket, "/GraphDriver.Create", { ID: id })

  // 3. Apply: tar -x into an empty folder, and ApplyDiff over the socket.
  const [{ tarX, tarXCpu }, { apply, applyCpu, applyPeakRss }] = await inTurn(
    async () => {
      settle()
      const cpu0 = cpuSeconds("self", true)
      const tarX = run("tar", ["-C", extracted, "-xf", tarPath])
      return { tarX, tarXCpu: cpuSeconds("self", true) - cpu0 }
    },
    async () => {
      settle()
      const cpu0 = cpuSeconds(plugin.pid!)
      const started = performance.now()
      const res = await call(
        socket,
        `/GraphDriver.ApplyDiff?id=${id}&parent=`,
        Fs.createReadStream(tarPath, { highWaterMark: 256 * 1024 })
      )
      let text = ""
      for await (const c of res) text += c
      const apply = (performance.now() - started) / 1000
      const applyCpu = cpuSeconds(plugin.pid!) - cpu0
      if (res.statusCode !== 200 || JSON.parse(text).Err) throw new Error(`ApplyDiff: ${text}`)
      return { apply, applyCpu, applyPeakRss: peakRssMB(plugin.pid!) }
    }
  )

  // 4. Diff: tar -c of the extracted folder, and Diff of the layer, both read by this process.
  const [{ tarCRead, tarCCpu }, { diffRead, diff, diffCpu }] = await inTurn(
    async () => {
      settle()
      const cpu0 = cpuSeconds("self", true)
      const tarC = ChildProcess.spawn("tar", ["-C", extracted, "-c", "."], { stdio: ["ignore", "pipe", "inherit"] })
      const exited = new Promise((resolve) => tarC.once("exit", resolve))
      const tarCRead = await drain(tarC.stdout)
      await exited
      return { tarCRead, tarCCpu: cpuSeconds("self", true) - cpu0 }
    },
    async () => {
      settle()
      const cpu0 = cpuSeconds(plugin.pid!)
      const started = performance.now()
      const res = await call(socket, "/GraphDriver.Diff", `${JSON.stringify({ ID: id })}\n`)
      const diffRead = await drain(res, started)
      const diff = (performance.now() - started) / 1000
      if (res.statusCode !== 200) throw new Error(`Diff: status ${res.statusCode}`)
      return { diffRead, diff, diffCpu: cpuSeconds(plugin.pid!) - cpu0 }
    }
  )
  const peakRss = peakRssMB(plugin.pid!)
  const line = {
    apply_mbps: Number(mbps(tarBytes, apply).toFixed(1)),
    tar_x_mbps: Number(mbps(tarBytes, tarX).toFixed(1)),
    apply_ratio: Number((tarX / apply).toFixed(3)),
    diff_mbps: Number(mbps(diffRead.bytes, diff).toFixed(1)),
    tar_c_mbps: Number(mbps(tarCRead.bytes, tarCRead.seconds).toFixed(1)),
    diff_ratio: Number((tarCRead.seconds / diff).toFixed(3)),
    diff_bytes: diffRead.bytes,
    diff_first_byte_ms: Math.round(diffRead.firstByteMs),
    tar_c_first_byte_ms: Math.round(tarCRead.firstByteMs),
    tar_c_bytes: tarCRead.bytes,
    apply_cpu_s: Number(applyCpu.toFixed(2)),
    tar_x_cpu_s: Number(tarXCpu.toFixed(2)),
    apply_cpu_ratio: Number((tarXCpu / applyCpu).toFixed(3)),
    diff_cpu_s: Number(diffCpu.toFixed(2)),
    tar_c_cpu_s: Number(tarCCpu.toFixed(2)),
    diff_cpu_ratio: Number((tarCCpu / diffCpu).toFixed(3)),
    apply_peak_rss_mb: Number(applyPeakRss.toFixed(1)),
    peak_rss_mb: Number(peakRss.toFixed(1))
  }
  console.log(
    `round ${r + 1}: ApplyDiff ${line.apply_mbps} vs tar -x ${line.tar_x_mbps} MB/s (${line.apply_ratio}), ` +
      `Diff ${line.diff_mbps} vs tar -c ${line.tar_c_mbps} MB/s (${line.diff_ratio}), ` +
      `CPU ratios ${line.apply_cpu_ratio} / ${line.diff_cpu_ratio}, Diff's first byte ${line.diff_first_byte_ms} ms`
  )
  return line
}

const lines: Array<Awaited<ReturnType<typeof round>>> = []
for (let r = 0; r < rounds; r++) lines.push(await round(r))
for (let r = 0; r < rounds; r++) await json(socket, "/GraphDriver.Remove", { ID: `layer-${r}` })
type Line = (typeof lines)[number]
/** A figure's median over the rounds (the upper one of an even count), each figure on its own. */
const median = (key: keyof Line) =>
  [...lines].map((l) => Number(l[key])).sort((a, b) => a - b)[Math.floor(lines.length / 2)]!
const result = {
  suite: "graph",
  mode,
  size_mib: sizeMiB,
  files,
  tar_bytes: tarBytes,
  rounds,
  apply_mbps: median("apply_mbps"),
  tar_x_mbps: median("tar_x_mbps"),
  apply_ratio: median("apply_ratio"),
  diff_mbps: median("diff_mbps"),
  tar_c_mbps: median("tar_c_mbps"),
  diff_ratio: median("diff_ratio"),
  diff_first_byte_ms: median("diff_first_byte_ms"),
  tar_c_first_byte_ms: median("tar_c_first_byte_ms"),
  apply_cpu_s: median("apply_cpu_s"),
  tar_x_cpu_s: median("tar_x_cpu_s"),
  apply_cpu_ratio: median("apply_cpu_ratio"),
  diff_cpu_s: median("diff_cpu_s"),
  tar_c_cpu_s: median("tar_c_cpu_s"),
  diff_cpu_ratio: median("diff_cpu_ratio"),
  apply_ratios: lines.map((l) => l.apply_ratio),
  diff_ratios: lines.map((l) => l.diff_ratio),
  idle_rss_mb: Number(idleRss.toFixed(1)),
  apply_peak_rss_mb: Math.max(...lines.map((l) => l.apply_peak_rss_mb)),
  peak_rss_mb: Math.max(...lines.map((l) => l.peak_rss_mb))
}
console.log(`medians of ${rounds} rounds:`)
console.log(`ApplyDiff ${result.apply_mbps} MB/s vs tar -x ${result.tar_x_mbps} MB/s: ratio ${result.apply_ratio}`)
console.log(`Diff      ${result.diff_mbps} MB/s vs tar -c ${result.tar_c_mbps} MB/s: ratio ${result.diff_ratio}`)
console.log(
  `CPU: ApplyDiff ${result.apply_cpu_s} s vs tar -x ${result.tar_x_cpu_s} s (${result.apply_cpu_ratio}); ` +
    `Diff ${result.diff_cpu_s} s vs tar -c ${result.tar_c_cpu_s} s (${result.diff_cpu_ratio})`
)
console.log(
  `plugin peak RSS ${result.peak_rss_mb} MB (idle ${result.idle_rss_mb} MB, after ApplyDiff ${result.apply_peak_rss_mb} MB)`
)
console.log(JSON.stringify(result))
if (flags.profile !== undefined) {
  // SIGTERM is a clean stop for `dpk serve`: V8 writes the CPU profile as it exits.
  await new Promise((resolve) => {
    plugin.once("exit", resolve)
    plugin.kill("SIGTERM")
  })
  console.log(`plugin CPU profile (summarise with bench/profile-summary.ts) in ${Path.resolve(flags.profile)}`)
}
cleanup()
process.exit(0)
