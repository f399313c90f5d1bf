import { IdMapping } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import * as Result from "effect/Result"

describe("IdMapping", () => {
  // Two ranges, as /etc/subuid may give them: 0-999 to 100000-100999, 1000-65535 to 200000-264535.
  const ranges = [
    { container_id: 0, host_id: 100_000, size: 1000 },
    { container_id: 1000, host_id: 200_000, size: 64_536 }
  ]
  const mapping = IdMapping.fromInit(ranges, [{ container_id: 0, host_id: 500_000, size: 65_536 }])!

  it("is none when Init sends no ranges", () => {
    expect(IdMapping.fromInit(null, null)).toBeUndefined()
    expect(IdMapping.fromInit([], [])).toBeUndefined()
    expect(IdMapping.hostRoot(undefined)).toEqual({ uid: 0, gid: 0 })
  })

  it("moves IDs into and out of each range, and has nothing for an ID outside them", () => {
    expect(IdMapping.hostUid(mapping, 0)).toBe(100_000)
    expect(IdMapping.hostUid(mapping, 999)).toBe(100_999)
    expect(IdMapping.hostUid(mapping, 1000)).toBe(200_000)
    expect(IdMapping.hostUid(mapping, 65_535)).toBe(264_535)
    expect(IdMapping.hostUid(mapping, 65_536)).toBeUndefined()
    expect(IdMapping.hostGid(mapping, 50)).toBe(500_050)
    expect(IdMapping.containerUid(mapping, 200_001)).toBe(1001)
    expect(IdMapping.containerUid(mapping, 0)).toBeUndefined()
    expect(IdMapping.containerGid(mapping, 565_535)).toBe(65_535)
    expect(IdMapping.hostRoot(mapping)).toEqual({ uid: 100_000, gid: 500_000 })
    for (const id of [0, 1, 999, 1000, 4242, 65_535]) {
      expect(IdMapping.containerUid(mapping, IdMapping.hostUid(mapping, id)!)).toBe(id)
    }
  })

  it("moves whole owners, naming the first ID no range holds", () => {
    expect(IdMapping.ownerToHost(mapping, { uid: 1000, gid: 50 })).toEqual(
      Result.succeed({ uid: 200_000, gid: 500_050 })
    )
    expect(IdMapping.ownerToHost(mapping, { uid: 70_000, gid: 70_000 })).toEqual(Result.fail("user 70000"))
    expect(IdMapping.ownerToHost(mapping, { uid: 0, gid: 70_000 })).toEqual(Result.fail("group 70000"))
    expect(IdMapping.ownerToContainer(mapping, { uid: 200_000, gid: 500_050 })).toEqual(
      Result.succeed({ uid: 1000, gid: 50 })
    )
    expect(IdMapping.ownerToContainer(mapping, { uid: 5, gid: 500_000 })).toEqual(Result.fail("user 5"))
  })

  it("keeps the IDs of a kind that has no ranges", () => {
    const usersOnly = IdMapping.fromInit(ranges, null)!
    expect(IdMapping.hostGid(usersOnly, 7)).toBe(7)
    expect(IdMapping.containerGid(usersOnly, 7)).toBe(7)
  })
})
