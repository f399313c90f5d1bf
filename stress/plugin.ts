/**
 * A reference driver served by `dpk serve` in a child process of its own, as a daemon would reach it: over a Unix
 * socket in a temp folder. The stress scenarios start, kill and restart it, and sample its memory.
 *
 * The CLI is bundled once per run with its own `dpk build` (as `pnpm build` and `dpk package` ship it) and the
 * bundle is what is served: it starts in about a second where the TypeScript sources, type-stripped module by
 * module, take four on a loaded 2-core machine, and the `kill -9` rounds are mostly starts. Those rounds also keep
 * V8's compiled code of the bundle in Node's compile cache (`NODE_COMPILE_CACHE`, a deployment option the start-up
 * benchmark measures): compiling the 1.5 MB bundle was about 160 of a start's 470 ms of CPU, redone at each of hundreds
 * of starts.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const cliBin = Path.join(import.meta.dirname, "..", "packages", "cli", "src", "bin.ts")

/** The Node flags `dpk serve` runs with (see the root package.json). */
const nodeFlags = ["--max-semi-space-size=2"]

let bundled: Promise<string> | undefined

/** Options of a start. */
export interface StartOptions {
  /**
   * Run with Node's compile cache, kept beside the bundle. A process killed with SIGKILL never writes it: a start
   * stopped with SIGTERM first fills it.
   */
  readonly compileCache?: boolean
}

/** The CLI as one JavaScript file in a temp folder, built on first use and removed when the run exits. */
const bundle = (): Promise<string> => {
  bundled ??= new Promise((resolve, reject) => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-stress-cli-"))
    process.once("exit", () => Fs.rmSync(dir, { recursive: true, force: true }))
    const out = Path.join(dir, "dpk.js")
    ChildProcess.execFile(
      process.execPath,
      [
        "--conditions=@docker-plugin-kit/source",
        cliBin,
        "build",
        cliBin,
        "--out",
        out,
        "--external",
        "esbuild",
        "--split"
      ],
      (error, _stdout, stderr) => (error === null ? resolve(out) : reject(new Error(`dpk build: ${stderr}`)))
    )
  })
  return bundled
}

/** A running plugin process. */
export interface Plugin {
  readonly socket: string
  readonly pid: number
  /** Resident memory now, in bytes (0 once the process is gone). */
  readonly rss: () => number
  /** Highest RSS seen by the sampler since start, in bytes. */
  readonly peakRss: () => number
  /** Whether the process is still running. */
  readonly alive: () => boolean
  /** Everything it wrote to stderr (for the report when it dies). */
  readonly stderr: () => string
  /** Everything it wrote to stdout and stderr (its log lines). */
  readonly output: () => string
  /** SIGKILL, then wait for the exit. */
  readonly kill9: () => Promise<void>
  /** SIGTERM, then wait for the exit. */
  readonly stop: () => Promise<void>
}

const rssOf = (pid: number): number => {
  try {
    const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1]
    return kb === undefined ? 0 : Number(kb) * 1024
  } catch {
    return 0
  }
}

/**
 * Serves `driver` with `args` (its own flags) on `socket`; resolves once it listens. `wrap` is a command the plugin
 * runs under (`unshare --net` keeps the links it creates in a namespace of its own, gone with the process).
 */
export const start = async (
  driver: string,
  socket: string,
  args: ReadonlyArray<string>,
  wrap: ReadonlyArray<string> = [],
  options: StartOptions = {}
): Promise<Plugin> => {
  const cli = await bundle()
  const env =
    options.compileCache === true
      ? { ...process.env, NODE_COMPILE_CACHE: Path.join(Path.dirname(cli), "compile-cache") }
      : process.env
  return new Promise((resolve, reject) => {
    Fs.rmSync(socket, { force: true })
    const argv = [
      process.execPath,
      ...nodeFlags,
      cli,
      "serve",
      driver,
      "--name",
      Path.basename(socket, ".sock"),
      "--socket",
      socket,
      ...args
    ]
    const [command, ...rest] = [...wrap, ...argv]
    const child = ChildProcess.spawn(command!, rest, { stdio: ["ignore", "pipe", "pipe"], env })
    child.once("error", reject)
    let out = ""
    let err = ""
    let listening = false
    let exited = false
    let peak = 0
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssOf(child.pid!))
    }, 50)
    const exit = new Promise<void>((done) =>
      child.once("exit", () => {
        exited = true
        clearInterval(sampler)
        done()
      })
    )
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      if (!listening && out.includes("listening on")) {
        listening = true
        resolve({
          socket,
          pid: child.pid!,
          rss: () => (exited ? 0 : rssOf(child.pid!)),
          peakRss: () => Math.max(peak, exited ? 0 : rssOf(child.pid!)),
          alive: () => !exited,
          stderr: () => err,
          output: () => `${out}${err}`,
          kill9: () => signal("SIGKILL"),
          stop: () => signal("SIGTERM")
        })
      }
    })
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString()
    })
    const signal = async (name: NodeJS.Signals) => {
      if (exited) return
      child.kill(name)
      await exit
    }
    child.once("exit", (code, signalName) => {
      if (!listening)
        reject(new Error(`${driver} exited (${code ?? signalName}) before listening: ${err.trim() || out.trim()}`))
    })
  })
}
