/**
 * A private Docker Engine for end-to-end tests: a `dockerd` of its own in a temp folder (own data root, exec root,
 * socket and containerd), a busybox image imported from the host's static busybox, and a `docker` runner bound to
 * it. Everything it started is stopped, and its folder removed, when the Scope closes.
 *
 * Volume plugins are still discovered in `/run/docker/plugins`, which every daemon on the host shares: give each
 * test plugin a unique name.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/**
 * The engine could not be started (or a tool it needs is missing). The message carries the daemon's log tail.
 *
 * @since 0.1.0
 */
export class DockerEngineError extends Schema.TaggedError<DockerEngineError>()("DockerEngineError", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

/**
 * A `docker` command exited with a non-zero status.
 *
 * @since 0.1.0
 */
export class DockerCommandFailed extends Schema.TaggedError<DockerCommandFailed>()("DockerCommandFailed", {
  args: Schema.Array(Schema.String),
  exitCode: Schema.Number,
  stdout: Schema.String,
  stderr: Schema.String
}) {
  override get message() {
    return `docker ${this.args.join(" ")} exited with ${this.exitCode}: ${this.stderr.trim() || this.stdout.trim()}`
  }
}

/**
 * What a `docker` command printed.
 *
 * @since 0.1.0
 */
export interface DockerResult {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * The host programs the engine needs.
 *
 * @since 0.1.0
 */
export interface Tools {
  readonly dockerd: string
  /** The docker CLI of the same release as the daemon (Debian's `docker.io` package when installed). */
  readonly docker: string
  /** A statically linked busybox, the only file of the test image. */
  readonly busybox: string
}

/**
 * A running private engine.
 *
 * @since 0.1.0
 */
export interface Engine {
  /** Temp folder holding everything the engine writes. */
  readonly dir: string
  /** `unix://…/docker.sock`. */
  readonly host: string
  /** Process id of `dockerd` (a new one after `restart`). */
  readonly pid: number
  readonly tools: Tools
  /** The busybox image (`sh`, `ls`, `cat`, `echo`, `mkdir`, `touch`, `sleep`, `test`, ...). */
  readonly image: string
  /** Runs the CLI against this engine; fails when it exits non-zero. Resolves to the trimmed stdout. */
  readonly docker: (...args: ReadonlyArray<string>) => Effect.Effect<string, DockerCommandFailed>
  /** Runs the CLI against this engine and reports whatever happened. */
  readonly dockerResult: (...args: ReadonlyArray<string>) => Effect.Effect<DockerResult>
  /** The last lines of the daemon's log. */
  readonly logTail: (lines?: number) => string
  /** Stops the daemon (SIGTERM, by pid) and starts it again on the same data root, as a host reboot would. */
  readonly restart: Effect.Effect<void, DockerEngineError>
  /**
   * As `restart`, with `daemonArgs` in place of the options' (kept by later restarts): e.g. `["--experimental", "-s",
   * "NAME:TAG"]` to start the same data root on a managed storage-driver plugin enabled before, `[]` to go back.
   */
  readonly restartWith: (daemonArgs: ReadonlyArray<string>) => Effect.Effect<void, DockerEngineError>
}

/**
 * The engine as a service.
 *
 * @since 0.1.0
 */
export class DockerEngine extends Context.Service<DockerEngine, Engine>()("@docker-plugin-kit/testkit/DockerEngine") {}

/**
 * Options of `make`.
 *
 * @since 0.1.0
 */
export interface Options {
  /** How long to wait for `docker info` to answer (default 60 s). */
  readonly startTimeout?: Duration.Input
  /** Image reference to import busybox as (default `dpk-busybox:latest`). */
  readonly image?: string
  /**
   * More `dockerd` arguments, after the defaults (a later flag wins, e.g. `["--experimental", "-s", "NAME"]` for
   * a storage-driver plugin, which must already listen when the daemon starts).
   */
  readonly daemonArgs?: ReadonlyArray<string>
  /**
   * Remap the containers' user namespaces to this user's subordinate IDs (`--userns-remap`; see `RemapUser`). The
   * daemon then keeps its data under `root/UID.GID` and needs every folder above it passable by that user.
   */
  readonly usernsRemap?: string
}

/** Commands the test image links to busybox. */
const applets = [
  "sh",
  "ls",
  "cat",
  "echo",
  "mkdir",
  "touch",
  "sleep",
  "test",
  "rm",
  "stat",
  "id",
  "wc",
  "true",
  "false"
] as const

const isExecutable = (path: string) => {
  try {
    Fs.accessSync(path, Fs.constants.X_OK)
    return Fs.statSync(path).isFile()
  } catch {
    return false
  }
}

const onPath = (name: string, extra: ReadonlyArray<string> = []): string | undefined =>
  [...(process.env.PATH ?? "").split(":"), ...extra]
    .filter((d) => d !== "")
    .map((d) => Path.join(d, name))
    .find(isExecutable)

/** Files a Debian package installed that end with `suffix` (empty when dpkg or the package is absent). */
const fromPackage = (pkg: string, suffix: string): string | undefined => {
  try {
    const out = ChildProcess.execFileSync("dpkg", ["-L", pkg], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"]
    })
    return out
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l.endsWith(suffix) && isExecutable(l))
  } catch {
    return undefined
  }
}

/** True for an ELF executable without a program interpreter, i.e. statically linked. */
const isStaticElf = (path: string): boolean => {
  const fd = Fs.openSync(path, "r")
  try {
    const header = Buffer.alloc(64)
    Fs.readSync(fd, header, 0, 64, 0)
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2) return false
    const phoff = Number(header.readBigUInt64LE(32))
    const phentsize = header.readUInt16LE(54)
    const phnum = header.readUInt16LE(56)
    const table = Buffer.alloc(phentsize * phnum)
    Fs.readSync(fd, table, 0, table.length, phoff)
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3) return false // PT_INTERP
    return true
  } finally {
    Fs.closeSync(fd)
  }
}

/**
 * Finds the programs the engine needs, or says why this machine cannot run it. Each can be overridden with
 * `DPK_DOCKERD`, `DPK_DOCKER_CLI` or `DPK_BUSYBOX`.
 *
 * @since 0.1.0
 */
export const findTools = (): Result.Result<Tools, string> => {
  if (process.platform !== "linux") return Result.fail(`dockerd needs Linux (this is ${process.platform})`)
  const uid = process.getuid?.()
  if (uid !== 0) return Result.fail(`dockerd needs root (running as uid ${uid})`)
  const sbin = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
  const dockerd = process.env.DPK_DOCKERD ?? onPath("dockerd", sbin)
  if (dockerd === undefined || !isExecutable(dockerd)) {
    return Result.fail("no dockerd binary (apt-get install docker.io)")
  }
  // Prefer the CLI packaged with the daemon: another docker on PATH may be a newer release.
  const docker = process.env.DPK_DOCKER_CLI ?? fromPackage("docker.io", "/bin/docker") ?? onPath("docker", sbin)
  if (docker === undefined || !isExecutable(docker)) return Result.fail("no docker CLI (apt-get install docker.io)")
  const busybox =
    process.env.DPK_BUSYBOX ??
    [fromPackage("busybox-static", "/bin/busybox"), onPath("busybox", sbin)].find(
      (p) => p !== undefined && isStaticElf(p)
    )
  if (busybox === undefined || !isExecutable(busybox)) {
    return Result.fail("no statically linked busybox (apt-get install busybox-static)")
  }
  return Result.succeed({ dockerd, docker, busybox })
}

const tail = (file: string, lines: number): string => {
  try {
    const text = Fs.readFileSync(file, "utf8").trimEnd()
    return text === "" ? "(the daemon log is empty)" : text.split("\n").slice(-lines).join("\n")
  } catch {
    return "(no daemon log)"
  }
}

const runFile = (
  file: string,
  args: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
  timeoutMs = 0
): Effect.Effect<DockerResult> =>
  Effect.callback<DockerResult>((resume) => {
    const child = ChildProcess.execFile(
      file,
      [...args],
      { env, maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs, encoding: "utf8" },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
        resume(
          Effect.succeed({ exitCode: code, stdout, stderr: error !== null && stderr === "" ? error.message : stderr })
        )
      }
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const waitForExit = (pid: number, timeout: Duration.Input) =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(Duration.fromInputUnsafe(timeout))
    while (alive(pid) && Date.now() < deadline) yield* Effect.sleep("100 millis")
    return !alive(pid)
  })

const stopPid = (pid: number) =>
  Effect.gen(function* () {
    if (!alive(pid)) return
    process.kill(pid, "SIGTERM")
    if (!(yield* waitForExit(pid, "20 seconds"))) {
      process.kill(pid, "SIGKILL")
      yield* waitForExit(pid, "5 seconds")
    }
  }).pipe(Effect.ignore)

/** Mount points under `dir` (deepest first), which must go before the folder can be removed. */
const mountsUnder = (dir: string): ReadonlyArray<string> => {
  try {
    return Fs.readFileSync("/proc/self/mounts", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[1]?.replace(/\\040/g, " "))
      .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
      .sort((a, b) => b.length - a.length)
  } catch {
    return []
  }
}

/**
 * Starts a private engine for the life of the scope.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Engine, DockerEngineError, Scope.Scope> =>
  Effect.gen(function* () {
    const tools = yield* Effect.fromResult(Result.mapError(findTools(), (reason) => new DockerEngineError({ reason })))
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-engine-"))),
      (dir) =>
        Effect.sync(() => {
          for (const m of mountsUnder(dir)) ChildProcess.spawnSync("umount", ["-l", m], { stdio: "ignore" })
          Fs.rmSync(dir, { recursive: true, force: true })
        })
    )
    // The remapped root must pass through the engine's folder to reach its data (the daemon refuses to start else).
    if (options.usernsRemap !== undefined) Fs.chmodSync(dir, 0o711)
    const socket = Path.join(dir, "docker.sock")
    const host = `unix://${socket}`
    const log = Path.join(dir, "dockerd.log")
    // A config folder of its own, so no user settings or credentials leak into the tests.
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: Path.join(dir, "cli-config") }
    delete env.DOCKER_HOST
    delete env.DOCKER_CONTEXT
    const dockerResult = (...args: ReadonlyArray<string>) => runFile(tools.docker, ["-H", host, ...args], env)
    const docker = (...args: ReadonlyArray<string>) =>
      Effect.flatMap(dockerResult(...args), (r) =>
        r.exitCode === 0
          ? Effect.succeed(r.stdout.trim())
          : Effect.fail(
              new DockerCommandFailed({ args: [...args], exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr })
            )
      )
    const logTail = (lines = 30) => tail(log, lines)

    let daemonArgs = options.daemonArgs ?? []
    const spawnDaemon = () => {
      const out = Fs.openSync(log, "a")
      const child = ChildProcess.spawn(
        tools.dockerd,
        [
          "--iptables=false",
          "--ip-masq=false",
          "--bridge=none",
          "--storage-driver=vfs",
          `--data-root=${Path.join(dir, "root")}`,
          `--exec-root=${Path.join(dir, "exec")}`,
          `--pidfile=${Path.join(dir, "docker.pid")}`,
          `--host=${host}`,
          ...(options.usernsRemap === undefined ? [] : [`--userns-remap=${options.usernsRemap}`]),
          ...daemonArgs
        ],
        { stdio: ["ignore", out, out], env }
      )
      Fs.closeSync(out)
      child.unref()
      return child.pid ?? -1
    }
    const containerdPid = () => {
      try {
        return Number(Fs.readFileSync(Path.join(dir, "exec", "containerd", "containerd.pid"), "utf8"))
      } catch {
        return undefined
      }
    }
    const stopDaemon = (pid: number) =>
      Effect.gen(function* () {
        const containerd = containerdPid()
        yield* stopPid(pid)
        if (containerd !== undefined && containerd > 0) yield* stopPid(containerd)
      })

    const daemon = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const state = { pid: spawnDaemon() }
        // If the test process exits without closing the scope, do not leave the daemon behind.
        const onExit = () => {
          if (state.pid > 0 && alive(state.pid)) process.kill(state.pid, "SIGTERM")
        }
        process.once("exit", onExit)
        return { state, onExit }
      }),
      ({ state, onExit }) =>
        Effect.gen(function* () {
          process.off("exit", onExit)
          // Containers first (their mounts and shims), then the daemon, then the containerd it started.
          const ids = yield* dockerResult("ps", "-aq")
          const list = ids.stdout.split("\n").filter((l) => l.trim() !== "")
          if (list.length > 0) yield* dockerResult("rm", "-f", ...list)
          yield* stopDaemon(state.pid)
        })
    )
    const state = daemon.state
    if (state.pid < 0) return yield* new DockerEngineError({ reason: `could not spawn ${tools.dockerd}` })

    const timeout = Duration.fromInputUnsafe(options.startTimeout ?? "60 seconds")
    const waitForInfo = Effect.gen(function* () {
      const deadline = Date.now() + Duration.toMillis(timeout)
      while (true) {
        const info = yield* runFile(tools.docker, ["-H", host, "info", "--format", "{{.ServerVersion}}"], env, 10_000)
        if (info.exitCode === 0) return
        if (!alive(state.pid)) {
          return yield* new DockerEngineError({ reason: `dockerd exited during start-up; log tail:\n${logTail()}` })
        }
        if (Date.now() > deadline) {
          return yield* new DockerEngineError({
            reason: `dockerd did not answer docker info within ${Duration.format(timeout)} (${info.stderr.trim()}); log tail:\n${logTail()}`
          })
        }
        yield* Effect.sleep("200 millis")
      }
    })
    yield* waitForInfo
    const restart = Effect.gen(function* () {
      yield* stopDaemon(state.pid)
      state.pid = spawnDaemon()
      if (state.pid < 0) return yield* new DockerEngineError({ reason: `could not spawn ${tools.dockerd}` })
      yield* waitForInfo
    })
    const restartWith = (args: ReadonlyArray<string>) =>
      Effect.suspend(() => {
        daemonArgs = args
        return restart
      })

    // The image: a folder holding bin/busybox and one link per applet, imported from a tar.
    const image = options.image ?? "dpk-busybox:latest"
    const rootfs = Path.join(dir, "image")
    Fs.mkdirSync(Path.join(rootfs, "bin"), { recursive: true })
    Fs.mkdirSync(Path.join(rootfs, "tmp"), { recursive: true })
    Fs.copyFileSync(tools.busybox, Path.join(rootfs, "bin", "busybox"))
    Fs.chmodSync(Path.join(rootfs, "bin", "busybox"), 0o755)
    for (const applet of applets) Fs.symlinkSync("busybox", Path.join(rootfs, "bin", applet))
    const tar = Path.join(dir, "image.tar")
    const packed = yield* runFile("tar", ["-C", rootfs, "-cf", tar, "."], env)
    if (packed.exitCode !== 0) return yield* new DockerEngineError({ reason: `tar failed: ${packed.stderr}` })
    yield* docker("import", "--change", 'CMD ["/bin/sh"]', "--change", "ENV PATH=/bin", tar, image).pipe(
      Effect.mapError((e) => new DockerEngineError({ reason: `could not import the busybox image: ${e.message}` }))
    )
    return {
      dir,
      host,
      get pid() {
        return state.pid
      },
      tools,
      image,
      docker,
      dockerResult,
      logTail,
      restart,
      restartWith
    } satisfies Engine
  })

/**
 * The engine as a Layer (one daemon for everything built from it).
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<DockerEngine, DockerEngineError> =>
  Layer.effect(DockerEngine, make(options))

/**
 * One engine for a test file, started at collection time so that `describe.skipIf(!shared.engine)` can skip the
 * file when it cannot run. `skipReason` is printed once, loudly.
 *
 * @since 0.1.0
 */
export interface Shared {
  readonly engine: Engine | undefined
  readonly skipReason: string | undefined
  /** Stops the engine and removes its folder (call it from `afterAll`). */
  readonly close: () => Promise<void>
}

/**
 * Starts one engine for a test file (use with top-level `await`), or explains why not.
 *
 * @since 0.1.0
 */
export const shared = async (options: Options = {}): Promise<Shared> => {
  const scope = Effect.runSync(Scope.make())
  const close = () => Effect.runPromise(Scope.close(scope, Exit.void))
  const started = await Effect.runPromise(Effect.result(make(options).pipe(Scope.provide(scope))))
  if (Result.isSuccess(started)) return { engine: started.success, skipReason: undefined, close }
  await close()
  const skipReason = started.failure.message
  // One line, whatever the reason: the daemon's log tail is folded into it.
  console.warn(`⚠ SKIPPING real Docker Engine tests: ${skipReason.replace(/\s*\n\s*/g, " | ").slice(0, 800)}`)
  return { engine: undefined, skipReason, close: async () => {} }
}
