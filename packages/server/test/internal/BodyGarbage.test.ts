// The scavenge run while a long request body streams in: counted by body bytes, and with V8's own scavenge it frees
// the buffers of chunks already dead (what Node's HTTP parser makes per body chunk), with no `gc` left on the
// global object.
import { describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import * as BodyGarbage from "../../src/internal/BodyGarbage.ts"

const MiB = 1024 * 1024

describe("BodyGarbage.counter", () => {
  it("collects once per `everyBytes` of body, counting across chunks, and starts counting again after", () => {
    let collections = 0
    const count = BodyGarbage.counter(10, () => collections++)
    count(4)
    count(4)
    expect(collections).toBe(0)
    count(4)
    expect(collections).toBe(1)
    count(9)
    expect(collections).toBe(1)
    count(1)
    expect(collections).toBe(2)
    count(25)
    expect(collections).toBe(3)
  })

  it("does nothing where there is no scavenge to run", () => {
    const count = BodyGarbage.counter(1, null)
    expect(() => count(100)).not.toThrow()
  })

  it("with V8's scavenge, frees the buffers of dead body chunks, and leaves no `gc` behind", async () => {
    const collect = BodyGarbage.counter(1)
    // An empty young generation first: the chunks below (a few kilobytes of objects) cannot then be moved out of it
    // by two scavenges before they die, as chunks that live only while they are handed on are not.
    collect(1)
    let chunks: Array<Buffer> | undefined = Array.from({ length: 128 }, () => Buffer.alloc(64 * 1024, 1))
    const before = process.memoryUsage().arrayBuffers
    expect(before).toBeGreaterThanOrEqual(8 * MiB)
    expect(chunks.length).toBe(128)
    chunks = undefined
    collect(1)
    // Freed by a background sweep after the scavenge.
    let after = process.memoryUsage().arrayBuffers
    for (let i = 0; i < 100 && after > before - 6 * MiB; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
      after = process.memoryUsage().arrayBuffers
    }
    expect(before - after).toBeGreaterThan(6 * MiB)
    expect("gc" in globalThis).toBe(false)
  })

  it("under a node started with --expose-gc, uses its `gc` and leaves the flag on for later contexts", () => {
    const module = Path.join(import.meta.dirname, "..", "..", "src", "internal", "BodyGarbage.ts")
    const script = `
      const calls = []
      const gc = globalThis.gc
      globalThis.gc = (options) => { calls.push(options.type); return gc(options) }
      const BodyGarbage = await import(${JSON.stringify(module)})
      BodyGarbage.counter(1)(1)
      const vm = await import("node:vm")
      console.log(JSON.stringify({ calls, later: vm.runInNewContext("typeof gc") }))`
    const out = ChildProcess.execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
      encoding: "utf8"
    })
    expect(JSON.parse(out)).toEqual({ calls: ["minor"], later: "function" })
  })
})
