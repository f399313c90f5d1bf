/**
 * Reads an open file whole, but never more than a limit: a file that someone else writes (a secret, a policy) may
 * be far larger than its reader expects, or grow while it is read, and reading it all would fill the memory. At
 * most `limit + 1` bytes are read and allocated: the one byte more is what tells a file over the limit from one
 * exactly at it.
 *
 * The size the caller has from `fstat` only sizes the first buffer: the file may have grown since (the reading goes
 * on, into a buffer of the limit and one byte) or shrunk (the reading stops at its end), so the outcome is what was
 * read, not what the stat said. Whether the file changed during the read is the caller's to judge (a second
 * `fstat`, say).
 *
 * @since 0.1.0
 */
import type * as Fs from "node:fs"

/**
 * What a bounded read found: the whole file (`Read`, at most `limit` bytes), or a file over the limit (`OverLimit`,
 * with the first `limit + 1` bytes read, which prove it).
 *
 * @since 0.1.0
 */
export type Outcome =
  | { readonly _tag: "Read"; readonly bytes: Buffer }
  | { readonly _tag: "OverLimit"; readonly limit: number; readonly head: Buffer }

/**
 * The outcome's bytes: the file, or the first `limit + 1` bytes of one over the limit.
 *
 * @since 0.1.0
 */
export const bytesOf = (outcome: Outcome): Buffer => (outcome._tag === "Read" ? outcome.bytes : outcome.head)

/**
 * Reads `handle` from its start (whatever its position) until its end or `limit + 1` bytes, whichever comes first.
 * `size` is what the caller's `fstat` said (only the first buffer's size: `min(size, limit) + 1`); a handle that
 * cannot be read (a folder) fails as Node's read does.
 *
 * @since 0.1.0
 */
export const read = async (handle: Fs.promises.FileHandle, limit: number, size = 0): Promise<Outcome> => {
  let buffer = Buffer.alloc(Math.min(Math.max(size, 0), limit) + 1)
  let length = 0
  for (;;) {
    if (length === buffer.length) {
      if (length > limit) return { _tag: "OverLimit", limit, head: buffer }
      // Grown since the stat, within the limit so far: on into a buffer of the bound.
      const larger = Buffer.alloc(limit + 1)
      buffer.copy(larger, 0, 0, length)
      buffer = larger
    }
    // At an explicit position: the handle's own (moved by an earlier read) does not matter.
    const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length)
    if (bytesRead === 0) return { _tag: "Read", bytes: buffer.subarray(0, length) }
    length += bytesRead
  }
}
