import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import { Ipam } from "../../src/index.ts"

const { Prefix } = Ipam
const parse = (s: string) => Result.getOrThrow(Prefix.parse(s))

describe("Prefix", () => {
  it("parses IPv4 and IPv6 blocks and clears host bits", () => {
    expect(Prefix.format(parse("10.77.0.5/24"))).toBe("10.77.0.0/24")
    expect(parse("10.77.0.0/24")).toEqual({ family: 4, base: 0x0a4d0000n, length: 24 })
    expect(Prefix.format(parse("fd00:77::1/64"))).toBe("fd00:77::/64")
    expect(Prefix.size(parse("fd00::/64"))).toBe(2n ** 64n)
    expect(Prefix.format(parse("0.0.0.0/0"))).toBe("0.0.0.0/0")
  })

  it("refuses what is not a CIDR block, naming the value", () => {
    for (const bad of [
      "",
      "10.0.0.0",
      "10.0.0.0/33",
      "fd00::/129",
      "10.0.0/24",
      "010.0.0.0/8",
      "x/8",
      "10.0.0.0/-1",
      "10.0.0.0/ 8"
    ]) {
      const result = Prefix.parse(bad)
      expect(Result.isFailure(result), bad).toBe(true)
      if (Result.isFailure(result)) expect(result.failure.message).toContain(`"${bad}"`)
    }
  })

  it("formats addresses as Go does (RFC 5952 for IPv6)", () => {
    const v6 = Result.getOrThrow(Prefix.parseAddress("FD00:0:0:0:0:0:0:0001"))
    expect(Prefix.formatAddress(6, v6.value)).toBe("fd00::1")
    expect(Prefix.formatInterface(parse("10.1.2.0/24"), 0x0a010207n)).toBe("10.1.2.7/24")
    expect(Result.isFailure(Prefix.parseAddress("10.0.0.1/24"))).toBe(true)
  })

  it("contains, covers and overlaps", () => {
    const a = parse("10.0.0.0/16")
    const b = parse("10.0.3.0/24")
    const c = parse("10.1.0.0/24")
    expect(Prefix.covers(a, b)).toBe(true)
    expect(Prefix.overlaps(b, a)).toBe(true)
    expect(Prefix.overlaps(a, c)).toBe(false)
    expect(Prefix.overlaps(a, parse("fd00::/16"))).toBe(false)
    expect(Prefix.contains(b, Result.getOrThrow(Prefix.parseAddress("10.0.3.255")))).toBe(true)
    expect(Prefix.contains(b, Result.getOrThrow(Prefix.parseAddress("10.0.4.0")))).toBe(false)
  })
})
