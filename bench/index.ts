/**
 * `pnpm bench [SUITE] [FLAGS]`: with no suite, the small-call benchmark (`run.ts`); otherwise `suites/SUITE.ts` (e.g. `pnpm bench startup`), each printing one JSON object as its last line.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

const [first, ...rest] = process.argv.slice(2)
const suite = first !== undefined && !first.startsWith("-") ? first : undefined
const suitesDir = Path.join(import.meta.dirname, "suites")
const script = suite === undefined ? Path.join(import.meta.dirname, "run.ts") : Path.join(suitesDir, `${suite}.ts`)
if (suite !== undefined && (!/^[a-z][a-z0-9-]*$/.test(suite) || !Fs.existsSync(script))) {
  const suites = Fs.readdirSync(suitesDir)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => f.slice(0, -3))
  console.error(`bench: no suite "${suite}"; suites: (none: the small-call benchmark), ${suites.join(", ")}`)
  process.exit(2)
}
process.argv = [process.argv[0]!, script, ...(suite === undefined ? process.argv.slice(2) : rest)]
await import(script)
