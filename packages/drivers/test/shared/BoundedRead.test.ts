import * as BoundedRead from "../../src/shared/BoundedRead.ts"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-bounded-read-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
let n = 0

/** A new file holding `content`. */
const fileOf = (content: Buffer | string) => {
  const path = Path.join(dir, `f${++n}`)
  Fs.writeFileSync(path, content)
  return path
}

/** Runs `f` on the file open for reading, closed after. */
const withHandle = async <A>(path: string, f: (handle: Fs.promises.FileHandle) => Promise<A>) => {
  const handle = await Fs.promises.open(path, "r")
  try {
    return await f(handle)
  } finally {
    await handle.close()
  }
}

/** The outcome of reading `path` with `limit`, the size hint its stat gives unless `size` is given. */
const readFile = (path: string, limit: number, size?: number) =>
  withHandle(path, async (handle) => BoundedRead.read(handle, limit, size ?? (await handle.stat()).size))

/** `handle`, with `after` run once its first read has returned: a writer at work while the file is read. */
const changedAfterFirstRead = (handle: Fs.promises.FileHandle, after: () => void): Fs.promises.FileHandle => {
  let reads = 0
  return new Proxy(handle, {
    get: (target, key) =>
      key === "read"
        ? async (...args: Parameters<Fs.promises.FileHandle["read"]>) => {
            const result = await target.read(...args)
            if (++reads === 1) after()
            return result
          }
        : Reflect.get(target, key)
  })
}

describe("BoundedRead", () => {
  it("reads a file of at most the limit whole, an empty one included", async () => {
    expect(await readFile(fileOf(""), 10)).toEqual({ _tag: "Read", bytes: Buffer.alloc(0) })
    expect(await readFile(fileOf("abc"), 10)).toEqual({ _tag: "Read", bytes: Buffer.from("abc") })
    expect(await readFile(fileOf("0123456789"), 10)).toEqual({ _tag: "Read", bytes: Buffer.from("0123456789") })
  })

  it("finds a file over the limit from the limit and one byte, which it hands over", async () => {
    const over = await readFile(fileOf("0123456789X"), 10)
    expect(over).toEqual({ _tag: "OverLimit", limit: 10, head: Buffer.from("0123456789X") })
    expect(BoundedRead.bytesOf(over)).toEqual(Buffer.from("0123456789X"))
    expect(await readFile(fileOf("x"), 0)).toMatchObject({ _tag: "OverLimit", limit: 0 })
    expect(await readFile(fileOf(""), 0)).toEqual({ _tag: "Read", bytes: Buffer.alloc(0) })
  })

  it("reads no more than the limit and one byte of a huge file", async () => {
    // Sparse: 1 GiB on paper, nothing on the disk.
    const path = fileOf("")
    Fs.truncateSync(path, 1024 ** 3)
    const over = await readFile(path, 4096)
    expect(over._tag).toBe("OverLimit")
    expect(BoundedRead.bytesOf(over).length).toBe(4097)
  })

  it("reads a file grown since its stat on to the bound, and stops at the end of one that shrank", async () => {
    // The caller's stat said 2 bytes: the file has 10.
    expect(await readFile(fileOf("0123456789"), 100, 2)).toEqual({ _tag: "Read", bytes: Buffer.from("0123456789") })
    expect(await readFile(fileOf("0123456789"), 5, 2)).toMatchObject({ _tag: "OverLimit", limit: 5 })
    // The caller's stat said 1000 bytes: the file has 3 now.
    expect(await readFile(fileOf("abc"), 100, 1000)).toEqual({ _tag: "Read", bytes: Buffer.from("abc") })
    // No size at all (/proc files say 0).
    expect(await readFile(fileOf("abc"), 100, 0)).toEqual({ _tag: "Read", bytes: Buffer.from("abc") })
  })

  it("follows a file that grows or shrinks while it is read", async () => {
    const growing = fileOf("ab")
    const grown = await withHandle(growing, (handle) =>
      BoundedRead.read(
        changedAfterFirstRead(handle, () => Fs.appendFileSync(growing, "cdef")),
        100,
        2
      )
    )
    expect(grown).toEqual({ _tag: "Read", bytes: Buffer.from("abcdef") })
    const overflowing = fileOf("ab")
    const overflowed = await withHandle(overflowing, (handle) =>
      BoundedRead.read(
        changedAfterFirstRead(handle, () => Fs.appendFileSync(overflowing, Buffer.alloc(50, "x"))),
        20,
        2
      )
    )
    expect(overflowed).toMatchObject({ _tag: "OverLimit", limit: 20 })
    expect(BoundedRead.bytesOf(overflowed).length).toBe(21)
    // Read in pieces (a buffer sized by a stale stat of 3), cut short after the first.
    const shrinking = fileOf("abcdefgh")
    const shrunk = await withHandle(shrinking, (handle) =>
      BoundedRead.read(
        changedAfterFirstRead(handle, () => Fs.truncateSync(shrinking, 4)),
        100,
        3
      )
    )
    expect(shrunk).toEqual({ _tag: "Read", bytes: Buffer.from("abcd") })
  })

  it("reads from the start, wherever the handle's position is", async () => {
    const path = fileOf("0123456789")
    const outcome = await withHandle(path, async (handle) => {
      await handle.read(Buffer.alloc(4), 0, 4, null)
      return BoundedRead.read(handle, 100, 10)
    })
    expect(outcome).toEqual({ _tag: "Read", bytes: Buffer.from("0123456789") })
  })
})
