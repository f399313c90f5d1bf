/**
 * `pnpm bench graph [--size MiB | --from DIR] [--rounds N] [--mode overlay|vfs] [--in-place] [--source] [--profile DIR]`:
 * a generated layer (many small files, some large ones), or with `--from` the tree under DIR (a real one: `/usr`, an
 * unpacked image), applied through `GraphDriver.ApplyDiff` over the plugin's Unix
 * socket, against `tar -x` of the same tar into an empty folder; then the same layer streamed out through
 * `GraphDriver.Diff`, against `tar -c` of the extracted folder (both read by this process, byte for byte; then again
 * read by native readers, `curl` and `cat`, which keep up with either side). The
 * steps run `--rounds` times (default 3), each after a `sync`, on a new ext4 file system mounted from a file for the
 * run (`--in-place`: in the temporary folder; see `data`); a single round moves by a third on a shared virtual
 * machine, so the figures are the medians, with each round's ratios. Prints MB/s for each, the ratios, the plugin's
 * peak RSS (VmHWM), and the CPU seconds of the plugin and of tar for each direction; the last line is one JSON object.
 * The same steps also go through the floor, `bench/bare-graph-plugin.ts` (a bare `node:http` plugin doing only what
 * tar-stream and Node's synchronous file calls do), whose ratios to `tar` are printed beside the plugin's, and the
 * plugin's minor page faults during ApplyDiff (each costs a trip through the hypervisor on a virtual machine).
 * Each round also reads as many bytes from the floor's `/Constant`, which makes nothing, the way the Diffs are read:
 * the ceiling of any Node plugin's Diff ratio with this reader (`ceiling_diff_ratio`).
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
import { cpuSeconds, minorFaults } from "../cpu.ts"

const { values: flags } = parseArgs({
  options: {
    size: { type: "string", default: "256" },
    from: { type: "string" },
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
const from = flags.from === undefined ? undefined : Path.resolve(flags.from)
if (from !== undefined && !Fs.statSync(from, { throwIfNoEntry: false })?.isDirectory()) {
  throw new Error(`--from must name a folder: ${flags.from}`)
}
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

/** The JSON answer to a call of `path`; throws unless it is a 200 without `Err`. */
const answerOf = async (path: string, res: Http.IncomingMessage) => {
  let text = ""
  for await (const c of res) text += c
  const parsed = JSON.parse(text)
  if (res.statusCode !== 200 || parsed.Err) throw new Error(`${path}: ${res.statusCode} ${text}`)
  return parsed
}

const json = async (socketPath: string, path: string, body: unknown) =>
  answerOf(path, await call(socketPath, path, `${JSON.stringify(body)}\n`))

const peakRssMB = (pid: number) => {
  const line = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmHWM:"))
  return Number(line?.replace(/\D+/g, "") ?? 0) / 1024
}

const mbps = (bytes: number, seconds: number) => bytes / 1e6 / seconds

/** Whether `curl` is here to read the plugin's Diff natively (step 6 of a round); without it the step is left out. */
const hasCurl = ChildProcess.spawnSync("curl", ["--version"], { stdio: "ignore" }).status === 0
if (!hasCurl) console.log("bench graph: no curl here: Diff is read by this process only")

/**
 * Writes back what the last step left dirty before the next is timed: otherwise the kernel's flusher threads write
 * a gigabyte of the previous step's files during the next, taking CPU from whichever side is being measured.
 */
const settle = () => run("sync", [])

/** The bytes and entries under `dir` (sizes the file system of the run for a `--from` tree). */
const treeSize = (dir: string) => {
  const bytes = Number(ChildProcess.execFileSync("du", ["-sbx", dir], { encoding: "utf8" }).split("\t")[0])
  const entries = ChildProcess.execFileSync("find", [dir, "-xdev"], { maxBuffer: 1 << 30 })
    .toString()
    .split("\n")
  return { mib: Math.ceil(bytes / MiB), entries: entries.length - 1 }
}
const layerSize = from === undefined ? { mib: sizeMiB, entries: sizeMiB * 40 } : treeSize(from)

/**
 * Where the layers, tars and folders go: a new ext4 file system in a file of the temporary folder, mounted for the
 * run, or with `--in-place` the temporary folder itself. A file system that has seen many files deleted in the last
 * minutes (this project's tests, earlier runs) makes every file creation search past the deleted inodes: on this
 * project's machine `tar -x` of the same tar took from 0.75 to 5 s depending on what had been deleted before, and
 * the plugin's side moved just as much, though not always in the same runs.
 */
const data = (() => {
  if (flags["in-place"]) return work
  // Room for the source, the tar, and per round a folder and a layer for each plugin; inodes for all their files
  // (~31 000 per GiB).
  const bytes = Math.ceil((3 * rounds + 3) * layerSize.mib * 1.2 + 1024) * MiB
  const inodes = (3 * rounds + 2) * layerSize.entries + 20_000
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

// 1. The layer: a folder, and its tar as the daemon would send it: ustar headers, numeric owners, times in whole
// seconds, and PAX records only where needed (long names, extended attributes).
const source = from ?? Path.join(data, "source")
const files = from === undefined ? generate(source, sizeMiB * MiB) : layerSize.entries
const tarPath = Path.join(data, "layer.tar")
const daemonLike = ["--format=posix", "--pax-option=delete=atime,delete=ctime,delete=mtime", "--numeric-owner"]
run("tar", [...daemonLike, "--xattrs", "--xattrs-include=*", "--one-file-system", "-C", source, "-cf", tarPath, "."])
const tarBytes = Fs.statSync(tarPath).size
// Kept until the end: removing 30 000 files now would slow the first round's file creation (see `round`).
if (from === undefined) cleanups.push(() => Fs.rmSync(source, { recursive: true, force: true }))
console.log(
  `layer: ${files} ${from === undefined ? "files" : `entries of ${from}`}, ${(tarBytes / MiB).toFixed(0)} MiB of tar (${mode} mode)`
)

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
    "esbuild",
    "--split"
  ])
}
const socket = Path.join(work, "graph.sock")
const plugin = ChildProcess.spawn(
  process.execPath,
  [
    ...(flags.source ? ["--conditions=@docker-plugin-kit/source"] : []),
    // No node flags of its own: `dpk serve` starts again with the driver's (Descriptor.startFlags), as installed.
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

// 3. The floor: the bare graph plugin (tar-stream and Node's synchronous file calls, nothing else), on the same
// file system, beside the layers.
const bareSocket = Path.join(work, "bare-graph.sock")
const bare = ChildProcess.spawn(
  process.execPath,
  [Path.join(repo, "bench", "bare-graph-plugin.ts"), bareSocket, Path.join(data, "bare")],
  { stdio: ["ignore", "pipe", "inherit"] }
)
cleanups.push(() => bare.kill("SIGTERM"))
await new Promise<void>((resolve, reject) => {
  bare.stdout.once("data", () => resolve())
  bare.once("exit", (code) => reject(new Error(`the bare graph plugin exited with ${code}`)))
})

/** ApplyDiff of the layer's tar into layer `id` of the plugin at `socketPath` (process `pid`), timed. */
const applyDiff = async (socketPath: string, pid: number, id: string) => {
  settle()
  const cpu0 = cpuSeconds(pid)
  const faults0 = minorFaults(pid)
  const started = performance.now()
  const path = `/GraphDriver.ApplyDiff?id=${id}&parent=`
  await answerOf(path, await call(socketPath, path, Fs.createReadStream(tarPath, { highWaterMark: 256 * 1024 })))
  const seconds = (performance.now() - started) / 1000
  return { seconds, cpu: cpuSeconds(pid) - cpu0, faults: minorFaults(pid) - faults0, peakRss: peakRssMB(pid) }
}

/** Diff of layer `id` of the plugin at `socketPath` (process `pid`), read by this process, timed. */
const diffOf = async (socketPath: string, pid: number, id: string) => {
  settle()
  const cpu0 = cpuSeconds(pid)
  const started = performance.now()
  const res = await call(socketPath, "/GraphDriver.Diff", `${JSON.stringify({ ID: id })}\n`)
  const read = await drain(res, started)
  if (res.statusCode !== 200) throw new Error(`Diff: status ${res.statusCode}`)
  return { read, seconds: (performance.now() - started) / 1000, cpu: cpuSeconds(pid) - cpu0 }
}

/**
 * One round: tar -x, ApplyDiff and the bare plugin's ApplyDiff, then tar -c, Diff and the bare plugin's Diff, each
 * timed after the previous one's writes have settled; each round starts the three sides at a different one, so
 * none always goes first. Nothing is deleted until every round is over: ext4 skips recently deleted inodes when it
 * allocates one, and the search grows with how many were freed in the last minutes (in `perf`, most of `tar -x`'s
 * system time was there, right after a round had removed its folders).
 */
const round = async (r: number) => {
  const extracted = Path.join(data, `extracted-${r}`)
  const id = `layer-${r}`
  const inTurn = async <A, B, C>(
    tarSide: () => Promise<A>,
    pluginSide: () => Promise<B>,
    bareSide: () => Promise<C>
  ): Promise<[A, B, C]> => {
    const sides: ReadonlyArray<() => Promise<unknown>> = [tarSide, pluginSide, bareSide]
    const results: Array<unknown> = []
    for (let k = 0; k < sides.length; k++) {
      const i = (k + r) % sides.length
      results[i] = await sides[i]!()
    }
    return results as [A, B, C]
  }
  Fs.mkdirSync(extracted)
  cleanups.push(() => Fs.rmSync(extracted, { recursive: true, force: true }))
  await json(socket, "/GraphDriver.Create", { ID: id })

  // 4. Apply: tar -x into an empty folder, and ApplyDiff over each plugin's socket.
  const [{ tarX, tarXCpu }, applied, bareApplied] = await inTurn(
    async () => {
      settle()
      const cpu0 = cpuSeconds("self", true)
      const tarX = run("tar", ["-C", extracted, "-xf", tarPath])
      return { tarX, tarXCpu: cpuSeconds("self", true) - cpu0 }
    },
    () => applyDiff(socket, plugin.pid!, id),
    () => applyDiff(bareSocket, bare.pid!, id)
  )
  const apply = applied.seconds

  // 5. Diff: tar -c of the extracted folder, and each plugin's Diff of its layer, all read by this process.
  const [{ tarCRead, tarCCpu }, diffed, bareDiffed] = await inTurn(
    async () => {
      settle()
      const cpu0 = cpuSeconds("self", true)
      const tarC = ChildProcess.spawn("tar", ["-C", extracted, "-c", "."], { stdio: ["ignore", "pipe", "inherit"] })
      const exited = new Promise((resolve) => tarC.once("exit", resolve))
      const tarCRead = await drain(tarC.stdout)
      await exited
      return { tarCRead, tarCCpu: cpuSeconds("self", true) - cpu0 }
    },
    () => diffOf(socket, plugin.pid!, id),
    () => diffOf(bareSocket, bare.pid!, id)
  )
  const { read: diffRead, seconds: diff } = diffed

  // 6. The same Diff read by native readers, `curl` for the plugin and `cat` for tar -c, in turn. This process
  // reads 64 KiB at a time, and the ~200 KB a Unix socket holds by default is gone in a tenth of a millisecond, so
  // above the plugin spends part of its time waiting for it, and it waiting for the plugin to make its next chunk;
  // tar writes 10 KiB at a time into its pipe and hardly meets that. These figures show the plugin's own speed.
  const nativeTar = () => {
    settle()
    return run("sh", ["-c", 'tar -C "$1" -c . | cat > /dev/null', "sh", extracted])
  }
  const nativeDiff = () => {
    settle()
    const body = JSON.stringify({ ID: id })
    return run("curl", [
      "-sf",
      "--unix-socket",
      socket,
      "-d",
      body,
      "http://plugin/GraphDriver.Diff",
      "-o",
      "/dev/null"
    ])
  }
  // Even rounds time tar first, odd rounds the plugin.
  // 7. The ceiling: as many bytes as the Diff from the bare plugin's `/Constant`, which makes nothing (one buffer
  // written again and again), read by this process as the Diffs were. No Node plugin's Diff read this way can be
  // faster, whatever it costs to make: the ratio of tar -c to it is the most the Diff ratio above can reach here.
  settle()
  const ceilingStarted = performance.now()
  const ceilingRead = await drain(await call(bareSocket, `/Constant?bytes=${diffRead.bytes}`, ""), ceilingStarted)
  const ceiling = (performance.now() - ceilingStarted) / 1000
  if (ceilingRead.bytes !== diffRead.bytes) throw new Error(`Constant: ${ceilingRead.bytes} bytes`)
  const tarFirst = hasCurl && r % 2 === 0 ? nativeTar() : undefined
  const native = hasCurl ? { plugin: nativeDiff(), tar: tarFirst ?? nativeTar() } : undefined
  const peakRss = peakRssMB(plugin.pid!)
  const line = {
    apply_mbps: Number(mbps(tarBytes, apply).toFixed(1)),
    tar_x_mbps: Number(mbps(tarBytes, tarX).toFixed(1)),
    apply_ratio: Number((tarX / apply).toFixed(3)),
    diff_mbps: Number(mbps(diffRead.bytes, diff).toFixed(1)),
    tar_c_mbps: Number(mbps(tarCRead.bytes, tarCRead.seconds).toFixed(1)),
    diff_ratio: Number((tarCRead.seconds / diff).toFixed(3)),
    diff_bytes: diffRead.bytes,
    ceiling_mbps: Number(mbps(diffRead.bytes, ceiling).toFixed(1)),
    ceiling_diff_ratio: Number((tarCRead.seconds / ceiling).toFixed(3)),
    native_diff_mbps: native === undefined ? null : Number(mbps(diffRead.bytes, native.plugin).toFixed(1)),
    native_tar_c_mbps: native === undefined ? null : Number(mbps(tarCRead.bytes, native.tar).toFixed(1)),
    native_diff_ratio: native === undefined ? null : Number((native.tar / native.plugin).toFixed(3)),
    diff_first_byte_ms: Math.round(diffRead.firstByteMs),
    tar_c_first_byte_ms: Math.round(tarCRead.firstByteMs),
    tar_c_bytes: tarCRead.bytes,
    apply_cpu_s: Number(applied.cpu.toFixed(2)),
    tar_x_cpu_s: Number(tarXCpu.toFixed(2)),
    apply_cpu_ratio: Number((tarXCpu / applied.cpu).toFixed(3)),
    apply_page_faults: applied.faults,
    diff_cpu_s: Number(diffed.cpu.toFixed(2)),
    tar_c_cpu_s: Number(tarCCpu.toFixed(2)),
    diff_cpu_ratio: Number((tarCCpu / diffed.cpu).toFixed(3)),
    bare_apply_ratio: Number((tarX / bareApplied.seconds).toFixed(3)),
    bare_diff_ratio: Number((tarCRead.seconds / bareDiffed.seconds).toFixed(3)),
    bare_apply_cpu_s: Number(bareApplied.cpu.toFixed(2)),
    bare_diff_cpu_s: Number(bareDiffed.cpu.toFixed(2)),
    apply_peak_rss_mb: Number(applied.peakRss.toFixed(1)),
    peak_rss_mb: Number(peakRss.toFixed(1))
  }
  console.log(
    `round ${r + 1}: ApplyDiff ${line.apply_mbps} vs tar -x ${line.tar_x_mbps} MB/s (${line.apply_ratio}), ` +
      `Diff ${line.diff_mbps} vs tar -c ${line.tar_c_mbps} MB/s (${line.diff_ratio}; ceiling ${line.ceiling_diff_ratio}), ` +
      (native === undefined
        ? ""
        : `read by curl ${line.native_diff_mbps} vs tar -c | cat ${line.native_tar_c_mbps} MB/s (${line.native_diff_ratio}), `) +
      `CPU ratios ${line.apply_cpu_ratio} / ${line.diff_cpu_ratio}, Diff's first byte ${line.diff_first_byte_ms} ms, ` +
      `ApplyDiff's page faults ${line.apply_page_faults}; bare plugin ${line.bare_apply_ratio} / ${line.bare_diff_ratio}; ` +
      `plugin's peak RSS so far ${line.apply_peak_rss_mb} MB after ApplyDiff, ${line.peak_rss_mb} MB after Diff`
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
  size_mib: from === undefined ? sizeMiB : Math.round(tarBytes / MiB),
  ...(from === undefined ? {} : { from }),
  files,
  tar_bytes: tarBytes,
  rounds,
  apply_mbps: median("apply_mbps"),
  tar_x_mbps: median("tar_x_mbps"),
  apply_ratio: median("apply_ratio"),
  diff_mbps: median("diff_mbps"),
  tar_c_mbps: median("tar_c_mbps"),
  diff_ratio: median("diff_ratio"),
  ceiling_mbps: median("ceiling_mbps"),
  ceiling_diff_ratio: median("ceiling_diff_ratio"),
  ...(hasCurl
    ? {
        native_diff_mbps: median("native_diff_mbps"),
        native_tar_c_mbps: median("native_tar_c_mbps"),
        native_diff_ratio: median("native_diff_ratio")
      }
    : {}),
  diff_first_byte_ms: median("diff_first_byte_ms"),
  tar_c_first_byte_ms: median("tar_c_first_byte_ms"),
  apply_cpu_s: median("apply_cpu_s"),
  tar_x_cpu_s: median("tar_x_cpu_s"),
  apply_cpu_ratio: median("apply_cpu_ratio"),
  apply_page_faults: median("apply_page_faults"),
  diff_cpu_s: median("diff_cpu_s"),
  tar_c_cpu_s: median("tar_c_cpu_s"),
  diff_cpu_ratio: median("diff_cpu_ratio"),
  bare_apply_ratio: median("bare_apply_ratio"),
  bare_diff_ratio: median("bare_diff_ratio"),
  bare_apply_cpu_s: median("bare_apply_cpu_s"),
  bare_diff_cpu_s: median("bare_diff_cpu_s"),
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
  `ceiling   ${result.ceiling_mbps} MB/s read from a Node plugin that makes nothing: at most ratio ${result.ceiling_diff_ratio} for any Node plugin's Diff read by this process`
)
if (hasCurl) {
  console.log(
    `Diff read by curl ${result.native_diff_mbps} MB/s vs tar -c | cat ${result.native_tar_c_mbps} MB/s: ratio ${result.native_diff_ratio}`
  )
}
console.log(
  `CPU: ApplyDiff ${result.apply_cpu_s} s vs tar -x ${result.tar_x_cpu_s} s (${result.apply_cpu_ratio}); ` +
    `Diff ${result.diff_cpu_s} s vs tar -c ${result.tar_c_cpu_s} s (${result.diff_cpu_ratio})`
)
console.log(
  `bare plugin (tar-stream and Node's file calls, nothing else): ApplyDiff ratio ${result.bare_apply_ratio} ` +
    `(CPU ${result.bare_apply_cpu_s} s), Diff ratio ${result.bare_diff_ratio} (CPU ${result.bare_diff_cpu_s} s)`
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
