import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Result, Schema } from "effect"
import { Ipam } from "../../src/index.ts"

const { AddressPool, Prefix } = Ipam
const prefix = (s: string) => Result.getOrThrow(Prefix.parse(s))
const address = (s: string) => Result.getOrThrow(Prefix.parseAddress(s))
const pool = (p: string, range?: string) =>
  Result.getOrThrow(AddressPool.make(prefix(p), range === undefined ? undefined : prefix(range)))
const allocate = (p: Ipam.AddressPool.AddressPool, preferred?: string) =>
  Prefix.formatAddress(
    p.prefix.family,
    Result.getOrThrow(AddressPool.allocate(p, preferred === undefined ? undefined : address(preferred)))
  )
const failure = <A, E extends { message: string }>(r: Result.Result<A, E>) =>
  Result.isFailure(r) ? r.failure.message : "succeeded"

const int = (minimum: number, maximum: number) =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum, maximum })))
/** A script of steps: allocate (optionally a given host number), or release the k-th held address. */
const step = Arbitrary.all([int(0, 2), int(0, 300)])

describe("AddressPool", () => {
  it("keeps network and broadcast of an IPv4 pool out of use and allocates serially", () => {
    const p = pool("10.0.0.0/29")
    expect([1, 2, 3, 4, 5, 6].map(() => allocate(p))).toEqual([
      "10.0.0.1",
      "10.0.0.2",
      "10.0.0.3",
      "10.0.0.4",
      "10.0.0.5",
      "10.0.0.6"
    ])
    expect(failure(AddressPool.allocate(p))).toBe("no free address left in pool 10.0.0.0/29")
    expect(failure(AddressPool.allocate(p, address("10.0.0.0")))).toBe(
      "address 10.0.0.0 is the network address of pool 10.0.0.0/29 and cannot be allocated"
    )
    expect(failure(AddressPool.allocate(p, address("10.0.0.7")))).toContain("is the broadcast address")
    expect(failure(AddressPool.release(p, address("10.0.0.7")))).toContain("is the broadcast address")
  })

  it("a released address is handed out again only after the rest of the pool", () => {
    const p = pool("10.0.0.0/29")
    expect(allocate(p)).toBe("10.0.0.1")
    expect(allocate(p)).toBe("10.0.0.2")
    Result.getOrThrow(AddressPool.release(p, address("10.0.0.1")))
    expect([allocate(p), allocate(p), allocate(p), allocate(p), allocate(p)]).toEqual([
      "10.0.0.3",
      "10.0.0.4",
      "10.0.0.5",
      "10.0.0.6",
      "10.0.0.1"
    ])
  })

  it("a preferred address is given when free, refused when taken or outside, wherever the sub-range is", () => {
    const p = pool("10.77.0.0/24", "10.77.0.128/25")
    expect(allocate(p, "10.77.0.254")).toBe("10.77.0.254")
    expect(allocate(p, "10.77.0.5")).toBe("10.77.0.5")
    expect(failure(AddressPool.allocate(p, address("10.77.0.5")))).toBe(
      "address 10.77.0.5 is already allocated in pool 10.77.0.0/24"
    )
    expect(failure(AddressPool.allocate(p, address("10.78.0.5")))).toBe("address 10.78.0.5 is not in pool 10.77.0.0/24")
    expect(failure(AddressPool.allocate(p, address("fd00::5")))).toBe("address fd00::5 is not in pool 10.77.0.0/24")
    expect(allocate(p)).toBe("10.77.0.128")
    expect(failure(AddressPool.make(prefix("10.77.0.0/24"), prefix("10.78.0.0/25")))).toBe(
      "sub-range 10.78.0.0/25 is not inside pool 10.77.0.0/24"
    )
  })

  it("/31 and /32 pools use every address; an IPv6 pool keeps only its first address", () => {
    const p31 = pool("10.0.0.0/31")
    expect([allocate(p31), allocate(p31)]).toEqual(["10.0.0.0", "10.0.0.1"])
    expect(allocate(pool("10.0.0.9/32"))).toBe("10.0.0.9")
    const p6 = pool("fd00:1::/126")
    expect([allocate(p6), allocate(p6), allocate(p6)]).toEqual(["fd00:1::1", "fd00:1::2", "fd00:1::3"])
    expect(failure(AddressPool.allocate(p6, address("fd00:1::")))).toContain("subnet-router anycast")
  })

  it.prop(
    "never a duplicate, always inside the pool and the sub-range; release then reuse; encode round-trips",
    [Arbitrary.array(step, { maxLength: 400 }), int(23, 28), int(0, 2)],
    ([steps, length, rangeShift]) => {
      const p = pool(`10.9.0.0/${length}`, `10.9.0.0/${length + rangeShift}`)
      const { first, last } = AddressPool.usable(p)
      const held: Array<bigint> = []
      let lastAuto: bigint | undefined
      for (const [kind, n] of steps) {
        if (kind === 2 && held.length > 0) {
          const [value] = held.splice(n % held.length, 1)
          Result.getOrThrow(AddressPool.release(p, { family: 4, value: value! }))
          expect(AddressPool.isAllocated(p, value!)).toBe(false)
          continue
        }
        const preferred = kind === 1 ? { family: 4 as const, value: p.prefix.base + BigInt(n) } : undefined
        const result = AddressPool.allocate(p, preferred)
        if (Result.isFailure(result)) {
          const tag = result.failure._tag
          // A failure is only ever the truth: the address is taken/reserved/outside, or the range is full.
          if (tag === "AddressInUse") expect(held).toContain(preferred!.value)
          else if (tag === "PoolExhausted") {
            const r = AddressPool.automaticRange(p)
            expect(held.filter((v) => v >= r.from && v <= r.to).length).toBe(Number(r.to - r.from + 1n))
          } else expect(["AddressReserved", "AddressOutsidePool"]).toContain(tag)
          continue
        }
        const value = result.success
        expect(held).not.toContain(value)
        expect(value >= first && value <= last).toBe(true)
        if (preferred === undefined) {
          expect(Prefix.contains(p.range, { family: 4, value })).toBe(true)
          // Serial: the first free address after the previous automatic one, wrapping around (naive model).
          const { from, to } = AddressPool.automaticRange(p)
          const span = to - from + 1n
          let expected: bigint | undefined
          for (let i = 1n; i <= span && expected === undefined; i++) {
            const v = from + (((((lastAuto ?? from - 1n) - from + i) % span) + span) % span)
            if (!held.includes(v)) expected = v
          }
          expect(value).toBe(expected)
          lastAuto = value
        }
        held.push(value)
      }
      expect(AddressPool.allocatedCount(p)).toBe(BigInt(held.length))
      const back = AddressPool.decode(AddressPool.encode(p))!
      expect(back).toEqual(p)
    }
  )

  it.prop(
    "IPv6 /64 pools: serial, unique, inside, without enumerating them",
    [int(1, 2000), int(1, 65535)],
    ([count, seg]) => {
      const p = pool(`fd00:${seg.toString(16)}::/64`)
      const seen = new Set<bigint>()
      for (let i = 0; i < count; i++) {
        const value = Result.getOrThrow(AddressPool.allocate(p))
        expect(seen.has(value)).toBe(false)
        expect(Prefix.contains(p.prefix, { family: 6, value })).toBe(true)
        seen.add(value)
      }
      expect(p.used.starts).toHaveLength(1)
      const top = Result.getOrThrow(AddressPool.allocate(p, { family: 6, value: Prefix.last(p.prefix) }))
      expect(Prefix.formatAddress(6, top)).toBe(`fd00:${seg.toString(16)}::ffff:ffff:ffff:ffff`)
      Result.getOrThrow(AddressPool.release(p, { family: 6, value: p.prefix.base + 1n }))
      expect(Result.getOrThrow(AddressPool.allocate(p))).toBe(p.prefix.base + BigInt(count) + 1n)
      expect(AddressPool.allocatedCount(p)).toBe(BigInt(count + 1))
    },
    { arbitrary: { numRuns: 20 } } as never
  )

  it("IPv6 /127 keeps its first address, a /128 hands out its only one (as documented)", () => {
    const p127 = pool("fd00::/127")
    expect(allocate(p127)).toBe("fd00::1")
    expect(failure(AddressPool.allocate(p127))).toBe("no free address left in pool fd00::/127")
    expect(failure(AddressPool.allocate(p127, address("fd00::")))).toContain("is the subnet-router anycast address")
    const p128 = pool("fd00::5/128")
    expect(allocate(p128)).toBe("fd00::5")
    expect(failure(AddressPool.allocate(p128))).toBe("no free address left in pool fd00::5/128")
  })

  it("decode refuses what does not read back", () => {
    const p = pool("10.0.0.0/24")
    allocate(p)
    allocate(p, "10.0.0.9")
    const good = AddressPool.encode(p)
    // Offsets from the pool's first address, not absolute addresses.
    expect(good).toEqual({ pool: "10.0.0.0/24", range: "10.0.0.0/24", used: "1,9", cursor: "1" })
    expect(AddressPool.decode(good)).toEqual(p)
    for (const bad of [
      { ...good, pool: "x" },
      { ...good, range: "10.1.0.0/25" },
      { ...good, used: "2,1" },
      { ...good, used: "1-100" },
      { ...good, cursor: "256" }
    ]) {
      expect(AddressPool.decode(bad)).toBeUndefined()
    }
  })

  it("decode reads records written before the runs were offsets (absolute addresses), and nothing else as such", () => {
    // 10.0.0.1 and 10.0.0.9 as the first ipam-pool builds stored them; the cursor was an offset already.
    const old = AddressPool.decode({ pool: "10.0.0.0/24", range: "10.0.0.0/24", used: "a000001,a000009", cursor: "1" })!
    expect(old).toBeDefined()
    expect(failure(AddressPool.allocate(old, address("10.0.0.9")))).toBe(
      "address 10.0.0.9 is already allocated in pool 10.0.0.0/24"
    )
    expect(allocate(old)).toBe("10.0.0.2")
    expect(AddressPool.encode(old).used).toBe("1-2,9")
    const v6 = AddressPool.decode({
      pool: "fd00:1::/64",
      range: "fd00:1::/64",
      used: (prefix("fd00:1::/64").base + 1n).toString(16),
      cursor: "1"
    })!
    expect(failure(AddressPool.allocate(v6, address("fd00:1::1")))).toContain("is already allocated")
    // Absolute addresses outside the pool do not read back either way.
    expect(
      AddressPool.decode({ pool: "10.0.0.0/24", range: "10.0.0.0/24", used: "a000101", cursor: "1" })
    ).toBeUndefined()
  })
})
