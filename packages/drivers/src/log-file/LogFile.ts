/**
 * `log-file`: a LogDriver that keeps each container's output in a JSON-lines file under a folder
 * (`DIR/<container ID>.log`, one record per line or line chunk, like the engine's `json-file`), rotates it by size
 * (`--log-opt max-size=10m --log-opt max-file=3`), and serves `docker logs` from it (`ReadLogs` with `--since`,
 * `--until`, `--tail` and `-f`).
 *
 * Reading the FIFO never waits on the disk: `LogStreams` puts a bounded buffer in between that drops, and counts,
 * what a stalled disk cannot take (see the helpers' README). Writes of one container are serialised (a restarted
 * container may briefly have two streams), and a reader captures the files and the current size under the same
 * lock, so `docker logs -f` neither misses nor repeats an entry.
 *
 * @since 0.1.0
 */
import { LogAttributes, type LogBuffer, type LogEntry, LogFraming, LogStreams } from "@docker-plugin-kit/helpers"
import { DriverError, LogDriver, Shutdown } from "@docker-plugin-kit/protocol"
import type * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import * as ContainerId from "./ContainerId.ts"
import { type AppendFile, LogFiles, type LogFilesError, type OpenFile } from "./LogFiles.ts"
import * as LogFilesMemory from "./LogFilesMemory.ts"
import * as LogFilesNode from "./LogFilesNode.ts"
import * as LogFileOptions from "./LogFileOptions.ts"
import * as LogRecord from "./LogRecord.ts"
import * as LogRotation from "./LogRotation.ts"
import * as LogSelection from "./LogSelection.ts"
import { defaultDir } from "./LogFileDefaults.ts"

/** The defaults, also reachable from here. */
export { defaultDir }

/**
 * Settings of the driver.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Folder of the log files (default `/var/lib/docker-plugin-kit/logs`). */
  readonly dir?: string
  /** The buffer between each FIFO and the disk (default `LogBuffer.defaultPolicy`). */
  readonly buffer?: LogBuffer.Policy
  /** How long StopLogging waits for the disk (default 10 s). */
  readonly flushTimeout?: Duration.Input
  /** Called with each stream's counters at StopLogging (default: a log line, a warning when entries were dropped). */
  readonly report?: (stats: LogStreams.Stats) => Effect.Effect<void>
}

/**
 * Entries a `docker logs -f` client may fall behind by before the oldest are dropped for it.
 *
 * @since 0.1.0
 */
export const followerCapacity = 16_384

interface Container {
  readonly lock: Semaphore.Semaphore
  readonly base: string
  options: LogFileOptions.Options
  /** The current file while open (from the first write to a rotation or the end of the last stream), its size. */
  file: { readonly append: AppendFile; readonly scope: Scope.Closeable } | undefined
  size: number
  streams: number
  readonly followers: Set<Queue.Queue<LogEntry.LogEntry, Cause.Done>>
}

const newline = new Uint8Array([0x0a])

/** How long a `docker logs -f --until` follows past `until`: the daemon stamps a line before it reaches the driver. */
const untilGrace = 1_000_000_000n

const defaultReport = (stats: LogStreams.Stats) => {
  const text = `container ${stats.containerId.slice(0, 12)}: ${stats.written} of ${stats.received} entries written, ${stats.dropped} dropped, ${stats.failed} failed`
  return stats.dropped > 0 || stats.failed > 0 ? Effect.logWarning(text) : Effect.logDebug(text)
}

/**
 * Builds the driver for the life of the scope (closing it stops every stream).
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}) =>
  Effect.gen(function* () {
    const files = yield* LogFiles
    const dir = options.dir ?? defaultDir
    const report = options.report ?? defaultReport
    yield* files.makeDirectory(dir)
    const containers = new Map<string, Container>()
    // Compressions of rotated files, by container file: kept apart from `containers`, which forgets a container at
    // its stop, because a compression may outlive the stop and must end before that file's next rotation.
    const compressions = new Map<string, Fiber.Fiber<void>>()
    const driverScope = yield* Effect.scope

    /**
     * Compresses a rotated file beside the writes: the container's new current file does not wait for it. A failure
     * leaves the file uncompressed (still read and rotated) and is logged.
     */
    const compressLater = (base: string, from: string, to: string) =>
      Effect.gen(function* () {
        const fiber = yield* files.compress(from, to).pipe(
          Effect.catch((error) => Effect.logWarning(`${error.message}; the file stays uncompressed`)),
          Effect.forkIn(driverScope)
        )
        compressions.set(base, fiber)
        // Forgotten once done (called at once when it already is), unless a later one has taken its place.
        fiber.addObserver(() => {
          if (compressions.get(base) === fiber) compressions.delete(base)
        })
      })

    const pathOf = (id: string) => Effect.fromResult(ContainerId.logPath(dir, id))

    /** The container's current file, opened at its first write after a start or a rotation. */
    const current = (container: Container) =>
      Effect.gen(function* () {
        if (container.file !== undefined) return container.file.append
        const scope = yield* Scope.make()
        const append = yield* Scope.provide(files.openAppend(container.base), scope).pipe(
          Effect.onError(() => Scope.close(scope, Exit.void))
        )
        container.file = { append, scope }
        container.size = append.size
        if (append.unterminated) {
          // The file ends inside a record (the plugin died, or the disk filled, mid-write): the newline makes that
          // fragment a line of its own, which readers skip, instead of the start of the next record, which would
          // otherwise be lost with it.
          yield* append.write(newline).pipe(Effect.onError(() => close(container)))
          container.size += 1
        }
        return append
      })

    const close = (container: Container) =>
      Effect.suspend(() => {
        const file = container.file
        container.file = undefined
        return file === undefined ? Effect.void : Scope.close(file.scope, Exit.void)
      })

    /** Writes bytes to the current file; after a failed write the file is reopened for the next one. */
    const write = (container: Container, bytes: Uint8Array) =>
      Effect.gen(function* () {
        const file = yield* current(container)
        yield* file.write(bytes).pipe(Effect.onError(() => close(container)))
        container.size += bytes.length
      })

    /**
     * Appends a batch of records, rotating where due, then hands them to the followers, read back as `ReadLogs`
     * reads the file. Runs under the container's lock.
     */
    const append = (container: Container, { bytes, ends }: LogRecord.Encoded) =>
      Effect.gen(function* () {
        if (container.options.maxSize === undefined) {
          // No rotation: one write for the batch.
          yield* write(container, bytes)
        } else {
          yield* current(container)
          const sizes = ends.map((end, i) => end - (i === 0 ? 0 : ends[i - 1]!))
          for (const run of LogRotation.split(container.options, container.size, sizes)) {
            if (run.rotateBefore) {
              yield* close(container)
              // The previous rotation's compression renames its file at the end: the files move only after it.
              const compressing = compressions.get(container.base)
              if (compressing !== undefined) yield* Fiber.join(compressing)
              const { base, options } = container
              for (const step of LogRotation.plan(base, options.maxFile, options.compress)) {
                switch (step._tag) {
                  case "Remove":
                    yield* files.remove(step.path)
                    break
                  case "Rename":
                    yield* files.rename(step.from, step.to)
                    break
                  case "Compress":
                    yield* compressLater(base, step.from, step.to)
                }
              }
              container.size = 0
            }
            yield* write(container, bytes.subarray(run.start === 0 ? 0 : ends[run.start - 1]!, ends[run.end - 1]!))
          }
        }
        if (container.followers.size > 0) {
          const readable = LogRecord.decodeAll({ bytes, ends })
          for (const follower of container.followers) Queue.offerAllUnsafe(follower, readable)
        }
      })

    /**
     * `append`, then the batch's buffer released for reuse, once its writes are over: not when interrupted, as a
     * write may still be in flight in Node's thread pool (the buffer is then left to the collector).
     */
    const appendReleasing = (container: Container, encoded: LogRecord.Encoded) =>
      append(container, encoded).pipe(
        Effect.onExit((exit) => (Exit.hasInterrupts(exit) ? Effect.void : Effect.sync(() => encoded.release?.())))
      )

    const sink = ({ info }: LogStreams.StartRequest) =>
      Effect.gen(function* () {
        const settings = yield* Effect.fromResult(LogFileOptions.decode(info.Config ?? null))
        // The attributes json-file keeps in every record (labels, env, tag), prepared once for the stream.
        const shape = LogRecord.shape(yield* Effect.fromResult(LogAttributes.of(info)))
        const base = yield* pathOf(info.ContainerID)
        let container = containers.get(info.ContainerID)
        if (container === undefined) {
          container = {
            lock: Semaphore.makeUnsafe(1),
            base,
            options: settings,
            file: undefined,
            size: 0,
            streams: 0,
            followers: new Set()
          }
          containers.set(info.ContainerID, container)
        }
        const shared = container
        shared.options = settings
        shared.streams++
        yield* Effect.addFinalizer(() =>
          Effect.suspend(() => {
            shared.streams--
            if (shared.streams > 0) return Effect.void
            // The container's last stream is finished: `docker logs -f` ends, as with json-file.
            for (const follower of shared.followers) Queue.endUnsafe(follower)
            shared.followers.clear()
            containers.delete(info.ContainerID)
            // No other stream writes to it now (and a write this one left in flight finishes before the close).
            return close(shared)
          })
        )
        return {
          // Encoded when called, so that the entries are not held across the write (see `LogStreams.Sink`).
          write: (entries) => shared.lock.withPermit(appendReleasing(shared, LogRecord.encodeAll(entries, shape))),
          // The usual path: records straight from the frames, no `LogEntry` per line.
          writeFrames: (batch) => shared.lock.withPermit(appendReleasing(shared, LogRecord.encodeFrames(batch, shape)))
        } satisfies LogStreams.Sink
      })

    const streams = yield* LogStreams.make({
      sink,
      ...(options.buffer === undefined ? {} : { buffer: options.buffer }),
      ...(options.flushTimeout === undefined ? {} : { flushTimeout: options.flushTimeout })
    })

    /**
     * The generations of a container's history, oldest first: as many as its `max-file` keeps, from its live
     * stream's options or, once it has none (they are forgotten at its last stop), from `requested`, the options the
     * daemon sends with `ReadLogs`, so that the answer does not depend on whether the container is logging. Older
     * ones a previous, larger max-file left are read too (at least 10), compressed or not whatever the options.
     */
    const history = (id: string, base: string, requested: LogFileOptions.Options) =>
      LogRotation.generations(base, Math.max((containers.get(id)?.options ?? requested).maxFile, 10))

    /**
     * A generation's file, the compressed one first. Checked in this order, a compression that ends meanwhile (its
     * file appears, then the plain one goes) cannot hide both: when the plain file is gone, the compressed one is
     * there.
     */
    const openGeneration = ({ compressed, plain }: LogRotation.Generation) =>
      Effect.gen(function* () {
        if (compressed === undefined) return yield* files.open(plain)
        return (
          (yield* files.openCompressed(compressed)) ??
          (yield* files.open(plain)) ??
          (yield* files.openCompressed(compressed))
        )
      })

    /** The files to read (oldest first), each with how much of it to read, and a follower queue when asked. */
    const capture = (id: string, base: string, requested: LogFileOptions.Options, follow: boolean) =>
      Effect.gen(function* () {
        const container = containers.get(id)
        const opened: Array<{ readonly file: OpenFile; readonly end: number }> = []
        const open = Effect.gen(function* () {
          for (const generation of history(id, base, requested)) {
            const file = yield* openGeneration(generation)
            if (file !== undefined) opened.push({ file, end: file.size })
          }
          if (!follow || container === undefined || container.streams === 0) return undefined
          const follower = yield* Queue.sliding<LogEntry.LogEntry, Cause.Done>(followerCapacity)
          container.followers.add(follower)
          yield* Effect.addFinalizer(() => Effect.sync(() => container.followers.delete(follower)))
          return follower
        })
        const follower = yield* container === undefined ? open : container.lock.withPermit(open)
        return { opened, follower }
      })

    return LogDriver.LogDriver.of({
      startLogging: ({ File, Info }) => streams.start(File, Info).pipe(Effect.as({})),
      stopLogging: ({ File }) => streams.stop(File).pipe(Effect.flatMap(report), Effect.as({})),
      capabilities: () => Effect.succeed({ Cap: { ReadLogs: true } }),
      readLogs: ({ Info, Config }) =>
        Effect.gen(function* () {
          const base = yield* pathOf(Info.ContainerID)
          // The container's options, checked as StartLogging checks them: the daemon sends the ones it started with.
          const requested = yield* Effect.fromResult(LogFileOptions.decode(Info.Config ?? null))
          // Each file opened once before answering: one that cannot be read (a symlink planted in its place) is an
          // error answer, not a stream cut short after its status line.
          yield* Effect.scoped(
            Effect.forEach(history(Info.ContainerID, base, requested), openGeneration, { discard: true })
          )
          const selection = yield* Effect.fromResult(
            Result.mapError(LogSelection.fromConfig(Config), (message) => new DriverError({ message }))
          )
          // A follower ends at `until` (and a little after, for lines stamped before it still on their way): the
          // daemon ends the answer only at the first entry past it, which a quiet container may never print, so
          // `docker logs -f --until` would otherwise hang until the container stops; with `until` past, nothing
          // newer is wanted and nothing is followed.
          const now = yield* Clock.currentTimeNanos
          const followFor = selection.until === undefined ? undefined : selection.until + untilGrace - now
          const follow = selection.follow && (followFor === undefined || followFor > 0n)
          return Stream.unwrap(
            Effect.map(capture(Info.ContainerID, base, requested, follow), ({ opened, follower }) => {
              const wanted = (entries: Stream.Stream<LogEntry.LogEntry, LogFilesError>) =>
                entries.pipe(
                  Stream.filter((e) => !LogSelection.beforeSince(selection, e)),
                  Stream.takeWhile((e) => !LogSelection.pastUntil(selection, e))
                )
              const written = wanted(
                Stream.fromIterable(opened).pipe(
                  Stream.flatMap(({ file, end }) =>
                    file.read(end).pipe(
                      // A file that breaks part of the way (a damaged gzip, a read error) ends there, and the newer
                      // files after it are still read: failing would cut the answer (its status line is sent), and
                      // every `docker logs` of the container would lose its latest lines until the file rotates away.
                      Stream.catch((error) =>
                        Stream.fromEffectDrain(
                          Effect.logWarning(`${error.message}; docker logs skips the rest of that file`)
                        )
                      ),
                      Stream.decodeText,
                      Stream.splitLines,
                      Stream.filterMap(LogRecord.decode)
                    )
                  )
                )
              )
              const history =
                selection.tail === undefined
                  ? written
                  : Stream.unwrap(
                      Stream.runFold(
                        written,
                        () => LogSelection.lastN<LogEntry.LogEntry>(selection.tail ?? 0),
                        (ring, entry) => {
                          ring.push(entry)
                          return ring
                        }
                      ).pipe(Effect.map((ring) => Stream.fromIterable(ring.items())))
                    )
              // A follower ends when the container's logging does, or when the server shuts down: a `docker logs
              // -f` then sees a complete answer rather than one cut after the server's wait.
              const live =
                follower === undefined
                  ? Stream.empty
                  : Shutdown.endsAtShutdown(
                      wanted(
                        followFor === undefined
                          ? Stream.fromQueue(follower)
                          : Stream.fromQueue(follower).pipe(
                              Stream.interruptWhen(Effect.sleep(Duration.nanos(followFor)))
                            )
                      )
                    )
              return LogFraming.encodeStream(Stream.concat(history, live))
            })
          )
        })
    })
  })

/**
 * The driver as a Layer over any `LogFiles`.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}) => Layer.effect(LogDriver.LogDriver, make(options))

/**
 * The driver on the real disk.
 *
 * @since 0.1.0
 */
export const layerNode = (options: Options = {}) => layer(options).pipe(Layer.provide(LogFilesNode.layer))

/**
 * The driver over fresh memory files.
 *
 * @since 0.1.0
 */
export const layerMemory = (options: Options = {}, files: LogFilesMemory.Options = {}) =>
  layer(options).pipe(Layer.provide(LogFilesMemory.layer(files)))
