/**
 * The reference drivers `pnpm stress` knows how to serve in a temp folder, with what it can check of each.
 * A driver of the registry that is not here is reported as not covered.
 */
import * as Path from "node:path"

/** How to serve one driver for the stress scenarios. */
export interface Target {
  readonly driver: string
  /** Its own flags, with every folder inside `dir`. */
  readonly args: (dir: string) => ReadonlyArray<string>
  /** Whether its state outlives the process (the crash scenario applies). */
  readonly persistent: boolean
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
  // graph-overlay is graph-vfs plus overlay mounts, which a fuzzer should not pile up on the host.
  { driver: "graph-vfs", args: (dir) => ["--root", Path.join(dir, "graph")], persistent: true },
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
