import { ReusableChunk } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"

describe("ReusableChunk", () => {
  it("a marked chunk is given back once, on its first release only", () => {
    let givenBack = 0
    const chunk = ReusableChunk.mark(new Uint8Array(4), () => givenBack++)
    expect(ReusableChunk.isReusable(chunk)).toBe(true)
    ReusableChunk.release(chunk)
    ReusableChunk.release(chunk)
    expect(givenBack).toBe(1)
    expect(ReusableChunk.isReusable(chunk)).toBe(false)
  })

  it("releasing a chunk that was never marked does nothing", () => {
    const chunk = new Uint8Array(4)
    expect(ReusableChunk.isReusable(chunk)).toBe(false)
    expect(() => ReusableChunk.release(chunk)).not.toThrow()
    expect(ReusableChunk.isReusable("not a chunk")).toBe(false)
  })

  it("a pool reuses a buffer only after the chunk shared from it is released", () => {
    const pool = ReusableChunk.pool(16)
    const first = pool.take()
    expect(first.length).toBe(16)
    const view = pool.share(first, 10)
    expect(view.length).toBe(10)
    expect(view.buffer).toBe(first.buffer)
    // Still out: the next take is another buffer.
    const second = pool.take()
    expect(second).not.toBe(first)
    ReusableChunk.release(view)
    expect(pool.take()).toBe(first)
    // A whole buffer shared is the buffer itself.
    expect(pool.share(second, 16)).toBe(second)
  })

  it("a pool keeps at most `keep` idle buffers, and takes back one put back unshared", () => {
    const pool = ReusableChunk.pool(8, 2)
    const taken = [pool.take(), pool.take(), pool.take()]
    for (const buffer of taken) ReusableChunk.release(pool.share(buffer, 8))
    const again = new Set([pool.take(), pool.take(), pool.take()])
    expect(taken.filter((b) => again.has(b))).toHaveLength(2)
    const unshared = pool.take()
    pool.putBack(unshared)
    expect(pool.take()).toBe(unshared)
  })
})
