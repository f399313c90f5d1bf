import { describe, expect, it } from "@effect/vitest"
import * as PaxRecords from "../../../src/graph/internal/paxRecords.ts"

const bytes = (s: string) => new TextEncoder().encode(s)

describe("paxRecords", () => {
  it("counts a record's length in bytes, its own digits included", () => {
    expect(PaxRecords.encode("k", "abcd").toString()).toBe("9 k=abcd\n")
    expect(PaxRecords.encode("k", "é").toString()).toBe("7 k=é\n")
    // Around the sizes where the length gains a digit.
    for (const size of [4, 5, 6, 94, 95, 96, 97, 994, 995, 996]) {
      const record = PaxRecords.encode("k", new Uint8Array(size).fill(0xff))
      expect(Number(record.subarray(0, record.indexOf(0x20)).toString())).toBe(record.length)
    }
  })

  it("decodes what it encodes, binary values included, later records of a key winning", () => {
    const binary = Uint8Array.from([0, 0x80, 0xff, 0x0a, 0x3d, 0x20])
    const data = Buffer.concat([
      PaxRecords.encode("path", "a/é"),
      PaxRecords.encode("SCHILY.xattr.user.b", binary),
      PaxRecords.encode("SCHILY.xattr.user.b", binary.subarray(1))
    ])
    const records = PaxRecords.decode(data)
    if (typeof records === "string") throw new Error(records)
    expect([...records.keys()]).toEqual(["path", "SCHILY.xattr.user.b"])
    expect(records.get("path")).toEqual(bytes("a/é"))
    expect(records.get("SCHILY.xattr.user.b")).toEqual(binary.subarray(1))
  })

  it("refuses the whole header for one record that is not well formed, as Go's archive/tar does", () => {
    const good = PaxRecords.encode("a", "1")
    const refused = [
      ["x a=1\n", "does not start with its length"],
      ["0x6 a=1\n", "does not start with its length"],
      [" 6 a=1\n", "does not start with its length"],
      ["6a=1\n", "does not start with its length"],
      ["0 a=1\n", "gives a length (0) that does not fit the header"],
      ["4 a\n", "gives a length (4) that does not fit the header"],
      ["99 a=1\n", "gives a length (99) that does not fit the header"],
      ["7 a=1\n", "does not end with a newline"],
      ["6 a=1 ", "does not end with a newline"],
      ["5 a1\n", "has no key"],
      ["6 =a1\n", "has no key"],
      ["8 a\u0000b=1\n", "holds a NUL byte"],
      ["11 path=a\u0000\n", "holds a NUL byte"]
    ] as const
    for (const [bad, why] of refused) {
      expect(PaxRecords.decode(Buffer.concat([good, bytes(bad), good]))).toBe(`its record at byte 6 ${why}`)
    }
    // What Go accepts: a length with a sign or leading zeros, a NUL in a value other than a name's, no records.
    expect(PaxRecords.decode(bytes("+7 a=1\n008 b=2\n7 c=\u00001\n"))).toEqual(
      new Map([
        ["a", bytes("1")],
        ["b", bytes("2")],
        ["c", bytes("\u00001")]
      ])
    )
    expect(PaxRecords.decode(bytes(""))).toEqual(new Map())
  })
})
