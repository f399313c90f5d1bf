import { ContainerId } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"

describe("ContainerId", () => {
  it("a daemon ID becomes <dir>/<id>.log", () => {
    const id = "f74cb1179245787eebb732b9dc391263f627cdb6f762efeb612a6fc019fb375f"
    expect(Result.getOrThrow(ContainerId.logPath("/var/log/x", id))).toBe(`/var/log/x/${id}.log`)
  })

  it("IDs that would leave the folder, hide a file or be empty are refused", () => {
    for (const id of ["../../etc/passwd", "a/b", "..", ".hidden", "", "a\0b", "x".repeat(129), "/abs"]) {
      const r = ContainerId.logPath("/var/log/x", id)
      expect(Result.isFailure(r), id).toBe(true)
      if (Result.isFailure(r)) expect(r.failure.message).toContain(JSON.stringify(id))
    }
  })
})
