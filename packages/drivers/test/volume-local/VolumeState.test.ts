import { VolumeState } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"

const record = { name: "v1", options: { "label.a": "b" }, createdAt: "2026-11-21T14:50:27.723Z", mounts: ["m1"] }

describe("VolumeState", () => {
  it("round-trips a record through its state file", () => {
    const text = VolumeState.encode(record, { a: "b" })
    expect(JSON.parse(text)).toEqual({ version: 1, ...record, labels: { a: "b" } })
    expect(VolumeState.decode("/state/volumes/v1", text)).toEqual(Result.succeed(record))
  })

  it("refuses truncated JSON, a wrong shape and a file that names another volume", () => {
    const reasons = [
      VolumeState.decode("/s/volumes/v1", '{"version":1,"na'),
      VolumeState.decode("/s/volumes/v1", JSON.stringify({ version: 2, name: "v1" })),
      VolumeState.decode("/s/volumes/v2", VolumeState.encode(record, {}))
    ].map((r) => (Result.isFailure(r) ? r.failure.message : "decoded"))
    expect(reasons[0]).toMatch(
      /^state file \/s\/volumes\/v1 is unreadable \(.*JSON.*\); fix or remove it, then restart$/
    )
    // A file from a newer release says so, rather than "Expected 1".
    expect(reasons[1]).toBe(
      "state file /s/volumes/v1 is unreadable (it is in format 2, written by a newer release; this one reads format 1: upgrade the driver); fix or remove it, then restart"
    )
    expect(reasons[2]).toBe(
      'state file /s/volumes/v2 is unreadable (it describes volume "v1"); fix or remove it, then restart'
    )
  })

  it("reconciles: keeps matched volumes, recreates missing folders, adopts folders without state", () => {
    const folders = [
      { name: "v1", modifiedAt: new Date("2026-01-01T00:00:00Z") },
      { name: "orphan", modifiedAt: new Date("2026-02-03T04:05:06Z") }
    ]
    const lost = { ...record, name: "lost", mounts: [] }
    const result = VolumeState.reconcile([record, lost], folders)
    expect(result.records).toEqual([record, lost])
    expect(result.recreate).toEqual(["lost"])
    expect(result.adopt).toEqual([{ name: "orphan", options: {}, createdAt: "2026-02-03T04:05:06.000Z", mounts: [] }])
  })
})
