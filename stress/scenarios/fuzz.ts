/**
 * Fuzzing one driver: rejected requests first (the driver's visible state must not move), then the full mix, then
 * requests Node itself refuses. Memory is sampled throughout and read again after an idle pause.
 */
import { Descriptors } from "@docker-plugin-kit/drivers"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fuzz, malformed } from "../fuzz.ts"
import * as Plugin from "../plugin.ts"
import { mib, type Row } from "../row.ts"
import type { Target } from "../targets.ts"
import { difference, snapshot } from "../tree.ts"
import * as Volumes from "../volumes.ts"

/** Runs the scenario with `total` requests. */
export const run = async (target: Target, total: number): Promise<Row> => {
  const apis = Descriptors.byName(target.driver)!.apis
  const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-stress-fuzz-"))
  const dir = Path.join(base, "plugin")
  const outside = Path.join(base, "outside")
  Fs.mkdirSync(outside)
  Fs.writeFileSync(Path.join(outside, "keep"), "must stay\n")
  const socket = Path.join(base, `${target.driver}.sock`)
  const plugin = await Plugin.start(target.driver, socket, target.args(dir), target.wrap)
  const notes: Array<string> = []
  try {
    const isVolume = apis.some((a) => a.subsystem === "VolumeDriver")
    const outsideBefore = snapshot(outside, [])
    // A warm-up with every kind of input grows the heap to its working size; memory must come back to that.
    await fuzz(socket, apis, 2_000, { connections: target.mix?.connections ?? 16 })
    await malformed(socket, 10)
    await new Promise((r) => setTimeout(r, 1_000))
    const baseline = plugin.rss()

    // Rejected requests must change nothing and leak nothing. Two equal rounds of them: V8 keeps the heap it grew
    // to (4 MiB bodies), so a leak shows as the second round ending higher than the first, not as a gap to the
    // warm-up.
    // A capped mix leaves the rest of the count to the rejected rounds: at least `total` requests in all.
    const mixTotal = target.mix === undefined ? total : Math.min(total, target.mix.requests)
    const rejected = target.mix === undefined ? Math.round(total / 10) : Math.ceil((total - mixTotal) / 2)
    if (target.mix !== undefined)
      notes.push(
        `full mix capped at ${mixTotal} requests over ${target.mix.connections} connections (${target.mix.why}); ${rejected} per rejected round`
      )
    const stateBefore = isVolume ? await Volumes.names(socket) : []
    const rejectedRound = async () => {
      const tally = await fuzz(socket, apis, rejected, { onlyInvalid: true })
      const refusedTally = await malformed(socket, 40)
      await new Promise((r) => setTimeout(r, 1_000))
      return { tallies: [tally, refusedTally], rss: plugin.rss() }
    }
    const first = await rejectedRound()
    const second = await rejectedRound()
    const stateAfter = isVolume ? await Volumes.names(socket) : []
    const changed = difference(stateBefore, stateAfter)
    if (changed.length > 0) notes.push(`rejected requests changed the volume list: ${changed.slice(0, 3).join(", ")}`)
    const leaked = second.rss > first.rss + 32 * 2 ** 20
    const afterRejected = second.rss

    // The full mix creates state (volumes, pools, layers): memory is reported with what the driver then holds.
    const mixed = await fuzz(socket, apis, mixTotal, { connections: target.mix?.connections ?? 16 })
    await new Promise((r) => setTimeout(r, 1_000))
    const held = isVolume ? ` holding ${(await Volumes.names(socket)).length} volumes` : ""
    const tallies = [...first.tallies, ...second.tallies, mixed]
    notes.push(
      `RSS ${mib(baseline)} MiB after warm-up, ${mib(first.rss)} then ${mib(afterRejected)} MiB after two equal rounds of rejected requests (${leaked ? "GROWING: a leak" : "flat"}), ${mib(plugin.rss())} MiB after the full mix${held}`
    )
    for (const t of tallies) notes.push(...t.examples.unanswered, ...t.examples.accepted, ...t.examples.unnamed)
    const escaped = difference(outsideBefore, snapshot(outside, []))
    return {
      scenario: "fuzz",
      driver: target.driver,
      count: tallies.reduce((n, t) => n + t.requests, 0),
      crashes: plugin.alive() ? 0 : 1,
      unanswered: tallies.reduce((n, t) => n + t.unanswered, 0),
      lost: changed.length,
      escapes: escaped.length,
      wrong: tallies.reduce((n, t) => n + t.accepted + t.unnamed, 0) + (leaked ? 1 : 0),
      peakRssMb: mib(plugin.peakRss()),
      notes: plugin.alive() ? notes : [...notes, `plugin died: ${plugin.stderr().slice(-300)}`]
    }
  } finally {
    await plugin.stop()
    Fs.rmSync(base, { recursive: true, force: true })
  }
}
