import { LogRotation } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"

const rotating = { maxSize: 100, maxFile: 3 }

describe("LogRotation", () => {
  it("rotates when a record would take a non-empty file past max-size", () => {
    expect(LogRotation.shouldRotate(rotating, 60, 40)).toBe(false)
    expect(LogRotation.shouldRotate(rotating, 61, 40)).toBe(true)
    expect(LogRotation.shouldRotate(rotating, 0, 500)).toBe(false)
    expect(LogRotation.shouldRotate({ maxSize: undefined }, 1e12, 1)).toBe(false)
  })

  it("plans drop the oldest file and shift the others, compressed ones an earlier compress=true left included", () => {
    expect(LogRotation.plan("/l/c.log", 3)).toEqual([
      { _tag: "Remove", path: "/l/c.log.2.gz" },
      { _tag: "Remove", path: "/l/c.log.2" },
      { _tag: "Rename", from: "/l/c.log.1.gz", to: "/l/c.log.2.gz" },
      { _tag: "Rename", from: "/l/c.log.1", to: "/l/c.log.2" },
      { _tag: "Rename", from: "/l/c.log", to: "/l/c.log.1" }
    ])
    expect(LogRotation.plan("/l/c.log", 1)).toEqual([{ _tag: "Remove", path: "/l/c.log" }])
  })

  it("compressed plans rename the current file, then compress it; leftovers move with their generation", () => {
    expect(LogRotation.plan("/l/c.log", 3, true)).toEqual([
      { _tag: "Remove", path: "/l/c.log.2.gz" },
      { _tag: "Remove", path: "/l/c.log.2" },
      { _tag: "Rename", from: "/l/c.log.1.gz", to: "/l/c.log.2.gz" },
      { _tag: "Rename", from: "/l/c.log.1", to: "/l/c.log.2" },
      { _tag: "Rename", from: "/l/c.log", to: "/l/c.log.1" },
      { _tag: "Compress", from: "/l/c.log.1", to: "/l/c.log.1.gz" }
    ])
    expect(LogRotation.plan("/l/c.log", 2, true)).toEqual([
      { _tag: "Remove", path: "/l/c.log.1.gz" },
      { _tag: "Remove", path: "/l/c.log.1" },
      { _tag: "Rename", from: "/l/c.log", to: "/l/c.log.1" },
      { _tag: "Compress", from: "/l/c.log.1", to: "/l/c.log.1.gz" }
    ])
    // One file: nothing is ever rotated into a generation to compress.
    expect(LogRotation.plan("/l/c.log", 1, true)).toEqual([{ _tag: "Remove", path: "/l/c.log" }])
  })

  it("generations are listed oldest first, each with its compressed name but the current file", () => {
    expect(LogRotation.generations("/l/c.log", 3)).toEqual([
      { compressed: "/l/c.log.2.gz", plain: "/l/c.log.2" },
      { compressed: "/l/c.log.1.gz", plain: "/l/c.log.1" },
      { compressed: undefined, plain: "/l/c.log" }
    ])
  })

  it("splits a batch into runs, one per file", () => {
    expect(LogRotation.split(rotating, 0, [40, 40, 40, 40, 40])).toEqual([
      { start: 0, end: 2, rotateBefore: false },
      { start: 2, end: 4, rotateBefore: true },
      { start: 4, end: 5, rotateBefore: true }
    ])
    expect(LogRotation.split(rotating, 90, [20])).toEqual([{ start: 0, end: 1, rotateBefore: true }])
    expect(LogRotation.split(rotating, 0, [500, 10])).toEqual([
      { start: 0, end: 1, rotateBefore: false },
      { start: 1, end: 2, rotateBefore: true }
    ])
    expect(LogRotation.split({ maxSize: undefined }, 1e9, [1, 2])).toEqual([{ start: 0, end: 2, rotateBefore: false }])
    expect(LogRotation.split(rotating, 0, [])).toEqual([])
  })
})
