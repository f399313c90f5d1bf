/**
 * `pnpm stress`: what every reference driver survives, served over its Unix socket in a child process: fuzzing,
 * slow and idle clients, concurrent counted resources, `kill -9` at random moments, hostile names, a full disk.
 * Bounded in count and time; loopback Unix sockets only. Prints a table and, last, one JSON object.
 *
 * Options: --scenario NAME (repeatable: concurrency, crash, names, diskfull, slow, fuzz; default all)
 * --driver NAME (repeatable; default every covered driver) --requests N (fuzz requests per driver, 100000)
 * --crashes N (kill -9 rounds, 100)
 */
import { Descriptors } from "@docker-plugin-kit/drivers"
import { parseArgs } from "node:util"
import { clean, type Row } from "./row.ts"
import * as Concurrency from "./scenarios/concurrency.ts"
import * as Crash from "./scenarios/crash.ts"
import * as DiskFull from "./scenarios/diskfull.ts"
import * as Fuzz from "./scenarios/fuzz.ts"
import * as Names from "./scenarios/names.ts"
import * as Slow from "./scenarios/slow.ts"
import { type Target, targets } from "./targets.ts"

const { values: flags } = parseArgs({
  options: {
    scenario: { type: "string", multiple: true },
    driver: { type: "string", multiple: true },
    requests: { type: "string", default: "100000" },
    crashes: { type: "string", default: "100" }
  }
})

/** Each scenario answers a row, or why it does not apply to a driver (printed, not counted). Fuzzing, the longest, last. */
const scenarios: Record<string, (target: Target) => Promise<Row | string | undefined>> = {
  concurrency: (t) => Concurrency.run(t, 1_000),
  crash: (t) => Crash.run(t, Number(flags.crashes)),
  names: (t) => Names.run(t),
  diskfull: (t) => DiskFull.run(t),
  slow: (t) => Slow.run(t, 300, 15),
  fuzz: (t) => Fuzz.run(t, Number(flags.requests))
}

const chosen = flags.scenario ?? Object.keys(scenarios)
for (const s of chosen)
  if (scenarios[s] === undefined) throw new Error(`no scenario "${s}": ${Object.keys(scenarios).join(", ")}`)
const wanted = targets.filter((t) => flags.driver === undefined || flags.driver.includes(t.driver))
const uncovered = Descriptors.all.map((d) => d.name).filter((n) => !targets.some((t) => t.driver === n))
// A driver this machine cannot run is said loudly, once, and listed in the JSON line: never a silent pass.
const skipped: Array<{ driver: string; reason: string }> = []
for (const t of wanted) {
  const reason = t.unavailable?.()
  if (reason !== undefined) {
    skipped.push({ driver: t.driver, reason })
    console.log(`!!! SKIPPED ${t.driver}: ${reason}`)
  }
}
const drivers = wanted.filter((t) => !skipped.some((s) => s.driver === t.driver))

/**
 * Scenarios that mostly wait (slow clients trickle for 15 s whatever the driver) run for every driver at once;
 * the others one driver at a time, so that their memory and timing figures are the driver's own.
 */
const together = new Set(["slow"])

const started = Date.now()
const rows: Array<Row> = []
const timed = async (scenario: string, target: Target) => {
  const t0 = Date.now()
  const row = await scenarios[scenario]!(target)
  return { row, seconds: (Date.now() - t0) / 1000 }
}
for (const scenario of chosen) {
  const results = together.has(scenario) ? await Promise.all(drivers.map((target) => timed(scenario, target))) : []
  for (const [i, target] of drivers.entries()) {
    const { row, seconds } = results[i] ?? (await timed(scenario, target))
    if (row === undefined) continue
    if (typeof row === "string") {
      console.log(`${scenario} ${target.driver}: ${row}`)
      continue
    }
    rows.push(row)
    console.log(`${scenario} ${target.driver}: ${clean(row) ? "clean" : "PROBLEMS"} in ${seconds.toFixed(1)} s`)
    for (const note of row.notes) console.log(`  ${note}`)
  }
}

const header = ["scenario", "driver", "count", "crashes", "unanswered", "lost", "escapes", "wrong", "peak RSS MiB"]
const table = [
  header,
  ...rows.map((r) =>
    [r.scenario, r.driver, r.count, r.crashes, r.unanswered, r.lost, r.escapes, r.wrong, r.peakRssMb].map(String)
  )
]
const widths = header.map((_, i) => Math.max(...table.map((line) => line[i]!.length)))
console.log("")
for (const line of table) console.log(`| ${line.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`)
if (uncovered.length > 0) console.log(`not covered yet: ${uncovered.join(", ")}`)
for (const { driver, reason } of skipped) console.log(`!!! SKIPPED ${driver}: ${reason}`)
const ok = rows.every(clean)
console.log(
  JSON.stringify({
    stress: ok ? "clean" : "problems",
    seconds: Math.round((Date.now() - started) / 1000),
    rows: rows.map(({ notes: _, ...r }) => r),
    uncovered,
    skipped
  })
)
process.exit(ok ? 0 : 1)
