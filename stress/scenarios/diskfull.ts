/**
 * A full disk: the driver's root and state on a small tmpfs the scenario mounts (root only). Calls that need space
 * must fail with an error that says so; the volumes acknowledged before stay, and the state loads after a restart.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { mib, type Row } from "../row.ts"
import type { Target } from "../targets.ts"
import * as Volumes from "../volumes.ts"
import { withWorkspace } from "./support.ts"

/** Runs the scenario, or answers why it cannot here. */
export const run = (target: Target): Promise<Row | string> => {
  if (!target.persistent) return Promise.resolve("skipped: nothing is written to disk")
  if (process.getuid?.() !== 0) return Promise.resolve("skipped: mounting a tmpfs needs root")
  return withWorkspace("diskfull", target, async ({ dir, socket, start }) => {
    Fs.mkdirSync(dir)
    ChildProcess.execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "dpk-stress", dir])
    try {
      const notes: Array<string> = []
      let wrong = 0
      let plugin = await start()
      const kept = ["a", "b", "c"]
      for (const Name of kept) {
        const err = await Volumes.ok(socket, "Create", { Name, Opts: { "label.x": "y" } })
        if (err !== undefined) notes.push(`before filling: ${err}`)
      }
      // Fill what is left.
      const filler = Path.join(dir, "filler")
      try {
        Fs.writeFileSync(filler, Buffer.alloc(2 * 1024 * 1024))
      } catch {
        // ENOSPC: the file system is full now.
      }
      let count = 0
      const errors: Array<string> = []
      for (let i = 0; i < 20; i++) {
        count++
        const err = await Volumes.ok(socket, "Create", { Name: `full${i}`, Opts: { "label.pad": "x".repeat(2000) } })
        if (err !== undefined) errors.push(err)
      }
      if (errors.length === 0) notes.push("no Create failed on the full disk")
      const unclear = errors.filter((e) => !/space|ENOSPC|full/i.test(e))
      wrong += unclear.length
      notes.push(
        `${errors.length} of 20 Creates failed on the full disk; e.g. ${errors[0] ?? "none"}`,
        ...unclear.slice(0, 2)
      )
      Fs.rmSync(filler, { force: true })
      await plugin.stop()
      plugin = await start()
      const listed = await Volumes.names(socket)
      const lost = kept.filter((n) => !listed.includes(n)).length
      const half = listed.filter((n) => !kept.includes(n) && !/^full\d+$/.test(n))
      notes.push(`after restart: ${listed.join(", ")}`)
      const err = await Volumes.ok(socket, "Create", { Name: "after", Opts: {} })
      if (err !== undefined) {
        wrong++
        notes.push(`after freeing space: ${err}`)
      }
      const row: Row = {
        scenario: "disk full",
        driver: target.driver,
        count,
        crashes: plugin.alive() ? 0 : 1,
        unanswered: 0,
        lost: lost + half.length,
        escapes: 0,
        wrong,
        peakRssMb: mib(plugin.peakRss()),
        notes
      }
      await plugin.stop()
      return row
    } finally {
      ChildProcess.execFileSync("umount", [dir])
    }
  })
}
