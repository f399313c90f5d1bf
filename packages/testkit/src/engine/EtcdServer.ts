/**
 * A private etcd for tests and benchmarks: the host's `etcd` binary (Debian's `etcd-server`) on free loopback
 * ports with a data folder of its own in a temp folder, stopped by its pid. It can be stopped and started again
 * on the same ports and data, to test what a client does while etcd is away.
 *
 * @since 0.1.0
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as FreePort from "./FreePort.ts"
import * as Os from "node:os"
import * as Path from "node:path"

/**
 * A running (or stopped) private etcd.
 *
 * @since 0.1.0
 */
export interface EtcdServer {
  /** `127.0.0.1:PORT` of its client endpoint. */
  readonly endpoint: string
  /** Kills it (SIGKILL by default) and waits until it exited. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<void>
  /** Starts it again on the same ports and data. */
  readonly start: () => Promise<void>
  /** Stops it and removes its folder. */
  readonly close: () => Promise<void>
}

const healthy = (endpoint: string) =>
  new Promise<boolean>((resolve) => {
    const request = Http.get(`http://${endpoint}/health`, { timeout: 1000 }, (response) => {
      let body = ""
      response.on("data", (c) => {
        body += c
      })
      response.on("end", () => resolve(body.includes('"health":"true"')))
    })
    request.on("error", () => resolve(false))
    request.on("timeout", () => request.destroy())
  })

/**
 * Where the `etcd` binary is, or `undefined`.
 *
 * @since 0.1.0
 */
export const binary = (): string | undefined => ["/usr/bin/etcd", "/usr/local/bin/etcd"].find((p) => Fs.existsSync(p))

/**
 * Starts a private etcd; rejects with the reason when it cannot.
 *
 * @since 0.1.0
 */
export const start = async (): Promise<EtcdServer> => {
  const bin = binary()
  if (bin === undefined) throw new Error("no etcd binary (apt-get install etcd-server)")
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-etcd-"))
  const [clientPort, peerPort] = [await FreePort.tcp(), await FreePort.tcp()]
  const endpoint = `127.0.0.1:${clientPort}`
  const peer = `http://127.0.0.1:${peerPort}`
  let child: ChildProcess.ChildProcess | undefined
  let log = ""
  const run = async () => {
    log = ""
    child = ChildProcess.spawn(
      bin,
      [
        "--name=dpk",
        `--data-dir=${Path.join(dir, "data")}`,
        `--listen-client-urls=http://${endpoint}`,
        `--advertise-client-urls=http://${endpoint}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=dpk=${peer}`,
        "--log-level=error"
      ],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    const collect = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000)
    }
    child.stdout?.on("data", collect)
    child.stderr?.on("data", collect)
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}: ${log.trim()}`)
      if (await healthy(endpoint)) return
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`etcd did not become healthy within 10 s: ${log.trim()}`)
  }
  const stop = async (signal: NodeJS.Signals = "SIGKILL") => {
    const c = child
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()))
    c.kill(signal)
    await exited
  }
  try {
    await run()
  } catch (e) {
    await stop()
    Fs.rmSync(dir, { recursive: true, force: true })
    throw e
  }
  return {
    endpoint,
    stop,
    start: run,
    close: async () => {
      await stop()
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

/**
 * Starts one for a test file, or answers why it cannot (printed once, loudly) so the file can skip.
 *
 * @since 0.1.0
 */
export const shared = async (): Promise<{ readonly etcd: EtcdServer | undefined; readonly skipReason?: string }> => {
  try {
    return { etcd: await start() }
  } catch (e) {
    const skipReason = (e as Error).message
    console.warn(`⚠ SKIPPING etcd tests: ${skipReason.replace(/\s*\n\s*/g, " | ").slice(0, 800)}`)
    return { etcd: undefined, skipReason }
  }
}
