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
    expect([...records.keys()]).toEqual(["path", "SCHILY.xattr.user.b"])
    expect(records.get("path")).toEqual(bytes("a/é"))
    expect(records.get("SCHILY.xattr.user.b")).toEqual(binary.subarray(1))
  })

  it("stops at the first record that is not well formed, keeping those before it", () => {
    const good = PaxRecords.encode("a", "1")
    for (const bad of ["x a=1\n", "0 a=1\n", "99 a=1\n", "6 a1\n"]) {
      expect([...PaxRecords.decode(Buffer.concat([good, bytes(bad), good])).keys()]).toEqual(["a"])
    }
    expect(PaxRecords.decode(bytes("")).size).toBe(0)
  })
})
