/**
 * Concurrent counted resources: 1,000 Mount/Unmount pairs at once on a few volumes, half with IDs of their own and
 * half sharing a few IDs (as `docker cp` does). Every pair must succeed as it would serially, and every count end
 * at zero.
 */
import { mib, type Row } from "../row.ts"
import type { Target } from "../targets.ts"
import * as Volumes from "../volumes.ts"
import { pooled } from "../wire.ts"
import { withWorkspace } from "./support.ts"

/** Runs the scenario with `pairs` Mount/Unmount pairs. */
export const run = (target: Target, pairs: number): Promise<Row> =>
  withWorkspace("concurrency", target, async ({ socket, start }) => {
    const plugin = await start()
    // The daemon's client keeps a pool of connections; 1,000 calls in flight share 100 of them.
    const pool = pooled(100)
    const names = ["c1", "c2", "c3"]
    const errors: Array<string> = []
    for (const Name of names) {
      const err = await Volumes.ok(socket, "Create", { Name, Opts: {} })
      if (err !== undefined) errors.push(err)
    }
    const shared = Array.from({ length: 10 }, Volumes.mountId)
    await Promise.all(
      Array.from({ length: pairs }, async (_, i) => {
        const Name = names[i % names.length]!
        const ID = i % 2 === 0 ? Volumes.mountId() : shared[i % shared.length]!
        const mounted = await Volumes.ok(socket, "Mount", { Name, ID }, pool.call)
        if (mounted !== undefined) return void errors.push(mounted)
        const unmounted = await Volumes.ok(socket, "Unmount", { Name, ID }, pool.call)
        if (unmounted !== undefined) errors.push(unmounted)
      })
    )
    pool.close()
    const counts = await Promise.all(names.map((n) => Volumes.mountCount(socket, n)))
    const held = counts.filter((c) => c !== 0).length
    const row: Row = {
      scenario: "concurrent mounts",
      driver: target.driver,
      count: pairs * 2,
      crashes: plugin.alive() ? 0 : 1,
      unanswered: 0,
      lost: held,
      escapes: 0,
      wrong: errors.length,
      peakRssMb: mib(plugin.peakRss()),
      notes: [`mount counts at the end: ${counts.join(", ")}`, ...errors.slice(0, 3)]
    }
    await plugin.stop()
    return row
  })
