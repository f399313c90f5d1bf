/**
 * The reference drivers `pnpm stress` knows how to serve in a temp folder, with what it can check of each.
 * A driver of the registry that is not here is reported as not covered; one that cannot run on this machine says why.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** How to serve one driver for the stress scenarios. */
export interface Target {
  readonly driver: string
  /** Its own flags, with every folder inside `dir`. */
  readonly args: (dir: string) => ReadonlyArray<string>
  /** Whether its state outlives the process (the crash scenario applies). */
  readonly persistent: boolean
  /**
   * For the `kill -9` rounds of a driver whose state is partly links on the host: the rounds make a network
   * namespace of their own, serve the plugin in it (`ip netns exec`) across the restarts instead of `wrap`, and
   * delete it afterwards.
   */
  readonly crashNetns?: boolean
  /** A command the plugin runs under: a namespace of its own for what it would otherwise change on the host. */
  readonly wrap?: ReadonlyArray<string>
  /**
   * For a driver whose accepted calls run host tools (a process per call): the full mix is capped at `requests`
   * over `connections`, and the rejected-only rounds (which must never reach the tools) carry the rest of the count.
   */
  readonly mix?: { readonly requests: number; readonly connections: number; readonly why: string }
  /** Why it cannot run here, or undefined when it can. */
  readonly unavailable?: () => string | undefined
}

const isRoot = () => process.getuid?.() === 0

const has = (tool: string): boolean => {
  try {
    ChildProcess.execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

/** Whether an overlay mounts here (root, the overlay module, a file system it accepts as upper layer). */
const overlayMounts = (): boolean => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-stress-overlay-"))
  try {
    for (const d of ["lower", "upper", "work", "merged"]) Fs.mkdirSync(Path.join(dir, d))
    ChildProcess.execFileSync(
      "mount",
      [
        "-t",
        "overlay",
        "overlay",
        "-o",
        `lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work`,
        `${dir}/merged`
      ],
      { stdio: "ignore" }
    )
    ChildProcess.execFileSync("umount", [`${dir}/merged`], { stdio: "ignore" })
    return true
  } catch {
    return false
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** The covered drivers. */
export const targets: ReadonlyArray<Target> = [
  { driver: "volume-memory", args: (dir) => ["--mount-root", Path.join(dir, "mnt")], persistent: false },
  {
    driver: "volume-local",
    args: (dir) => ["--root", Path.join(dir, "root"), "--state-dir", Path.join(dir, "state")],
    persistent: true
  },
  { driver: "ipam-pool", args: (dir) => ["--store", Path.join(dir, "ipam")], persistent: true },
  { driver: "graph-vfs", args: (dir) => ["--root", Path.join(dir, "graph")], persistent: true },
  {
    // The overlays it mounts stay in a mount namespace of its own, gone with the process (even after kill -9):
    // nothing piles up in the host's mount table whatever the fuzzer leaves mounted.
    driver: "graph-overlay",
    args: (dir) => ["--root", Path.join(dir, "graph")],
    persistent: true,
    wrap: ["unshare", "--mount", "--propagation", "private"],
    unavailable: () =>
      !isRoot()
        ? "mounting overlays needs root"
        : !has("unshare")
          ? "no unshare to give it a mount namespace of its own"
          : !overlayMounts()
            ? "overlayfs does not mount here"
            : undefined
  },
  {
    // Bridges and veths go to a network namespace of its own (the host's interfaces are never touched), which
    // disappears with the process, links and all.
    driver: "network-bridge",
    args: (dir) => ["--state-dir", Path.join(dir, "state")],
    persistent: false,
    wrap: ["unshare", "--net"],
    crashNetns: true,
    mix: { requests: 5_000, connections: 4, why: "every accepted call runs ip (a process) once or more" },
    unavailable: () =>
      !isRoot()
        ? "creating links needs root (CAP_NET_ADMIN)"
        : !has("unshare") || !has("ip")
          ? "needs unshare and ip (iproute2)"
          : undefined
  },
  {
    // StartLogging opens only FIFOs (O_NONBLOCK, O_NOFOLLOW): a fuzzed File path fails without blocking or reading
    // anything; the log files land under --dir.
    driver: "log-file",
    args: (dir) => ["--dir", Path.join(dir, "logs")],
    persistent: false
  },
  {
    driver: "authz-policy",
    args: () => ["--policy", Path.join(import.meta.dirname, "..", "examples", "authz-policy", "baseline.yaml")],
    persistent: false
  },
  {
    driver: "metrics-proxy",
    args: (dir) => ["--listen", "127.0.0.1:0", "--metrics-socket", Path.join(dir, "metrics.sock")],
    persistent: false
  }
]
