/**
 * Chunks of a streamed body whose memory the producer takes back once they are written. A producer that reads
 * large bodies (a layer's files for `GraphDriver.Diff`) would otherwise fill a fresh buffer for every chunk: the
 * kernel then faults in new pages on each read and V8 collects the old buffers only when their external memory
 * has grown by tens of megabytes. Reusing a few buffers halved the CPU of reading a layer's tar (the graph-overlay
 * driver's README, Performance).
 *
 * The contract is one-sided and safe by default: a producer marks a chunk (`mark`) and takes it back only when a
 * consumer calls `release`. The server calls it once Node has written the chunk's bytes to the socket; any other
 * consumer (a test collecting a stream, a pipe into a file) never calls it, so its chunks are never reused. A
 * consumer that calls `release` must not read the chunk afterwards.
 *
 * @since 0.1.0
 */

const owners = new WeakMap<Uint8Array, () => void>()

/**
 * Marks `chunk` as reusable: `giveBack` runs (once) when a consumer releases it. Answers `chunk`.
 *
 * @since 0.1.0
 */
export const mark = <A extends Uint8Array>(chunk: A, giveBack: () => void): A => {
  owners.set(chunk, giveBack)
  return chunk
}

/**
 * Whether `chunk` was marked and not yet released.
 *
 * @since 0.1.0
 */
export const isReusable = (chunk: unknown): chunk is Uint8Array => chunk instanceof Uint8Array && owners.has(chunk)

/**
 * Hands `chunk` back to its producer: the caller has finished with its bytes for good. Does nothing for a chunk
 * that was not marked, or was already released.
 *
 * @since 0.1.0
 */
export const release = (chunk: Uint8Array): void => {
  const giveBack = owners.get(chunk)
  if (giveBack === undefined) return
  owners.delete(chunk)
  giveBack()
}

/**
 * A few buffers of one size, reused: `take` one, fill it, hand the filled part out with `share`; it comes back
 * when the consumer releases it. At most `keep` idle buffers are kept.
 *
 * @since 0.1.0
 */
export interface Pool {
  /** The size of every buffer. */
  readonly bytes: number
  /** An idle buffer, or a new one. */
  readonly take: () => Buffer
  /** The first `length` bytes of `buffer` (from `take`) as a reusable chunk: `buffer` is reused once released. */
  readonly share: (buffer: Buffer, length: number) => Buffer
  /** Puts back a buffer that was taken but not shared (a read that failed or found nothing). */
  readonly putBack: (buffer: Buffer) => void
}

/**
 * A pool of buffers of `bytes` bytes, keeping at most `keep` idle ones (default 16).
 *
 * @since 0.1.0
 */
export const pool = (bytes: number, keep = 16): Pool => {
  const idle: Array<Buffer> = []
  const putBack = (buffer: Buffer) => {
    if (idle.length < keep) idle.push(buffer)
  }
  return {
    bytes,
    // Never from Node's shared slab (whose other slices belong to others): always a buffer of its own.
    take: () => idle.pop() ?? Buffer.allocUnsafeSlow(bytes),
    share: (buffer, length) =>
      mark(length === buffer.length ? buffer : buffer.subarray(0, length), () => putBack(buffer)),
    putBack
  }
}
