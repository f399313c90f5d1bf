/**
 * Write-behind for the small regular files of a layer being applied (up to `maxFileBytes`): the main thread
 * creates each file (so every later check of the folder sees it) and hands its descriptor over; a thread of its own
 * writes the body, sets owner, mode and times, and closes it, while the main thread reads and checks the next
 * entries.
 *
 * Why a thread: applying a layer is one long run of system calls (`open`, `write`, `fchown`, `fchmod`, `futimes`,
 * `close` per file) between bursts of tar parsing. On one thread they add up; on two they overlap. The floor plugin
 * (bench/bare-graph-plugin.ts) applied /usr/share (54 571 entries) in 4.4–4.7 s with synchronous calls, and a copy
 * of it with this split in 2.7–2.8 s, against `tar -x`'s 3.6–3.8 s; `LayerApply` in process, 2.6–2.7 s against 3.0–3.3 s.
 * The thread costs about 15 MB of resident memory (its own V8 heap and Node's bootstrap), from the first apply on
 * (graph-overlay README).
 *
 * The rules that keep it as safe as the synchronous path:
 * - Only a descriptor's own calls are deferred: every path is resolved, checked and created on the main thread, in
 *   entry order. A later entry that removes or replaces the path unlinks a file whose descriptor stays valid.
 * - A descriptor is closed only by the last call queued for it (`finish` or `close`), never when a write fails, so
 *   its number cannot be reused while calls for it are still queued.
 * - Bytes are copied into batch buffers (moved to the thread, not copied again, and handed back for reuse); no more
 *   than `maxPendingBytes` wait at once: past that the main thread waits (`Atomics.wait`) for the thread to catch up.
 * - A session (one apply) learns of its failures at every entry and when it drains, which it always does before
 *   its apply returns, failed or not: no call of an apply runs after it.
 *
 * Node module resolution differs between the sources, the bundle and a managed plugin's root file system, so the
 * thread's code is a string evaluated by the worker (`eval: true`), using only `node:fs` and `node:worker_threads`.
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads"
import { LayerIoError } from "../LayerTarError.ts"

const opBegin = 0
const opWrite = 1
const opFinish = 2
const opClose = 3

/** Slots of the counters shared with the thread. */
const pendingSlot = 0
const doneSlot = 1
const failuresSlot = 2
/** 1 once the thread runs, 2 once it has stopped on an error of its own (a bug): never left waited for. */
const stateSlot = 3
const stateRunning = 1
const stateDead = 2
/** How long the main thread waits for a thread that has not started before it gives up on it. */
const startTimeoutMs = 30_000

/** Size of a batch buffer: files' bytes are copied into one until it is full, then it goes to the thread. */
export const batchBytes = 128 * 1024
/**
 * The largest file written behind. A larger one is written by the calling thread as before: its bytes would be
 * copied twice (into a batch, then to the file), and the per-file calls the thread saves are a small part of its
 * cost (/usr/lib/x86_64-linux-gnu, 669 MB in 2 324 files: 1.55–1.62 s behind against 1.26–1.32 s in place).
 */
export const maxFileBytes = 128 * 1024
/** The most queued bytes (and calls, counted as 16 bytes each) before the main thread waits. */
export const maxPendingBytes = 2 * 1024 * 1024
/** Batch buffers kept for reuse: as many as can be in flight. */
const maxSpare = maxPendingBytes / batchBytes
/** Calls queued in a batch before it goes to the thread even when its buffer is not full. */
const maxOps = 4096

const threadSource = `"use strict"
const fs = require("node:fs")
const { parentPort, workerData } = require("node:worker_threads")
const counters = new Int32Array(workerData.counters)
const back = workerData.back
process.on("uncaughtException", (e) => {
  back.postMessage({ kind: "crash", reason: String(e && e.stack || e) })
  Atomics.store(counters, ${stateSlot}, ${stateDead})
  Atomics.notify(counters, ${pendingSlot})
  Atomics.notify(counters, ${doneSlot})
  process.exit(1)
})
Atomics.store(counters, ${stateSlot}, ${stateRunning})
const files = new Map()
const fail = (session, file, operation, error) => {
  if (file.failed) return
  file.failed = true
  back.postMessage({ kind: "failure", session, operation, path: file.path, reason: String(error && error.message || error) })
  Atomics.add(counters, ${failuresSlot}, 1)
}
parentPort.on("message", ({ session, seq, data, used, ops, weight }) => {
  const view = new Uint8Array(data, 0, used)
  for (let i = 0; i < ops.length; ) {
    const op = ops[i]
    const fd = ops[i + 1]
    if (op === ${opBegin}) {
      files.set(fd, { path: ops[i + 2], failed: false })
      i += 3
      continue
    }
    const file = files.get(fd) || { path: "fd " + fd, failed: false }
    if (op === ${opWrite}) {
      const offset = ops[i + 2]
      const length = ops[i + 3]
      i += 4
      if (file.failed) continue
      try {
        for (let done = 0; done < length; ) done += fs.writeSync(fd, view, offset + done, length - done)
      } catch (e) {
        fail(session, file, "write", e)
      }
      continue
    }
    if (op === ${opFinish}) {
      const chown = ops[i + 2] === 1
      const uid = ops[i + 3]
      const gid = ops[i + 4]
      const mode = ops[i + 5]
      // A Date, not seconds: Node takes a negative number of seconds for "now", and a time before 1970 is a time.
      const mtime = new Date(ops[i + 6])
      i += 7
      if (!file.failed) {
        // Each call named by its own operation when it fails: a refused owner is a failed chown, not a chmod.
        let operation = "chown"
        try {
          if (chown) fs.fchownSync(fd, uid, gid)
          operation = "chmod"
          fs.fchmodSync(fd, mode)
          operation = "utimes"
          fs.futimesSync(fd, mtime, mtime)
        } catch (e) {
          fail(session, file, operation, e)
        }
      }
    } else i += 2
    files.delete(fd)
    try {
      fs.closeSync(fd)
    } catch (e) {
      fail(session, file, "close", e)
    }
  }
  back.postMessage({ kind: "buffer", data }, [data])
  Atomics.sub(counters, ${pendingSlot}, weight)
  Atomics.store(counters, ${doneSlot}, seq)
  Atomics.notify(counters, ${pendingSlot})
  Atomics.notify(counters, ${doneSlot})
})
`

interface Failure {
  readonly kind: "failure"
  readonly session: number
  readonly operation: string
  readonly path: string
  readonly reason: string
}
type Back =
  | Failure
  | { readonly kind: "buffer"; readonly data: ArrayBuffer }
  | { readonly kind: "crash"; readonly reason: string }

/** The thread and what the main thread shares with it; one per process, started by the first session. */
class Thread {
  readonly worker: Worker
  readonly counters = new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT))
  readonly startedAt = Date.now()
  readonly back: MessagePort
  /** Buffers handed back by the thread, ready for new batches. */
  readonly spare: Array<ArrayBuffer> = []
  /** Each session's first failure, once read from `back`. */
  readonly failures = new Map<number, LayerIoError>()
  failuresSeen = 0
  /** What stopped the thread, once it has. */
  crash: string | undefined
  seq = 0
  sessions = 0

  constructor() {
    const channel = new MessageChannel()
    this.back = channel.port1
    this.back.unref()
    this.worker = new Worker(threadSource, {
      eval: true,
      workerData: { counters: this.counters.buffer, back: channel.port2 },
      transferList: [channel.port2],
      // Descriptors are opened by the main thread and closed here: not this thread's to track.
      trackUnmanagedFds: false,
      stdout: false,
      stderr: false
    })
    // The thread is idle between applies; it never keeps the process alive.
    this.worker.unref()
  }

  /** Reads what the thread sent back: failures (kept per session) and buffers (kept for reuse). */
  readBack() {
    for (let message = receiveMessageOnPort(this.back); message !== undefined; ) {
      const back = message.message as Back
      if (back.kind === "buffer") this.giveBack(back.data)
      else if (back.kind === "crash") this.crash = back.reason
      else {
        this.failuresSeen++
        if (!this.failures.has(back.session)) {
          const { operation, path, reason } = back
          this.failures.set(back.session, new LayerIoError({ operation, path, reason }))
        }
      }
      message = receiveMessageOnPort(this.back)
    }
  }

  /** Keeps `data` for a later batch, up to a few: the rest is left to the garbage collector. */
  giveBack(data: ArrayBuffer) {
    if (this.spare.length < maxSpare) this.spare.push(data)
  }

  /** A buffer for a new batch: one the thread handed back, or a new one. */
  buffer(): ArrayBuffer {
    if (this.spare.length === 0) this.readBack()
    return this.spare.pop() ?? new ArrayBuffer(batchBytes)
  }

  post(session: number, data: ArrayBuffer, used: number, ops: Array<number | string>) {
    const weight = used + ops.length * 16
    const seq = ++this.seq
    Atomics.add(this.counters, pendingSlot, weight)
    this.worker.postMessage({ session, seq, data, used, ops, weight }, [data])
    this.waitWhile(pendingSlot, (pending) => pending > maxPendingBytes)
    return seq
  }

  /** Waits until the thread has run batch `seq` and every batch before it. */
  waitFor(seq: number) {
    this.waitWhile(doneSlot, (done) => done < seq)
  }

  /**
   * Waits while `busy` holds for the value in `slot`, a second at a time, failing once the thread has stopped (or
   * has not started in `startTimeoutMs`): what it had queued will never run, and waiting on would hang the apply.
   */
  private waitWhile(slot: number, busy: (value: number) => boolean) {
    for (let value = Atomics.load(this.counters, slot); busy(value); value = Atomics.load(this.counters, slot)) {
      if (Atomics.load(this.counters, stateSlot) !== stateDead) Atomics.wait(this.counters, slot, value, 1000)
      const state = Atomics.load(this.counters, stateSlot)
      if (state === stateRunning) continue
      if (state !== stateDead && Date.now() - this.startedAt < startTimeoutMs) continue
      if (thread === this) thread = undefined
      this.readBack()
      throw new LayerIoError({
        operation: "write",
        path: "(the thread writing files behind the tar)",
        reason: state === stateDead ? `it stopped: ${this.crash ?? "no reason given"}` : "it did not start"
      })
    }
  }
}

let thread: Thread | undefined

/**
 * The deferred calls of one apply. Not shared between fibers: an apply makes its own.
 */
export class Session {
  readonly id: number
  private readonly thread: Thread
  private data: ArrayBuffer
  private bytes: Uint8Array
  private used = 0
  private ops: Array<number | string> = []
  private lastSeq = 0

  constructor() {
    thread ??= new Thread()
    this.thread = thread
    this.id = ++thread.sessions
    this.data = thread.buffer()
    this.bytes = new Uint8Array(this.data)
  }

  /** Hands descriptor `fd` (open for writing `path`) over: from now on only this session's calls use or close it. */
  begin(fd: number, path: string) {
    this.ops.push(opBegin, fd, path)
  }

  /** Queues `chunk` to be written at `fd`'s current offset; the chunk is copied, so its memory can be reused. */
  write(fd: number, chunk: Uint8Array) {
    for (let offset = 0; offset < chunk.length; ) {
      if (this.used === batchBytes) this.post()
      const length = Math.min(chunk.length - offset, batchBytes - this.used)
      this.bytes.set(
        offset === 0 && length === chunk.length ? chunk : chunk.subarray(offset, offset + length),
        this.used
      )
      this.ops.push(opWrite, fd, this.used, length)
      this.used += length
      offset += length
    }
  }

  /** Queues the end of `fd`'s file: its owner (when `chown`), mode and modification time, then its close. */
  finish(fd: number, chown: boolean, uid: number, gid: number, mode: number, mtime: Date) {
    this.ops.push(opFinish, fd, chown ? 1 : 0, uid, gid, mode, mtime.getTime())
    if (this.ops.length >= maxOps) this.post()
  }

  /** Queues the close of `fd` without finishing its file (an apply that stops in the middle of it). */
  close(fd: number) {
    this.ops.push(opClose, fd)
  }

  /** This session's first failure reported by the thread so far, if any; cheap when there is none. */
  failure(): LayerIoError | undefined {
    if (Atomics.load(this.thread.counters, failuresSlot) !== this.thread.failuresSeen) this.thread.readBack()
    return this.thread.failures.get(this.id)
  }

  /** Sends what is queued and waits until the thread has run all of this session's calls; then its failure. */
  drain(): LayerIoError | undefined {
    try {
      if (this.ops.length > 0) this.post()
      this.thread.waitFor(this.lastSeq)
    } catch (e) {
      return e as LayerIoError
    }
    const failure = this.failure()
    this.thread.failures.delete(this.id)
    this.thread.giveBack(this.data)
    return failure
  }

  private post() {
    this.lastSeq = this.thread.post(this.id, this.data, this.used, this.ops)
    this.data = this.thread.buffer()
    this.bytes = new Uint8Array(this.data)
    this.used = 0
    this.ops = []
  }
}
