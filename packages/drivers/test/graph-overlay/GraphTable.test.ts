import { GraphTable } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"

const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`expected success, got ${String(r.failure)}`)
  return r.success
}
const failure = <A, E extends { _tag: string }>(r: Result.Result<A, E>): string =>
  Result.isFailure(r) ? r.failure._tag : "success"

describe("GraphTable", () => {
  const base = ok(GraphTable.create(GraphTable.empty, "base", undefined))
  const two = ok(GraphTable.create(base, "child", "base"))
  const three = ok(GraphTable.create(two, "grandchild", "child"))

  it("creates layers on existing parents only, once", () => {
    expect(failure(GraphTable.create(base, "x", "missing"))).toBe("LayerNotFound")
    expect(failure(GraphTable.create(base, "base", undefined))).toBe("LayerExists")
    expect(GraphTable.ancestors(three, "grandchild")).toEqual(["child", "base"])
    expect(GraphTable.ancestors(three, "base")).toEqual([])
  })

  it("refuses IDs that cannot name a folder of their own", () => {
    for (const id of ["", "../x", "a/b", ".hidden", "x".repeat(201), "sp ace"]) {
      expect(failure(GraphTable.create(base, id, undefined))).toBe("InvalidLayerId")
    }
    expect(failure(GraphTable.create(base, `${"a".repeat(64)}-init`, undefined))).toBe("success")
  })

  it("counts Gets and Puts: the first Get mounts, the last Put unmounts, a Put too many fails", () => {
    const a = ok(GraphTable.acquire(two, "child"))
    expect(a.first).toBe(true)
    const b = ok(GraphTable.acquire(a.table, "child"))
    expect(b.first).toBe(false)
    const c = ok(GraphTable.release(b.table, "child"))
    expect(c.last).toBe(false)
    const d = ok(GraphTable.release(c.table, "child"))
    expect(d.last).toBe(true)
    expect(failure(GraphTable.release(d.table, "child"))).toBe("LayerNotMounted")
    expect(failure(GraphTable.acquire(d.table, "nope"))).toBe("LayerNotFound")
  })

  it("removes only layers nothing holds and nothing is built on", () => {
    expect(failure(GraphTable.remove(three, "child"))).toBe("LayerHasChildren")
    const held = ok(GraphTable.acquire(three, "grandchild")).table
    expect(failure(GraphTable.remove(held, "grandchild"))).toBe("LayerInUse")
    expect(failure(GraphTable.remove(three, "nope"))).toBe("LayerNotFound")
    const removed = ok(GraphTable.remove(three, "grandchild"))
    expect([...removed.keys()]).toEqual(["base", "child"])
    expect([...GraphTable.releaseAll(held).values()].every((r) => r.mounts === 0)).toBe(true)
  })
})
