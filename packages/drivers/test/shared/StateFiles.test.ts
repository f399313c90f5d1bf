import { StateFiles, VolumeFsMemory } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Result, Schema } from "effect"

// A kind of state other than volumes, as a future driver would declare it.
const Pool = Schema.Struct({ version: Schema.Literal(1), id: Schema.String, cidr: Schema.String })
const pools = StateFiles.make({ schema: Pool, keyOf: (p) => p.id, noun: "pool" })
const layout = StateFiles.layout("/state", "pools")
const p1 = { version: 1, id: "p1", cidr: "10.0.0.0/24" } as const
const p2 = { version: 1, id: "p2", cidr: "10.0.1.0/24" } as const

describe("StateFiles", () => {
  it("lays files out as STATE/KIND/KEY with temporary files in STATE/tmp", () => {
    expect(layout).toEqual({ dir: "/state/pools", tmpDir: "/state/tmp" })
    expect(pools.fileOf(layout, "p1")).toBe("/state/pools/p1")
  })

  it("round-trips a value and refuses bad JSON, a wrong shape and a file named after another key", () => {
    expect(pools.decode("/state/pools/p1", pools.encode(p1))).toEqual(Result.succeed(p1))
    expect(pools.encode(p1).endsWith("}\n")).toBe(true)
    const reasons = [
      pools.decode("/state/pools/p1", '{"version":1,"id'),
      pools.decode("/state/pools/p1", JSON.stringify({ ...p1, cidr: 24 })),
      pools.decode("/state/pools/p2", pools.encode(p1))
    ].map((r) => (Result.isFailure(r) ? r.failure : undefined))
    expect(reasons.map((e) => e?._tag)).toEqual(["StateFileCorrupt", "StateFileCorrupt", "StateFileCorrupt"])
    expect(reasons[0]?.message).toMatch(/^state file \/state\/pools\/p1 is unreadable \(.*JSON.*\); fix or remove it/)
    expect(reasons[1]?.message).toMatch(/\(Expected string at \["cidr"\]\)/)
    expect(reasons[2]?.message).toBe(
      'state file /state/pools/p2 is unreadable (it describes pool "p1"); fix or remove it, then restart'
    )
  })

  it("tells a file written by a newer release from a corrupt one", () => {
    const versioned = StateFiles.make({ schema: Pool, keyOf: (p) => p.id, noun: "pool", version: 1 })
    const newer = versioned.decode("/state/pools/p1", JSON.stringify({ ...p1, version: 2, extra: true }))
    expect(Result.isFailure(newer) && newer.failure.message).toBe(
      "state file /state/pools/p1 is unreadable (it is in format 2, written by a newer release; this one reads format 1: upgrade the driver); fix or remove it, then restart"
    )
    const older = versioned.decode("/state/pools/p1", JSON.stringify({ ...p1, version: 0 }))
    expect(Result.isFailure(older) && older.failure.message).toMatch(/at \["version"\]/)
    expect(versioned.decode("/state/pools/p1", versioned.encode(p1))).toEqual(Result.succeed(p1))
  })

  it.effect("saves, loads in name order, erases, and clears leftover temporary files on load", () =>
    Effect.gen(function* () {
      const fs = VolumeFsMemory.make()
      const storage = fs.service
      expect(yield* pools.load(storage, layout)).toEqual([])
      yield* pools.save(storage, layout, p2)
      yield* pools.save(storage, layout, p1)
      yield* storage.writeFileAtomic("/state/tmp/interrupted.tmp", "{", "/state/tmp")
      expect(yield* pools.load(storage, layout)).toEqual([p1, p2])
      const paths = fs.entries().map(([path]) => path)
      expect(paths).not.toContain("/state/tmp/interrupted.tmp")
      expect(fs.entries().find(([path]) => path === "/state/pools")?.[1].mode).toBe(0o700)
      yield* pools.erase(storage, layout, "p2")
      expect(yield* pools.load(storage, layout)).toEqual([p1])
    })
  )

  it.effect("stops loading at a corrupt file, naming it", () =>
    Effect.gen(function* () {
      const storage = VolumeFsMemory.make().service
      yield* pools.load(storage, layout)
      yield* pools.save(storage, layout, p1)
      yield* storage.writeFileAtomic("/state/pools/p2", "not json", "/state/tmp")
      const exit = yield* Effect.exit(pools.load(storage, layout))
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain("state file /state/pools/p2 is unreadable")
    })
  )
})
