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
import * as Net from "node:net"
import * as DockerEngine from "./DockerEngine.ts"

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

/** A TCP port nobody listens on now. */
const freeTcpPort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

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
    listen: `127.0.0.1:${await freeTcpPort()}`,
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
