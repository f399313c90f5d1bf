// The log driver: each container's entries are appended to DIR/<container ID>.log, framed as the daemon frames them
// (a 4-byte length, then the LogEntry), and `docker logs` reads them back (ReadLogs: --since, --until, --tail, -f).
// The kit's LogStreams reads each FIFO; a bounded buffer between it and the file drops (and counts) what a stalled
// disk cannot take, so a container never blocks on its output.
import { LogEntry, LogFraming, LogStreams } from "@docker-plugin-kit/helpers"
import { DriverError, LogDriver } from "@docker-plugin-kit/protocol"
import { type Cause, Effect, Layer, Queue, Stream } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"

/** A container ID is one path component: it cannot reach outside the folder. */
const checkId = (id: string): Effect.Effect<string, DriverError> =>
  /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)
    ? Effect.succeed(id)
    : Effect.fail(new DriverError({ message: `invalid container ID ${JSON.stringify(id)}` }))

/** A time limit of ReadLogs in Unix nanoseconds; Go's zero time (year 1) means none. */
const limit = (time: string): bigint | undefined => {
  const millis = Date.parse(time)
  return millis > 0 ? BigInt(millis) * 1_000_000n : undefined
}

/** The entries of a log file (none before the container logged anything). */
const readEntries = (file: string): ReadonlyArray<LogEntry.LogEntry> => {
  if (!Fs.existsSync(file)) return []
  // A frame the file cuts short or cannot decode ends what is read: the entries before it are answered.
  return LogFraming.decoder().push(Fs.readFileSync(file)).entries
}

const newline = new Uint8Array([10])

/** An entry as `docker logs` prints it: verbatim, so a complete line needs its newline back (the FIFO drops it). */
const forReading = (entry: LogEntry.LogEntry): LogEntry.LogEntry =>
  LogEntry.endsLine(entry) ? LogEntry.make({ ...entry, line: Buffer.concat([entry.line, newline]) }) : entry

/** A container being logged: its open streams (a restarted container may briefly have two) and `logs -f` readers. */
interface Live {
  writers: number
  readonly followers: Set<Queue.Queue<LogEntry.LogEntry, Cause.Done>>
}

/** The driver, writing its files under `dir`; closing the Layer's scope stops every stream. */
export const layer = (dir: string) =>
  Layer.effect(
    LogDriver.LogDriver,
    Effect.gen(function* () {
      Fs.mkdirSync(dir, { recursive: true })
      const fileOf = (id: string) => Path.join(dir, `${id}.log`)
      const live = new Map<string, Live>()
      const streams = yield* LogStreams.make({
        sink: ({ info }) =>
          Effect.gen(function* () {
            const id = yield* checkId(info.ContainerID)
            const fd = yield* Effect.acquireRelease(
              Effect.try({
                try: () => Fs.openSync(fileOf(id), "a"),
                catch: (e) => new DriverError({ message: `cannot open the log of ${id}: ${(e as Error).message}` })
              }),
              (fd) =>
                Effect.sync(() => {
                  Fs.closeSync(fd)
                  const container = live.get(id)
                  if (container !== undefined && --container.writers === 0) {
                    // The container stopped: every `docker logs -f` of it ends.
                    for (const follower of container.followers) Queue.endUnsafe(follower)
                    live.delete(id)
                  }
                })
            )
            const container = live.get(id) ?? { writers: 0, followers: new Set() }
            container.writers++
            live.set(id, container)
            return {
              write: (entries) =>
                Effect.try({
                  try: () => {
                    Fs.writeSync(fd, LogFraming.encodeFrames(entries))
                    for (const follower of container.followers) Queue.offerAllUnsafe(follower, entries)
                  },
                  catch: (e) => new DriverError({ message: `cannot write the log of ${id}: ${(e as Error).message}` })
                })
            }
          })
      })
      return LogDriver.make({
        startLogging: ({ File, Info }) => Effect.as(streams.start(File, Info), {}),
        // A file not being read (the plugin restarted since the start) has nothing left to stop.
        stopLogging: ({ File }) => Effect.as(Effect.ignore(streams.stop(File)), {}),
        capabilities: () => Effect.succeed({ Cap: { ReadLogs: true } }),
        readLogs: ({ Info, Config }) =>
          Effect.gen(function* () {
            const id = yield* checkId(Info.ContainerID)
            // A slow `docker logs -f` loses its oldest entries, never holds the driver's memory.
            const follower = yield* Queue.sliding<LogEntry.LogEntry, Cause.Done>(16_384)
            // Reading the file and registering the follower in one step: no entry is missed or repeated between.
            const history = yield* Effect.try({
              try: () => {
                const entries = readEntries(fileOf(id))
                const container = live.get(id)
                if (Config.Follow && container !== undefined) container.followers.add(follower)
                else Queue.endUnsafe(follower)
                return entries
              },
              catch: (e) => new DriverError({ message: `cannot read the log of ${id}: ${(e as Error).message}` })
            })
            const since = limit(Config.Since)
            const until = limit(Config.Until)
            const wanted = (e: LogEntry.LogEntry) =>
              (since === undefined || e.timeNano >= since) && (until === undefined || e.timeNano <= until)
            const selected = history.filter(wanted)
            // Tail -1 is all of them, 0 none.
            const tail = Config.Tail < 0 ? selected : selected.slice(Math.max(0, selected.length - Config.Tail))
            const following = Stream.fromQueue(follower).pipe(
              Stream.filter(wanted),
              Stream.ensuring(Effect.sync(() => live.get(id)?.followers.delete(follower)))
            )
            return LogFraming.encodeStream(Stream.map(Stream.concat(Stream.fromIterable(tail), following), forReading))
          })
      })
    })
  )
