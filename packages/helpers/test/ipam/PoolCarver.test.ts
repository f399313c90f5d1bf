import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Result, Schema } from "effect"
import { Ipam } from "../../src/index.ts"

const { PoolCarver, Prefix } = Ipam
const prefix = (s: string) => Result.getOrThrow(Prefix.parse(s))
const carve = (ranges: Array<string>, length: number, inUse: Array<string>) =>
  Result.map(PoolCarver.carve(ranges.map(prefix), length, inUse.map(prefix)), Prefix.format)

describe("PoolCarver", () => {
  it("carves the first free block of the length, skipping those in use, range after range", () => {
    expect(carve(["10.200.0.0/16"], 24, [])).toEqual(Result.succeed("10.200.0.0/24"))
    expect(carve(["10.200.0.0/16"], 24, ["10.200.0.0/24", "10.200.1.128/25"])).toEqual(Result.succeed("10.200.2.0/24"))
    expect(carve(["10.200.0.0/23", "10.201.0.0/16"], 24, ["10.200.0.0/23"])).toEqual(Result.succeed("10.201.0.0/24"))
    expect(carve(["10.200.0.0/16"], 24, ["10.0.0.0/8"])).toEqual(
      Result.fail(new PoolCarver.NoFreePool({ ranges: ["10.200.0.0/16"], length: 24 }))
    )
    expect(carve(["fd00:d0c::/48"], 64, ["fd00:d0c::/64", "fd00:d0c:0:2::/63"])).toEqual(
      Result.succeed("fd00:d0c:0:1::/64")
    )
  })

  it("says why it cannot carve", () => {
    const none = PoolCarver.carve([prefix("10.200.0.0/24")], 24, [prefix("10.200.0.0/24")])
    expect(Result.isFailure(none) && none.failure.message).toBe("no free /24 pool left in 10.200.0.0/24")
    const bad = PoolCarver.carve([prefix("10.200.0.0/16")], 8, [])
    expect(Result.isFailure(bad) && bad.failure.message).toBe("cannot carve /8 pools from 10.200.0.0/16")
  })

  it("claims a pool asked for by value unless it overlaps one in use, naming it", () => {
    const inUse = [prefix("10.77.0.0/24")]
    expect(Result.isSuccess(PoolCarver.claim(prefix("10.78.0.0/24"), inUse))).toBe(true)
    const overlap = PoolCarver.claim(prefix("10.77.0.0/16"), inUse)
    expect(Result.isFailure(overlap) && overlap.failure.message).toBe(
      "pool 10.77.0.0/16 overlaps pool 10.77.0.0/24, which is in use"
    )
  })

  it("carving a /64 from a /48 whose first 60,000 blocks are one pool in use costs one step", () => {
    const big = prefix("fd00:d0c::/49")
    expect(carve(["fd00:d0c::/48"], 64, ["fd00:d0c::/49"])).toEqual(
      Result.succeed(Prefix.format({ family: 6, base: Prefix.last(big) + 1n, length: 64 }))
    )
  })

  it.prop(
    "carving again and again gives disjoint blocks inside the range until none is left",
    [
      Arbitrary.array(Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 24, maximum: 28 }))), {
        maxLength: 40
      })
    ],
    ([lengths]) => {
      const range = prefix("10.50.0.0/22")
      const inUse: Array<Ipam.Prefix.Prefix> = []
      for (const length of lengths) {
        const result = PoolCarver.carve([range], length, inUse)
        if (Result.isFailure(result)) {
          // Full for this length: every aligned block of it overlaps something in use.
          const step = Prefix.size({ family: 4, base: 0n, length })
          for (let base = range.base; base <= Prefix.last(range); base += step) {
            expect(PoolCarver.overlapping({ family: 4, base, length }, inUse)).toBeDefined()
          }
          continue
        }
        expect(Prefix.covers(range, result.success)).toBe(true)
        expect(PoolCarver.overlapping(result.success, inUse)).toBeUndefined()
        inUse.push(result.success)
      }
    }
  )
})
