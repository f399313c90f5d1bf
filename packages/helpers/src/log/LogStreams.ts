/**
 * The per-container lifecycle of a log driver: `start` (a `StartLogging`) opens the FIFO and the driver's sink and
 * runs one reader and one writer for that file; `stop` (a `StopLogging`) flushes what the container already wrote
 * and answers, then finishes the file in the background (the daemon closes its end only after the answer); closing
 * the scope stops every stream.
 *
 * A FIFO that reaches EOF before its `StopLogging` (the daemon crashed, or gave up on a stop) is finished as a stop
 * would finish it; its counters are kept for the `StopLogging` that may still come, which answers them.
 *
 * Reading never waits on the sink: the reader frames the bytes as they arrive and offers them to a bounded
 * `LogBuffer`, which drops (and counts) what does not fit; the writer takes batches from the buffer, decoded (or
 * still framed, for a sink with `writeFrames`), to the sink.
 *
 * @since 0.1.0
 */
import type { LogDriver } from "@docker-plugin-kit/protocol"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as LogBuffer from "./LogBuffer.ts"
import type * as LogEntry from "./LogEntry.ts"
import * as LogFifo from "./LogFifo.ts"
import * as LogFraming from "./LogFraming.ts"

/**
 * Where a stream's entries go. `write` gets batches in FIFO order; a failed batch is counted and skipped.
 *
 * The entries of a batch are decoded just before `write` is called. A sink that turns them into what it writes
 * (bytes, records) when called, rather than inside the Effect it answers, lets them go before its asynchronous
 * write: entries still referenced after the next young-generation collection are copied and promoted, which costs
 * more than decoding and writing them (the log-file driver does this).
 *
 * @since 0.1.0
 */
export interface Sink {
  /** Writes one batch of entries. */
  readonly write: (entries: ReadonlyArray<LogEntry.LogEntry>) => Effect.Effect<void, { readonly message: string }>
  /**
   * Writes one batch still framed, when given: used instead of `write`, for a sink that turns each entry into
   * bytes without a `LogEntry` object (the per-line cost of a fast log driver). Entries the visit finds corrupt are
   * counted as such, not as written.
   */
  readonly writeFrames?: (batch: LogFraming.FrameBatch) => Effect.Effect<void, { readonly message: string }>
}

/**
 * What a `StartLogging` gives the sink factory.
 *
 * @since 0.1.0
 */
export interface StartRequest {
  readonly file: string
  readonly info: LogDriver.Info
}

/**
 * Settings of the lifecycle.
 *
 * @since 0.1.0
 */
export interface Options<E> {
  /** Opens the sink of a new stream; its scope closes when the stream is finished. A failure fails the start. */
  readonly sink: (request: StartRequest) => Effect.Effect<Sink, E, Scope.Scope>
  /** The buffer between reader and sink (default `LogBuffer.defaultPolicy`). */
  readonly buffer?: LogBuffer.Policy
  /** Bound on one frame (default `LogFraming.defaultMaxFrameSize`). */
  readonly maxFrameSize?: number
  /** How long a reader leaves a FIFO that was far from full before reading it again (default `LogFifo.defaultCoalesce`). */
  readonly coalesce?: number
  /** Entries per sink write at most (default 16384). */
  readonly batchSize?: number
  /** How long `stop` waits for the sink to take what was read before answering anyway (default 10 s). */
  readonly flushTimeout?: Duration.Input
  /** How long a stopped stream waits for the daemon to close the FIFO (default 30 s). */
  readonly endTimeout?: Duration.Input
}

/**
 * Counters of one stream.
 *
 * @since 0.1.0
 */
export interface Stats extends LogBuffer.Counts {
  readonly file: string
  readonly containerId: string
  /** Entries the sink accepted. */
  readonly written: number
  /** Entries of batches the sink failed to write. */
  readonly failed: number
  /** Bytes skipped after a frame over the size bound (the stream cannot be resynchronised; it is drained to EOF). */
  readonly discardedBytes: number
}

/**
 * `start` for a file already being read.
 *
 * @since 0.1.0
 */
export class StreamAlreadyStarted extends Data.TaggedError("StreamAlreadyStarted")<{ readonly file: string }> {
  override get message() {
    return `already logging from ${this.file}`
  }
}

/**
 * `stop` for a file that is not being read.
 *
 * @since 0.1.0
 */
export class StreamNotStarted extends Data.TaggedError("StreamNotStarted")<{ readonly file: string }> {
  override get message() {
    // Quoted: a File of spaces or control characters must still be visible in the message.
    return `not logging from File ${JSON.stringify(this.file)} (no StartLogging for it, or stopped already)`
  }
}

/**
 * The running streams.
 *
 * @since 0.1.0
 */
export interface LogStreams<SinkError = never> {
  /** Opens the FIFO `file` and the sink of the container described by `info`, and starts copying. */
  readonly start: (
    file: string,
    info: LogDriver.Info
  ) => Effect.Effect<void, StreamAlreadyStarted | LogFifo.LogFifoError | SinkError>
  /**
   * Flushes what was written before the call, answers with the stream's counters, and finishes in the background.
   * For a stream that already reached EOF (and finished), answers its final counters; a second stop of a file fails
   * with `StreamNotStarted`, as a stop of a file never started does.
   */
  readonly stop: (file: string) => Effect.Effect<Stats, StreamNotStarted>
  /** The counters of the streams being read (not of those that reached EOF and await their stop). */
  readonly stats: Effect.Effect<ReadonlyArray<Stats>>
}

interface Running {
  readonly scope: Scope.Closeable
  readonly reader: LogFifo.FifoReader
  readonly buffer: LogBuffer.LogBuffer
  readonly ended: Deferred.Deferred<void>
  readonly writer: Fiber.Fiber<void>
  readonly stats: () => Stats
}

/**
 * How many streams that reached EOF without a stop keep their counters for a late `StopLogging`: the daemon names
 * every FIFO afresh, so one that crashed never stops them, and the oldest are forgotten past this count.
 */
const maxUnstopped = 1024

const settled = (s: Stats) => s.written + s.failed + s.dropped + s.corrupt >= s.received

/** Polls `done` every few milliseconds until it holds or `timeout` passes; answers whether it held. */
const waitFor = (done: () => boolean, timeout: Duration.Input): Effect.Effect<boolean> =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(Duration.fromInputUnsafe(timeout))
    while (!done()) {
      if (Date.now() >= deadline) return false
      yield* Effect.sleep("2 millis")
    }
    return true
  })

/**
 * Starts the lifecycle for the life of the scope.
 *
 * @since 0.1.0
 */
export const make = <SinkError>(
  options: Options<SinkError>
): Effect.Effect<LogStreams<SinkError>, LogBuffer.InvalidPolicy, Scope.Scope> =>
  Effect.gen(function* () {
    const policy = options.buffer ?? LogBuffer.defaultPolicy
    const invalid = LogBuffer.validate(policy)
    if (invalid !== undefined) return yield* new LogBuffer.InvalidPolicy({ reason: invalid })
    const batchSize = options.batchSize ?? 16_384
    const flushTimeout = options.flushTimeout ?? "10 seconds"
    const endTimeout = options.endTimeout ?? "30 seconds"
    const registry = yield* Effect.scope
    const context = yield* Effect.context<never>()
    const report = (effect: Effect.Effect<void>) => void Effect.runForkWith(context)(effect)
    const running = new Map<string, Running>()
    // Streams that reached EOF with no stop, by file: their counters once finished (see `maxUnstopped`).
    const unstopped = new Map<string, Effect.Effect<Stats>>()

    /** End of a stream: no more input, the writer drains the buffer, the sink closes. */
    const finish = (stream: Running) =>
      Effect.gen(function* () {
        // A stream finished without its EOF (the stop's wait ran out, or shutdown) lets its EOF watcher go.
        Deferred.doneUnsafe(stream.ended, Effect.void)
        stream.buffer.end()
        yield* Fiber.await(stream.writer).pipe(Effect.timeoutOption(flushTimeout))
        yield* Scope.close(stream.scope, Exit.void)
      })

    /**
     * EOF before any stop: the daemon closed the FIFO without a `StopLogging` (it crashed, or its stop timed out and
     * it closed the FIFO anyway). Left running, the sink would stay open for good (a log driver's file, the
     * followers of `docker logs -f`); it is finished as a stop would finish it, and its counters are kept for a late
     * stop.
     */
    const endUnstopped = (file: string, stream: Running) =>
      Effect.gen(function* () {
        running.delete(file)
        const finished = yield* Deferred.make<void>()
        // A stop meanwhile answers once the sink has taken what it will (as a stop waits for the flush).
        const finishing = Effect.andThen(Deferred.await(finished), Effect.sync(stream.stats))
        unstopped.set(file, finishing)
        if (unstopped.size > maxUnstopped) unstopped.delete(unstopped.keys().next().value!)
        yield* Effect.ensuring(finish(stream), Deferred.done(finished, Exit.void))
        // Finished: only the counters are kept, not the stream's buffer and sink.
        if (unstopped.get(file) === finishing) unstopped.set(file, Effect.succeed(stream.stats()))
      })

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const streams = [...running.values()]
        // Forgotten first: their EOF watchers must not finish them a second time.
        running.clear()
        return Effect.forEach(streams, finish, { concurrency: "unbounded", discard: true })
      })
    )

    // Files whose start is under way: opening the sink and the FIFO takes time, and a second start of the same file
    // meanwhile would open it twice, the stream it displaced in `running` never to be stopped.
    const starting = new Set<string>()

    const start = (file: string, info: LogDriver.Info) =>
      Effect.gen(function* () {
        if (running.has(file) || starting.has(file)) return yield* new StreamAlreadyStarted({ file })
        // A new stream of a file that reached EOF unstopped: a stop is now this stream's.
        unstopped.delete(file)
        starting.add(file)
        return yield* Effect.ensuring(
          launch(file, info),
          Effect.sync(() => starting.delete(file))
        )
      })

    /** Opens the sink and the FIFO of `file` and runs its reader and writer (`start`, once the file is reserved). */
    const launch = (file: string, info: LogDriver.Info) =>
      Effect.gen(function* () {
        const scope = yield* Scope.fork(registry)
        const opened = yield* Effect.exit(
          Effect.gen(function* () {
            const sink = yield* Scope.provide(options.sink({ file, info }), scope)
            const container = info.ContainerID.slice(0, 12)
            let reportedCorrupt = false
            const reportCorrupt = (error: LogEntry.LogEntryCorrupt) => {
              if (reportedCorrupt) return
              reportedCorrupt = true
              report(
                Effect.logError(
                  `log stream of container ${container}: ${error.message}; such entries are left out, the rest of the stream is read on`
                )
              )
            }
            const buffer = yield* LogBuffer.make(policy, { onCorrupt: reportCorrupt })
            const ended = yield* Deferred.make<void>()
            const frames = LogFraming.decoder(
              options.maxFrameSize === undefined ? {} : { maxFrameSize: options.maxFrameSize }
            )
            let written = 0
            let failed = 0
            let discardedBytes = 0
            let unframed = false
            let dropping = false
            const stats = (): Stats => ({
              file,
              containerId: info.ContainerID,
              ...buffer.counts(),
              written,
              failed,
              discardedBytes
            })
            const onChunk = (chunk: Uint8Array) => {
              if (unframed) {
                discardedBytes += chunk.length
                return
              }
              const { runs, error } = frames.pushFrames(chunk)
              if (error !== undefined) {
                unframed = true
                discardedBytes += frames.pending()
                report(
                  Effect.logError(
                    `log stream of container ${container}: ${error.message}; the rest of the stream is discarded`
                  )
                )
              }
              if (runs.length === 0) return
              const lost = buffer.offer(runs)
              if (lost > 0 && !dropping) {
                dropping = true
                report(
                  Effect.logWarning(
                    `log stream of container ${container}: the sink is not keeping up, dropping entries (${policy.overflow}, buffer of ${policy.maxBytes} bytes)`
                  )
                )
              } else if (lost === 0 && dropping && buffer.bytes() < policy.maxBytes / 2) dropping = false
            }
            const reader = yield* Scope.provide(
              LogFifo.open(
                file,
                {
                  onChunk,
                  onEnd: (error) => {
                    if (error !== undefined)
                      report(Effect.logError(`log stream of container ${container}: ${error.message}`))
                    // A frame cut short by the end is lost: reported and counted as the frames a framing error
                    // discards (not after one, whose discarded bytes are counted already).
                    const complete = unframed ? Result.void : frames.end()
                    if (Result.isFailure(complete)) {
                      discardedBytes += complete.failure.received
                      report(
                        Effect.logError(
                          `log stream of container ${container}: ${complete.failure.message}; the partial entry is discarded`
                        )
                      )
                    }
                    Deferred.doneUnsafe(ended, Effect.void)
                    buffer.end()
                  }
                },
                options.coalesce === undefined ? {} : { coalesce: options.coalesce }
              ),
              scope
            )
            // The batch is referenced until `sink.write` is called, not across the write it answers (see `Sink`).
            const writeNext =
              sink.writeFrames === undefined
                ? Effect.flatMap(buffer.take(batchSize), (batch) => {
                    const count = batch.length
                    if (count === 0) return Effect.succeed(undefined)
                    return Effect.map(Effect.exit(sink.write(batch)), (exit) => ({ count, exit }))
                  })
                : Effect.flatMap(buffer.takeFrames(batchSize), (batch) => {
                    if (batch === undefined) return Effect.succeed(undefined)
                    // Corrupt entries the sink's visit left out are counted by the buffer, not as written.
                    return Effect.map(Effect.exit(sink.writeFrames!(batch)), (exit) => ({
                      count: batch.size - batch.corrupt(),
                      exit
                    }))
                  })
            const writer = Effect.gen(function* () {
              let failing = false
              while (true) {
                const done = yield* writeNext
                if (done === undefined) return
                if (Exit.isSuccess(done.exit)) {
                  written += done.count
                  failing = false
                } else {
                  failed += done.count
                  if (!failing) {
                    failing = true
                    const error = Exit.findErrorOption(done.exit)
                    yield* Effect.logError(
                      `log stream of container ${container}: the sink failed: ${error._tag === "Some" ? error.value.message : "defect"}`
                    )
                  }
                }
              }
            })
            const fiber = yield* Effect.forkIn(writer, scope)
            return { scope, reader, buffer, ended, writer: fiber, stats } satisfies Running
          })
        )
        if (Exit.isFailure(opened)) {
          yield* Scope.close(scope, Exit.void)
          return yield* opened
        }
        const stream = opened.value
        running.set(file, stream)
        // Watches for an EOF that comes while the stream still runs (no stop took it first).
        yield* Effect.forkIn(
          Effect.andThen(
            Deferred.await(stream.ended),
            Effect.suspend(() => (running.get(file) === stream ? endUnstopped(file, stream) : Effect.void))
          ),
          registry
        )
      })

    const stop = (file: string) =>
      Effect.gen(function* () {
        const stream = running.get(file)
        if (stream === undefined) {
          // Reached EOF first: finished already, or finishing; answered its counters once, as a stop would be.
          const ended = unstopped.get(file)
          if (ended === undefined) return yield* new StreamNotStarted({ file })
          unstopped.delete(file)
          return yield* ended
        }
        running.delete(file)
        // Everything the container wrote is in the pipe by now (the daemon stops writing before it calls us).
        stream.reader.drain()
        const flushed = yield* waitFor(() => settled(stream.stats()), flushTimeout)
        const stats = stream.stats()
        if (!flushed) {
          yield* Effect.logWarning(
            `log stream of container ${stats.containerId.slice(0, 12)}: the sink did not take every entry within ${Duration.format(Duration.fromInputUnsafe(flushTimeout))}; answering StopLogging anyway`
          )
        }
        // EOF comes once the daemon closes its end, after our answer; then the rest is written and the sink closed.
        yield* Effect.forkIn(
          Effect.andThen(Deferred.await(stream.ended).pipe(Effect.timeoutOption(endTimeout)), finish(stream)),
          registry
        )
        return stats
      })

    return {
      start,
      stop,
      stats: Effect.sync(() => [...running.values()].map((s) => s.stats()))
    }
  })
