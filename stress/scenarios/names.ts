/**
 * Hostile names and options: path tricks, NUL, over-long names, Unicode look-alikes of `.` and `/`, and a symlink
 * planted in the root pointing outside. Every call must be answered and nothing outside the root touched.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { mib, type Row } from "../row.ts"
import type { Target } from "../targets.ts"
import { difference, snapshot } from "../tree.ts"
import * as Volumes from "../volumes.ts"
import { call } from "../wire.ts"
import { withWorkspace } from "./support.ts"

const names = [
  "..",
  ".",
  "/",
  "a/b",
  "../escape",
  "..\\escape",
  "a\u0000b",
  "x".repeat(256),
  "é".repeat(200),
  "\u2024\u2024",
  "\uff0fetc",
  "\u2215etc",
  "a\u202eb",
  "-rf",
  " ",
  "planted"
]

const options: ReadonlyArray<Record<string, string>> = [
  { uid: "-1" },
  { mode: "77777" },
  { size: "-1G" },
  { "label.../../x": "y" },
  { "../../x": "y" },
  { __proto__: "x" },
  { mode: "0777\u0000" }
]

/** Runs the scenario: every name through Create, Mount, Path, Unmount, Remove; every option through Create. */
export const run = (target: Target): Promise<Row | undefined> =>
  withWorkspace("names", target, async ({ base, dir, socket, start }) => {
    const outside = Path.join(base, "outside")
    Fs.mkdirSync(outside)
    Fs.writeFileSync(Path.join(outside, "keep"), "must stay\n")
    const plugin = await start()
    // A symlink planted in the root, where a volume named "planted" would live.
    const root = Path.join(dir, "root")
    if (Fs.existsSync(root)) Fs.symlinkSync(outside, Path.join(root, "planted"))
    const before = snapshot(base, [dir])
    let count = 0
    let unanswered = 0
    const notes: Array<string> = []
    const send = async (method: string, body: unknown) => {
      count++
      try {
        const { json } = await call(socket, `/VolumeDriver.${method}`, body)
        return json
      } catch {
        unanswered++
        notes.push(`${method} ${JSON.stringify(body).slice(0, 60)}: no answer`)
        return undefined
      }
    }
    for (const Name of names) {
      await send("Create", { Name, Opts: {} })
      await send("Mount", { Name, ID: "x" })
      const path = await send("Path", { Name })
      const mountpoint = path?.Mountpoint as string | undefined
      if (
        mountpoint !== undefined &&
        dir !== "" &&
        Fs.existsSync(root) &&
        !Path.resolve(mountpoint).startsWith(`${root}/`)
      ) {
        notes.push(`${JSON.stringify(Name)}: mountpoint ${mountpoint} is outside the root`)
      }
      await send("Unmount", { Name, ID: "x" })
      await send("Remove", { Name })
    }
    for (const [i, Opts] of options.entries()) {
      await send("Create", { Name: `opts${i}`, Opts })
      await send("Remove", { Name: `opts${i}` })
    }
    const changed = difference(before, snapshot(base, [dir]))
    const listed = await Volumes.names(socket)
    notes.push(`volumes left listed: ${listed.length === 0 ? "none" : listed.join(", ")}`, ...changed.slice(0, 5))
    const row: Row = {
      scenario: "hostile names",
      driver: target.driver,
      count,
      crashes: plugin.alive() ? 0 : 1,
      unanswered,
      lost: 0,
      escapes: changed.length + notes.filter((n) => n.includes("outside the root")).length,
      wrong: 0,
      peakRssMb: mib(plugin.peakRss()),
      notes
    }
    await plugin.stop()
    return row
  })
