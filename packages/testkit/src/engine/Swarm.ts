/**
 * A private Docker Engine (`DockerEngine`) made a one-node swarm, for tests of what only swarm mode calls (secret
 * providers: `docker secret create --driver`, `docker service create --secret`).
 *
 * The swarm is kept off what the host's daemons share: its gateway bridge (`docker_gwbridge`, made before `swarm
 * init` so that its host interface gets a name of this run and a random subnet in 10.250-254.x.0/24), its ports
 * (free ones on 127.0.0.1, never 2377/4789), and tasks should run on the host network (`--network host`: no
 * overlay). `close` leaves the swarm before the daemon stops (a node that stays in its swarm tries to rejoin it at
 * its next start), then stops the daemon, then deletes the bridge's interface, which outlives the daemon.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Dgram from "node:dgram"
import * as DockerEngine from "./DockerEngine.ts"
import * as FreePort from "./FreePort.ts"

/**
 * Where the swarm is.
 *
 * @since 0.1.0
 */
export interface Swarm {
  /** The host interface of its gateway bridge: a name of this run (`dpkgw` and 8 hex digits, at most 15 characters). */
  readonly gateway: string
  /** The gateway bridge's subnet. */
  readonly subnet: string
  /** `127.0.0.1:PORT`: its listen address. */
  readonly listen: string
  /** Its data path (VXLAN) port. */
  readonly dataPathPort: number
}

/**
 * One engine in a swarm for a test file, started at collection time (use with top-level `await`) so that
 * `describe.skipIf(shared.engine === undefined)` skips the file where no engine can run.
 *
 * @since 0.1.0
 */
export interface Shared extends DockerEngine.Shared {
  /** Undefined exactly when `engine` is. */
  readonly swarm: Swarm | undefined
}

/**
 * Whether the host has a network interface of this name.
 *
 * @since 0.1.0
 */
export const linkExists = (name: string): boolean =>
  ChildProcess.execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" })
    .split("\n")
    .some((line) => line.split(": ")[1]?.split("@")[0] === name)

const random = (n: number) => Math.floor(Math.random() * n)

/** Polls `probe` every 200 ms until it answers something other than `undefined`, for at most 30 s. */
const until = <A, E>(what: string, probe: Effect.Effect<A | undefined, E>): Effect.Effect<A, E> =>
  Effect.gen(function* () {
    const deadline = Date.now() + 30_000
    for (;;) {
      const value = yield* probe
      if (value !== undefined) return value
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("200 millis")
    }
  })

/**
 * The containers of a swarm service on this node, as they are now (none before its tasks start).
 *
 * @since 0.1.0
 */
export const containers = (
  engine: DockerEngine.Engine,
  service: string
): Effect.Effect<ReadonlyArray<string>, DockerEngine.DockerCommandFailed> =>
  Effect.map(engine.docker("ps", "-q", "--filter", `label=com.docker.swarm.service.name=${service}`), (out) =>
    out.split("\n").filter((line) => line !== "")
  )

/**
 * The containers of a swarm service once at least `count` of them run (tasks start a while after `service
 * create`: polled every 200 ms, for at most 30 s).
 *
 * @since 0.1.0
 */
export const running = (
  engine: DockerEngine.Engine,
  service: string,
  count = 1
): Effect.Effect<ReadonlyArray<string>, DockerEngine.DockerCommandFailed> =>
  until(
    `${count} running container(s) of ${service}`,
    Effect.map(containers(engine, service), (ids) => (ids.length >= count ? ids : undefined))
  )

/**
 * The errors of a swarm service's tasks (`docker service ps --format {{.Error}}`, one per line) once one has
 * failed, polled as `running` is.
 *
 * @since 0.1.0
 */
export const taskErrors = (
  engine: DockerEngine.Engine,
  service: string
): Effect.Effect<string, DockerEngine.DockerCommandFailed> =>
  until(
    `a failed task of ${service}`,
    Effect.map(engine.docker("service", "ps", "--no-trunc", "--format", "{{.Error}}", service), (out) =>
      out.trim() === "" ? undefined : out.trim()
    )
  )

/** A UDP port nobody uses now, in the range swarm takes for its data path (1024-49151; the kernel's picks are above). */
const freeDataPathPort = async (): Promise<number> => {
  for (;;) {
    const port = 20_000 + random(29_000)
    const free = await new Promise<boolean>((resolve) => {
      const socket = Dgram.createSocket("udp4")
      socket.once("error", () => resolve(false))
      socket.bind(port, () => socket.close(() => resolve(true)))
    })
    if (free) return port
  }
}

/**
 * Starts a private engine (`DockerEngine.shared(options)`) and makes it a one-node swarm; `close` undoes both, in
 * order. Rejects, having undone what it made, when the swarm cannot be made.
 *
 * @since 0.1.0
 */
export const shared = async (options: DockerEngine.Options = {}): Promise<Shared> => {
  const started = await DockerEngine.shared(options)
  const engine = started.engine
  if (engine === undefined) return { ...started, swarm: undefined }
  const swarm: Swarm = {
    gateway: `dpkgw${Crypto.randomBytes(4).toString("hex")}`,
    subnet: `10.${250 + random(5)}.${random(256)}.0/24`,
    listen: `127.0.0.1:${await FreePort.tcp()}`,
    dataPathPort: await freeDataPathPort()
  }
  let joined = false
  const close = async () => {
    // Each step on its own: the next must run even when one fails.
    if (joined) await Effect.runPromise(Effect.ignore(engine.docker("swarm", "leave", "--force")))
    await started.close()
    // The daemon does not delete the bridge's interface: once it has stopped, nothing uses it.
    if (linkExists(swarm.gateway)) ChildProcess.spawnSync("ip", ["link", "del", swarm.gateway], { stdio: "ignore" })
  }
  try {
    await Effect.runPromise(
      Effect.gen(function* () {
        yield* engine.docker(
          ...["network", "create", "--driver", "bridge", "--subnet", swarm.subnet],
          ...["--opt", `com.docker.network.bridge.name=${swarm.gateway}`],
          ...["--opt", "com.docker.network.bridge.enable_icc=false"],
          ...["--opt", "com.docker.network.bridge.enable_ip_masquerade=false", "docker_gwbridge"]
        )
        // Counted as joined from here: a failed init may have joined all the same.
        joined = true
        yield* engine.docker(
          ...["swarm", "init", "--listen-addr", swarm.listen, "--advertise-addr", "127.0.0.1"],
          ...["--data-path-port", String(swarm.dataPathPort)]
        )
      })
    )
  } catch (e) {
    await close()
    throw e
  }
  return { engine, skipReason: undefined, swarm, close }
}
