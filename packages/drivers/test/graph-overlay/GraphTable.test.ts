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

  it("refuses a layer that would stack more lower layers than overlayfs mounts", () => {
    const deep = GraphTable.create(three, "x", "grandchild", 2)
    expect(Result.isFailure(deep) && deep.failure.message).toBe(
      "layer x on grandchild would stack 3 lower layers; overlayfs mounts at most 2"
    )
    expect(failure(GraphTable.create(three, "x", "child", 2))).toBe("success")
    expect(failure(GraphTable.create(three, "x", "grandchild"))).toBe("success")
    expect(GraphTable.overlayMaxLowers).toBe(500)
  })

  it("keeps from disk only the layers whose parents lead to a base layer on disk", () => {
    const found = (id: string, parent?: string): GraphTable.LayerRecord =>
      parent === undefined ? { id, mounts: 0 } : { id, parent, mounts: 0 }
    const { table, skipped } = GraphTable.fromDisk([
      found("top", "mid"),
      found("mid", "base"),
      found("base"),
      found("loop1", "loop2"),
      found("loop2", "loop1"),
      found("onloop", "loop1"),
      found("outside", "../../etc"),
      found("orphan", "gone"),
      found("under-orphan", "orphan"),
      found("bad id", "base"),
      found("injected", "base,upperdir=x")
    ])
    expect([...table.keys()]).toEqual(["top", "mid", "base"])
    expect(Object.fromEntries(skipped.map((s) => [s.id, s.reason]))).toEqual({
      loop1: "its parents loop (loop1 -> loop2 -> loop1)",
      loop2: "its ancestor loop1 is left out",
      onloop: "its ancestor loop1 is left out",
      outside: "its parent ../../etc is not on disk",
      orphan: "its parent gone is not on disk",
      "under-orphan": "its ancestor orphan is left out",
      "bad id": "its ID is not valid",
      injected: "its parent base,upperdir=x is not on disk"
    })
  })
})
