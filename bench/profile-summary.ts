/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, or `pnpm bench --profile`): the share of samples spent idle, in
 * GC, and in the functions with the most self time, plus the packages the time was spent in.
 *
 * Usage: node bench/profile-summary.ts FILE.cpuprofile [TOP]
 */
import * as Fs from "node:fs"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const file = process.argv[2]
if (file === undefined) throw new Error("usage: profile-summary.ts FILE.cpuprofile [TOP]")
const top = Number(process.argv[3] ?? "30")
const profile = JSON.parse(Fs.readFileSync(file, "utf8")) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))

const self = new Map<number, number>()
let total = 0
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0
  self.set(id, (self.get(id) ?? 0) + dt)
  total += dt
})

const where = (url: string): string => {
  if (url === "") return "(native)"
  if (url.startsWith("node:")) return "node"
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pnpm) return pnpm[1]!
  const pkg = /packages\/([^/]+)\//.exec(url)
  if (pkg) return `@docker-plugin-kit/${pkg[1]}`
  return url
}

const functions = new Map<string, number>()
const packages = new Map<string, number>()
for (const [id, us] of self) {
  const node = byId.get(id)!
  const { functionName, url, lineNumber } = node.callFrame
  const short = url
    .replace(/^.*\/(node_modules\/\.pnpm\/[^/]+\/node_modules\/)/, "")
    .replace(/^file:\/\/.*\/packages\//, "")
  const key = `${functionName || "(anonymous)"} ${short}:${lineNumber + 1}`
  functions.set(key, (functions.get(key) ?? 0) + us)
  const pkg = functionName.startsWith("(") ? functionName : where(url)
  packages.set(pkg, (packages.get(pkg) ?? 0) + us)
}

const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`)
console.log("\nby package / category:")
for (const [k, us] of [...packages].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(us)}  ${k}`)
console.log(`\ntop ${top} functions by self time:`)
for (const [k, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${k}`)
