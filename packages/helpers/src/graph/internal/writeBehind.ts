/**
 * Regular files' content written behind the tar: positioned writes on libuv's thread pool while the main thread goes
 * on reading entries, checking paths and creating the next files. On a layer of small files the write system calls
 * are about half of an application's CPU; done on the main thread they could not overlap anything.
 *
 * Only content and a file's closing steps (owner, mode, times, close) are behind. The file itself is created on the
 * main thread, in tar order, so every check of a later entry sees the tree as the tar has made it so far; a file
 * unlinked or replaced while its writes are pending only gets them in an inode nobody sees.
 *
 * What is behind is bounded: `maxBytes` of content and `maxFiles` open files (a file's chunks are held until the
 * pool has written them).
 */

import * as Fs from "node:fs"
import * as Effect from "effect/Effect"
import { ioError, type LayerIoError } from "../LayerTarError.ts"
import type { Hold } from "../TarStream.ts"

const defaultMaxBytes = 4 * 1024 * 1024
const defaultMaxFiles = 64
/** Content gathered before it goes to the pool in one write. */
const batchBytes = 256 * 1024
/** Under this, a file's last batch is written by the main thread. */
const syncBytes = 32 * 1024

/** The writes of all the files of one application. */
export class WriteBehind {
  private bytes = 0
  private files = 0
  private failure: LayerIoError | undefined
  private roomWaiters: Array<() => void> = []
  private idleWaiters: Array<() => void> = []

  readonly maxBytes: number
  readonly maxFiles: number

  constructor(maxBytes = defaultMaxBytes, maxFiles = defaultMaxFiles) {
    this.maxBytes = maxBytes
    this.maxFiles = maxFiles
  }

  /** Too much is behind: the reader should wait for `room`. */
  get full(): boolean {
    return this.bytes >= this.maxBytes || this.files >= this.maxFiles
  }

  /** Takes over `fd`, a file just created at `path`, until it is closed. */
  file(fd: number, path: string): PendingFile {
    this.files++
    return new PendingFile(this, fd, path)
  }

  /** Throws the first failure of a write or of a file's closing steps. */
  check(): void {
    if (this.failure !== undefined) throw this.failure
  }

  /** Waits until no longer `full`. */
  readonly room: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (!this.full) return resume(Effect.void)
    this.roomWaiters.push(() => resume(Effect.void))
  })

  /** A hold that lets go once no longer `full`, or none when there is room. */
  hold(): Hold | undefined {
    return this.full ? (resume) => void this.roomWaiters.push(resume) : undefined
  }

  /** Waits until every write and closing step is done, whatever their outcome. */
  readonly idle: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.files === 0) return resume(Effect.void)
    this.idleWaiters.push(() => resume(Effect.void))
  })

  /** Waits until everything is written and closed; fails with the first failure. */
  readonly drain: Effect.Effect<void, LayerIoError> = Effect.andThen(this.idle, () =>
    this.failure === undefined ? Effect.void : Effect.fail(this.failure)
  )

  /** @internal */
  fail(error: LayerIoError) {
    this.failure ??= error
  }

  /** @internal */
  queued(bytes: number) {
    this.bytes += bytes
  }

  /** @internal */
  written(bytes: number) {
    this.bytes -= bytes
    this.wake()
  }

  /** @internal */
  closed() {
    this.files--
    this.wake()
    if (this.files === 0) {
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const waiter of waiters) waiter()
    }
  }

  private wake() {
    // Half way down, not just below the bounds: otherwise the reader is held again after every chunk or file.
    if (this.roomWaiters.length === 0 || this.bytes > this.maxBytes / 2 || this.files > this.maxFiles / 2) return
    // Taken before they are called: a resumed body may be held again at once, adding a waiter.
    const waiters = this.roomWaiters
    this.roomWaiters = []
    for (const waiter of waiters) waiter()
  }
}

/** The buffers of `chunks` after their first `n` bytes. */
const after = (chunks: ReadonlyArray<Uint8Array>, n: number): Array<Uint8Array> => {
  const rest: Array<Uint8Array> = []
  for (const chunk of chunks) {
    if (n >= chunk.length) n -= chunk.length
    else {
      rest.push(n === 0 ? chunk : chunk.subarray(n))
      n = 0
    }
  }
  return rest
}

/**
 * One file's content: chunks gathered into batches of `batchBytes`, each written behind in one positioned `writev`
 * (so batches may complete in any order). What is left at the end is written at once when it is under `syncBytes`:
 * for a small file one system call costs less than handing it to the pool and waking a thread for it.
 */
export class PendingFile {
  private position = 0
  private pending = 0
  private batch: Array<Uint8Array> = []
  private batched = 0
  private finish: (() => void) | undefined
  private ended = false
  private failed = false

  private readonly writes: WriteBehind
  readonly fd: number
  private readonly path: string

  constructor(writes: WriteBehind, fd: number, path: string) {
    this.writes = writes
    this.fd = fd
    this.path = path
  }

  /** Queues `chunk` after the content queued so far; a hold when too much is behind. */
  write(chunk: Uint8Array): Hold | undefined {
    if (this.failed || chunk.length === 0) return undefined
    this.batch.push(chunk)
    this.batched += chunk.length
    this.writes.queued(chunk.length)
    if (this.batched >= batchBytes) this.flushBehind()
    return this.writes.hold()
  }

  private take(): readonly [chunks: Array<Uint8Array>, bytes: number, position: number] {
    const taken = [this.batch, this.batched, this.position] as const
    this.position += this.batched
    this.batch = []
    this.batched = 0
    return taken
  }

  private flushBehind() {
    const [chunks, bytes, position] = this.take()
    this.pending++
    this.writeBehind(chunks, bytes, bytes, position)
  }

  private writeBehind(chunks: Array<Uint8Array>, queued: number, left: number, position: number) {
    Fs.writev(this.fd, chunks, position, (error, n) => {
      if (error === null && n > 0 && n < left) return this.writeBehind(after(chunks, n), queued, left - n, position + n)
      if (error !== null || n === 0) this.failWith(error ?? new Error("the write made no progress"))
      this.writes.written(queued)
      this.pending--
      if (this.pending === 0 && this.ended) this.close()
    })
  }

  private flushNow() {
    let [chunks, bytes, position] = this.take()
    const queued = bytes
    try {
      while (bytes > 0) {
        const n = Fs.writevSync(this.fd, chunks, position)
        if (n === 0) throw new Error("the write made no progress")
        chunks = after(chunks, n)
        bytes -= n
        position += n
      }
    } catch (error) {
      this.failWith(error)
    }
    this.writes.written(queued)
  }

  private failWith(error: unknown) {
    this.failed = true
    this.writes.fail(ioError("write", this.path)(error))
  }

  /**
   * No more content: `finish` (the file's owner, mode and times, which a write would change) runs once every write
   * is done, then the file is closed. Without `finish` (the entry failed), the file is only closed, its last batch
   * dropped.
   */
  end(finish?: () => void): void {
    if (this.ended) return
    this.ended = true
    this.finish = finish
    if (finish === undefined || this.failed) this.writes.written(this.take()[1])
    else if (this.batched >= syncBytes) this.flushBehind()
    else if (this.batched > 0) this.flushNow()
    if (this.pending === 0) this.close()
  }

  private close() {
    try {
      if (!this.failed) this.finish?.()
    } catch (error) {
      this.writes.fail(ioError("chmod", this.path)(error))
    } finally {
      try {
        Fs.closeSync(this.fd)
      } catch (error) {
        this.writes.fail(ioError("close", this.path)(error))
      }
      this.writes.closed()
    }
  }
}
