// Random layer tars against LayerApply's two promises: nothing is written outside the target folder, and every
// failure is one of its typed errors (never a crash). Seeded, so a failing case can be replayed.
import { LayerApply } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Stream } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { type RawEntry, rawTar, snapshot, tempDir } from "./support.ts"

/** mulberry32: a small seeded generator, enough to pick among a few choices. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

type Pick = <A>(choices: ReadonlyArray<A>) => A

// Three plain names most of the time, so that entries land on each other (a symlink, then a file through it), and
// now and then a part that climbs, is empty, is a whiteout, or is too long.
const plain = ["a", "s", "l"]
const hostile = ["..", ".", "", ".wh.a", ".wh.s", ".wh..wh..opq", ".wh..", "x".repeat(300)]

const nameOf = (pick: Pick, next: () => number) => {
  const part = () => (next() < 0.9 ? pick(plain) : pick(hostile))
  const parts = Array.from({ length: pick([1, 1, 2, 2, 3]) }, part)
  return `${pick(["", "", "", "", "", "", "", "", "/", "./"])}${parts.join("/")}${pick(["", "", "", "/"])}`
}

/** An entry of any kind, with names and link targets that aim at the folder's parent now and then. */
const entryOf = (pick: Pick, next: () => number, outside: string): RawEntry => {
  const name = nameOf(pick, next)
  const mtime = new Date(1_700_000_000_000)
  switch (pick(["file", "file", "directory", "symlink", "link", "fifo", "character-device"] as const)) {
    case "file":
      return { header: { name, mtime, mode: 0o644 }, body: pick(["", "x", "y".repeat(1000)]) }
    case "directory":
      return { header: { name, mtime, type: "directory", mode: pick([0o755, 0o700, 0o000]) } }
    case "symlink": {
      const linkname = pick([
        "../outside",
        "../outside",
        outside,
        outside,
        "..",
        "s/../..",
        "/",
        `${outside}/victim`,
        "a"
      ])
      return { header: { name, mtime, type: "symlink", linkname } }
    }
    case "link":
      return {
        header: { name, mtime, type: "link", linkname: pick([nameOf(pick, next), "../outside/victim", "s/victim"]) }
      }
    case "fifo":
      return { header: { name, mtime, type: "fifo", mode: 0o644 } }
    case "character-device":
      return { header: { name, mtime, type: "character-device", devmajor: 1, devminor: 3, mode: 0o666 } }
  }
}

/** Applies `tar`; answers the failure's tag (or "applied"), after checking the folder's surroundings are as they were. */
const applyChecked = (base: string, tar: Uint8Array, whiteouts: LayerApply.WhiteoutMode) =>
  Effect.gen(function* () {
    const root = Path.join(base, "root")
    const outside = Path.join(base, "outside")
    const exit = yield* Effect.exit(LayerApply.apply(root, Stream.make(tar), { whiteouts }))
    expect(Fs.readdirSync(base).sort()).toEqual(["outside", "root"])
    expect(Fs.readdirSync(outside)).toEqual(["victim"])
    // The folder's own time too: a folder's time set through a symlink that took its place would change it.
    const folder = Fs.statSync(outside)
    expect([folder.mode & 0o7777, folder.uid, folder.mtime.getTime()]).toEqual([0o755, process.getuid?.(), 1e12])
    expect(Fs.readFileSync(Path.join(outside, "victim"), "utf8")).toBe("original")
    const victim = Fs.lstatSync(Path.join(outside, "victim"))
    // Mode, owner and time: a chmod, chown or utimes through a symlink would change one.
    expect([victim.mode & 0o7777, victim.uid, victim.mtime.getTime()]).toEqual([0o644, process.getuid?.(), 1e12])
    if (Exit.isSuccess(exit)) return "applied"
    const error = Cause.squash(exit.cause) as { readonly _tag?: string }
    expect(["UnsafeEntry", "MalformedTar", "LayerIoError"], String(error)).toContain(error._tag)
    return error._tag!
  })

const sandbox = Effect.map(tempDir, (base) => {
  Fs.mkdirSync(Path.join(base, "root"))
  Fs.mkdirSync(Path.join(base, "outside"), { mode: 0o755 })
  Fs.chmodSync(Path.join(base, "outside"), 0o755)
  const victim = Path.join(base, "outside", "victim")
  Fs.writeFileSync(victim, "original", { mode: 0o644 })
  Fs.utimesSync(victim, 1e9, 1e9)
  Fs.utimesSync(Path.join(base, "outside"), 1e9, 1e9)
  return base
})

/** A seeded generator and a pick among choices drawn from it. */
const seeded = (seed: number) => {
  const next = random(seed)
  const pick: Pick = (choices) => choices[Math.floor(next() * choices.length)]!
  return { next, pick }
}

/** Runs `f` on a new sandbox, removed afterwards (checked). */
const inSandbox = <A, E>(f: (base: string) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const base = yield* Effect.scoped(Effect.flatMap(sandbox, (base) => Effect.as(f(base), base)))
    expect(Fs.existsSync(base)).toBe(false)
  })

describe("LayerApply.apply on random tars", () => {
  it.effect(
    "400 tars of random entries: nothing written outside the folder, every failure typed",
    () =>
      Effect.gen(function* () {
        const { next, pick } = seeded(20261128)
        const outcomes = new Map<string, number>()
        for (let i = 0; i < 400; i++) {
          yield* inSandbox((base) =>
            Effect.gen(function* () {
              const outside = Path.join(base, "outside")
              // A symlink to the folder's parent under a name other entries use: first in half the tars, and last
              // in a third, in place of whatever an earlier entry made under that name.
              const plant = (): RawEntry => ({
                header: { name: pick(plain), type: "symlink", linkname: pick(["../outside", outside]) }
              })
              const middle = Array.from({ length: 1 + Math.floor(next() * 6) }, () => entryOf(pick, next, outside))
              const entries = [...(next() < 0.5 ? [plant()] : []), ...middle, ...(next() < 0.33 ? [plant()] : [])]
              const outcome = yield* applyChecked(base, yield* rawTar(entries), pick(["naive", "overlay"] as const))
              outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
            })
          )
        }
        // The generator reaches both sides: tars applied whole, and tars refused for an escape.
        expect(outcomes.get("applied")).toBeGreaterThan(60)
        expect(outcomes.get("UnsafeEntry")).toBeGreaterThan(150)
      }),
    60_000
  )

  it.effect(
    "300 valid tars with bytes changed at random: nothing written outside the folder, every failure typed",
    () =>
      Effect.gen(function* () {
        const { next, pick } = seeded(1128)
        const outcomes = new Set<string>()
        for (let i = 0; i < 300; i++) {
          yield* inSandbox((base) =>
            Effect.gen(function* () {
              const tar = Buffer.from(
                yield* rawTar([
                  { header: { name: "a/", type: "directory", mode: 0o755 } },
                  { header: { name: "a/f", mode: 0o644 }, body: "content" },
                  { header: { name: "a/l", type: "symlink", linkname: "f" } },
                  { header: { name: "b", type: "link", linkname: "a/f" } }
                ])
              )
              // Most changes land in the four headers, where they matter most.
              for (let n = 1 + Math.floor(next() * 4); n > 0; n--) {
                const at = pick([0, 512, 1024, 1536, 2048]) + Math.floor(next() * 512)
                tar[Math.min(at, tar.length - 1)] = Math.floor(next() * 256)
              }
              outcomes.add(yield* applyChecked(base, tar, "naive"))
            })
          )
        }
        // Changed bytes both broke the tar and let it through.
        expect([...outcomes].sort()).toEqual(expect.arrayContaining(["MalformedTar", "applied"]))
      }),
    60_000
  )

  it.effect(
    "200 tars of random entries, bodies of up to 600 KiB: the same outcome and the same files with and without write-behind",
    () =>
      Effect.gen(function* () {
        const { next, pick } = seeded(20261129)
        // What a layer must preserve, and regular files' modification times (set by the write-behind thread; made
        // folders and whiteouts get the time of the run).
        const withTimes = (root: string) =>
          snapshot(root).map((line) => {
            const stat = Fs.lstatSync(Path.join(root, line.slice(0, line.indexOf(" "))))
            return stat.isFile() ? `${line} ${stat.mtime.getTime()}` : line
          })
        const outcomes = new Set<string>()
        for (let i = 0; i < 200; i++) {
          const bodies = ["", "x", "y".repeat(1000), Buffer.alloc(600 * 1024 + 7, i)]
          const entries = Array.from({ length: 1 + Math.floor(next() * 8) }, () => {
            const entry = entryOf(pick, next, "/nonexistent-outside")
            return entry.body === undefined ? entry : { ...entry, body: pick(bodies) }
          })
          const tar = yield* rawTar(entries)
          const whiteouts = pick(["naive", "overlay"] as const)
          const results = yield* Effect.forEach([true, false], (writeBehind) =>
            Effect.scoped(
              Effect.gen(function* () {
                const root = Path.join(yield* tempDir, "root")
                Fs.mkdirSync(root)
                const exit = yield* Effect.exit(LayerApply.apply(root, Stream.make(tar), { whiteouts, writeBehind }))
                const outcome = Exit.isSuccess(exit) ? JSON.stringify(exit.value) : String(Cause.squash(exit.cause))
                return { outcome, files: withTimes(root) }
              })
            )
          )
          expect(results[0], JSON.stringify(entries.map((e) => e.header))).toEqual(results[1])
          outcomes.add(results[0]!.outcome.startsWith("{") ? "applied" : "refused")
        }
        expect([...outcomes].sort()).toEqual(["applied", "refused"])
      }),
    60_000
  )
})
