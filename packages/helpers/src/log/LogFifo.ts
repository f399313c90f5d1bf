/**
 * Reading a log FIFO the way the daemon expects: opened read-only and non-blocking (the daemon already holds the
 * write end, so opening never waits and a `StartLogging` answers at once), read through the event loop (no thread
 * of libuv's small pool is parked on a pipe), until EOF, which comes after the daemon closes its end.
 *
 * `drain` reads what the pipe holds at that instant, synchronously: `StopLogging` uses it to flush every line the
 * container wrote before answering, without waiting for EOF (which only comes after the answer).
 *
 * Reads are coalesced: the daemon writes each line into the pipe on its own, and reading as each arrives costs a
 * wake-up, a poll and a read per few lines, in the plugin and in the daemon. After each read the reader leaves the
 * pipe for as long as it should take, at the rate it has been filling, to get about half full (at most `coalesce`,
 * 10 ms by default), then takes what gathered in one read; a read that found it three quarters full or more is
 * followed at once, so a fast writer is not held up by the wait.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import type * as LogEntry from "./LogEntry.ts"
import * as LogFraming from "./LogFraming.ts"

/**
 * The FIFO could not be opened or read.
 *
 * @since 0.1.0
 */
export class LogFifoError extends Data.TaggedError("LogFifoError")<{
  readonly operation: string
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `${this.operation} ${this.path}: ${this.reason}`
  }
}

/**
 * An open FIFO.
 *
 * @since 0.1.0
 */
export interface FifoReader {
  readonly path: string
  /** Reads everything the pipe holds now and hands it to `onChunk` before returning. */
  readonly drain: () => void
}

/**
 * Where the bytes go. `onChunk` is called in order, from the event loop; `onEnd` once, at EOF or on a read error.
 *
 * @since 0.1.0
 */
export interface Handlers {
  /** Bytes read from the pipe. */
  readonly onChunk: (chunk: Uint8Array) => void
  /** The end: EOF (no error) or a read error. */
  readonly onEnd: (error?: LogFifoError) => void
}

/**
 * Settings of a reader.
 *
 * @since 0.1.0
 */
export interface Options {
  /**
   * Milliseconds at most to leave the pipe before reading it again (default 10; 0 reads as the data comes). The
   * wait delays lines by at most this much; it is shorter when the pipe fills faster.
   */
  readonly coalesce?: number
}

/**
 * The default `coalesce`.
 *
 * @since 0.1.0
 */
export const defaultCoalesce = 10

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error))

// The pipe's default capacity: a read never gets more. Reads land here and are copied out at once (the entries
// decoded from a chunk are views of it), so one buffer serves every FIFO of the process.
const pipeCapacity = 64 * 1024
const readBuffer = new Uint8Array(pipeCapacity)
const copyOut = (n: number): Uint8Array => readBuffer.slice(0, n)

/**
 * How long to leave the pipe after a read that got `bytes` in the `elapsed` milliseconds since the one before: the
 * time it should take, at that rate, to fill half the pipe, at most `coalesce`; 0 (read again at once) when the
 * read found it three quarters full or more, or the wait would be under a millisecond.
 *
 * @since 0.1.0
 */
export const coalesceWait = (coalesce: number, elapsed: number, bytes: number): number => {
  if (coalesce <= 0 || bytes >= (pipeCapacity * 3) / 4) return 0
  const wait = Math.min(coalesce, (elapsed * pipeCapacity) / 2 / Math.max(bytes, 1))
  return wait < 1 ? 0 : wait
}

/**
 * Opens `path` (which must be a FIFO; symlinks are refused) and pushes its bytes to `handlers` until EOF. Closing
 * the scope closes the FIFO; `onEnd` is not called after that.
 *
 * @since 0.1.0
 */
export const open = (
  path: string,
  handlers: Handlers,
  options: Options = {}
): Effect.Effect<FifoReader, LogFifoError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const info = Fs.lstatSync(path)
        if (!info.isFIFO()) throw new Error("not a FIFO")
        // libuv adds O_CLOEXEC itself.
        const { O_RDONLY, O_NONBLOCK, O_NOFOLLOW } = Fs.constants
        const fd = Fs.openSync(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW)
        const coalesce = options.coalesce ?? defaultCoalesce
        let open = true
        let timer: ReturnType<typeof setTimeout> | undefined
        // When the last read happened: the time since, and what the read got, give the rate the pipe fills at.
        let lastRead = performance.now()
        const resume = () => {
          timer = undefined
          if (open) socket.resume()
        }
        const socket = new Net.Socket({
          fd,
          readable: true,
          writable: false,
          onread: {
            buffer: readBuffer,
            callback: (n: number) => {
              const now = performance.now()
              const elapsed = now - lastRead
              lastRead = now
              handlers.onChunk(copyOut(n))
              const wait = open ? coalesceWait(coalesce, elapsed, n) : 0
              if (wait === 0) return true
              // Answering false stops reading until `resume`.
              timer = setTimeout(resume, wait)
              return false
            }
          }
        })
        // Set at EOF, at a read error, and once the socket has closed the descriptor: from then on the number may
        // name another file this process opens, so nothing reads it again, and the end is told once.
        let ended = false
        const end = (error?: LogFifoError) => {
          if (ended) return
          ended = true
          if (open) handlers.onEnd(error)
        }
        socket.once("end", () => end())
        socket.once("error", (error) => end(new LogFifoError({ operation: "read", path, reason: error.message })))
        socket.once("close", () => {
          ended = true
        })
        const drain = () => {
          if (!open || ended) return
          try {
            while (true) {
              const n = Fs.readSync(fd, readBuffer, 0, readBuffer.length, null)
              if (n === 0) break
              handlers.onChunk(copyOut(n))
            }
          } catch (error) {
            const code = (error as NodeJS.ErrnoException).code
            if (code !== "EAGAIN" && code !== "EWOULDBLOCK") {
              end(new LogFifoError({ operation: "read", path, reason: reasonOf(error) }))
            }
          }
        }
        const close = () => {
          open = false
          if (timer !== undefined) clearTimeout(timer)
          socket.destroy()
        }
        return { reader: { path, drain }, close }
      },
      catch: (error) => new LogFifoError({ operation: "open", path, reason: reasonOf(error) })
    }),
    ({ close }) => Effect.sync(close)
  ).pipe(Effect.map(({ reader }) => reader))

/**
 * The FIFO's bytes as a stream, until EOF.
 *
 * @since 0.1.0
 */
export const bytes = (path: string): Stream.Stream<Uint8Array, LogFifoError> =>
  Stream.callback<Uint8Array, LogFifoError>((queue) =>
    open(path, {
      onChunk: (chunk) => void Queue.offerUnsafe(queue, chunk),
      onEnd: (error) =>
        void (error === undefined ? Queue.endUnsafe(queue) : Queue.failCauseUnsafe(queue, Cause.fail(error)))
    })
  )

/**
 * The FIFO's entries as a stream, until EOF: the framed reader. Frames over `maxFrameSize` fail the stream.
 *
 * @since 0.1.0
 */
export const entries = (
  path: string,
  options: { readonly maxFrameSize?: number } = {}
): Stream.Stream<LogEntry.LogEntry, LogFifoError | LogFraming.FrameError | LogFraming.FrameTruncated> =>
  LogFraming.decodeStream(options)(bytes(path))

/**
 * The daemon's end of a log FIFO, for tests and tools that stand in for the daemon.
 *
 * @since 0.1.0
 */
export interface FifoWriter {
  readonly path: string
  /** Writes all of `bytes`, waiting while the pipe is full (the daemon's default, blocking mode). */
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, LogFifoError>
  /** Writes without waiting: answers how many bytes the pipe took (0 when full). */
  readonly tryWrite: (bytes: Uint8Array) => number
}

/**
 * Creates a FIFO at `path` (mode 0700) and opens it read-write and non-blocking, as the daemon does before
 * `StartLogging`; closing the scope closes it and removes the file, as the daemon does after `StopLogging`.
 *
 * @since 0.1.0
 */
export const create = (path: string): Effect.Effect<FifoWriter, LogFifoError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const made = ChildProcess.spawnSync("mkfifo", ["-m", "0700", path], { encoding: "utf8" })
        if (made.status !== 0) throw new Error(made.stderr.trim() || made.error?.message || "mkfifo failed")
        return Fs.openSync(path, Fs.constants.O_RDWR | Fs.constants.O_NONBLOCK)
      },
      catch: (error) => new LogFifoError({ operation: "create", path, reason: reasonOf(error) })
    }),
    (fd) =>
      Effect.sync(() => {
        Fs.closeSync(fd)
        Fs.rmSync(path, { force: true })
      })
  ).pipe(
    Effect.map((fd): FifoWriter => {
      const tryWrite = (bytes: Uint8Array) => {
        try {
          return Fs.writeSync(fd, bytes)
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "EAGAIN") return 0
          throw error
        }
      }
      const write = (bytes: Uint8Array) =>
        Effect.gen(function* () {
          let at = 0
          while (at < bytes.length) {
            const n = yield* Effect.try({
              try: () => tryWrite(bytes.subarray(at)),
              catch: (error) => new LogFifoError({ operation: "write", path, reason: reasonOf(error) })
            })
            at += n
            if (n === 0) yield* Effect.sleep("1 millis")
          }
        })
      return { path, write, tryWrite }
    })
  )
