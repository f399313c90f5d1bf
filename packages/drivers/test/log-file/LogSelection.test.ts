import { LogSelection } from "@docker-plugin-kit/drivers"
import { LogEntry } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"

const zero = "0001-01-01T00:00:00Z"
const select = (Since: string, Until: string, Tail: number, Follow = false) =>
  Result.getOrThrow(LogSelection.fromConfig({ Since, Until, Tail, Follow }))
const entry = (seconds: number) =>
  LogEntry.make({ timeNano: BigInt(1_764_244_800 + seconds) * 1_000_000_000n, line: String(seconds) })

describe("LogSelection", () => {
  it("the zero time and a negative Tail mean no limit", () => {
    expect(select(zero, zero, -1)).toEqual({ since: undefined, until: undefined, tail: undefined, follow: false })
    expect(select(zero, zero, 0, true)).toEqual({ since: undefined, until: undefined, tail: 0, follow: true })
  })

  it("since keeps entries at or after it, until stops after it", () => {
    const s = select("2025-11-27T12:00:10Z", "2025-11-27T12:00:20Z", -1)
    expect(LogSelection.beforeSince(s, entry(9))).toBe(true)
    expect(LogSelection.beforeSince(s, entry(10))).toBe(false)
    expect(LogSelection.pastUntil(s, entry(20))).toBe(false)
    expect(LogSelection.pastUntil(s, entry(21))).toBe(true)
  })

  it("a bad time names the field", () => {
    const r = LogSelection.fromConfig({ Since: "soon", Until: zero, Tail: -1, Follow: false })
    expect(Result.isFailure(r) && r.failure).toBe("Since: not an RFC 3339 time: soon")
  })

  it("lastN keeps the last n items in order, holding no more than n", () => {
    const ring = LogSelection.lastN<number>(3)
    for (let i = 0; i < 10; i++) ring.push(i)
    expect(ring.items()).toEqual([7, 8, 9])
    const short = LogSelection.lastN<number>(5)
    short.push(1)
    short.push(2)
    expect(short.items()).toEqual([1, 2])
    const none = LogSelection.lastN<number>(0)
    none.push(1)
    expect(none.items()).toEqual([])
  })
})
