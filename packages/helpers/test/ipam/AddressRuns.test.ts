import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Schema } from "effect"
import { Ipam } from "../../src/index.ts"

const { AddressRuns } = Ipam

const position = Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 63 })))
const op = Arbitrary.all([Arbitrary.schema(Schema.Boolean), position])

describe("AddressRuns", () => {
  it.prop("behaves as a set of positions and stays sorted, non-touching runs", [Arbitrary.array(op)], ([ops]) => {
    const runs = AddressRuns.empty()
    const model = new Set<number>()
    for (const [adding, x] of ops) {
      if (adding) {
        AddressRuns.add(runs, BigInt(x))
        model.add(x)
      } else {
        AddressRuns.remove(runs, BigInt(x))
        model.delete(x)
      }
    }
    for (let x = 0; x < 64; x++) expect(AddressRuns.has(runs, BigInt(x))).toBe(model.has(x))
    for (let i = 1; i < runs.starts.length; i++) expect(runs.starts[i]! > runs.ends[i - 1]! + 1n).toBe(true)
    expect(AddressRuns.countIn(runs, 0n, 63n)).toBe(BigInt(model.size))
    const free = [...Array(64).keys()].find((x) => x >= 10 && !model.has(x))
    expect(AddressRuns.firstFree(runs, 10n, 63n)).toBe(free === undefined ? undefined : BigInt(free))
    expect(AddressRuns.decode(AddressRuns.encode(runs))).toEqual(runs)
  })

  it("nextFree continues after the cursor and wraps around", () => {
    const runs = AddressRuns.empty()
    for (const x of [1n, 2n, 3n, 5n]) AddressRuns.add(runs, x)
    expect(AddressRuns.nextFree(runs, 1n, 6n, 3n)).toBe(4n)
    expect(AddressRuns.nextFree(runs, 1n, 6n, 5n)).toBe(6n)
    AddressRuns.add(runs, 6n)
    AddressRuns.add(runs, 4n)
    AddressRuns.remove(runs, 2n)
    expect(AddressRuns.nextFree(runs, 1n, 6n, 6n)).toBe(2n)
    AddressRuns.add(runs, 2n)
    expect(AddressRuns.nextFree(runs, 1n, 6n, 6n)).toBeUndefined()
  })

  it("a run over a huge range is one entry", () => {
    const runs = AddressRuns.empty()
    for (let x = 0n; x < 10_000n; x++) AddressRuns.add(runs, 2n ** 100n + x)
    expect(runs.starts).toHaveLength(1)
    expect(AddressRuns.encode(runs)).toBe(`${(2n ** 100n).toString(16)}-${(2n ** 100n + 9_999n).toString(16)}`)
  })

  it("decode refuses unsorted, touching or malformed runs", () => {
    for (const bad of ["3,1", "1-3,4", "2-1", "x", "1,,2"]) expect(AddressRuns.decode(bad), bad).toBeUndefined()
  })
})
