/**
 * The LogDriver conformance suite: what the daemon relies on (protocol/logging.md), checked by replaying the
 * daemon's logging sequences (`LogSequences`) with real FIFOs in a temporary folder, so it needs the plugin on the
 * same host (a v1 plugin, or an in-process or socket harness).
 *
 * @since 0.1.0
 */
import { LogEntry, type LogFifo } from "@docker-plugin-kit/helpers"
import { LogDriver, Manifest } from "@docker-plugin-kit/protocol"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import type { Action } from "../daemon/FakeDaemon.ts"
import * as LogSequences from "../daemon/LogSequences.ts"
import { tempFolder } from "../harness/SocketHarness.ts"
import * as Conformance from "./Conformance.ts"

const E = LogDriver.Api.endpoints

/** How long the daemon's writes may wait on a full pipe before the container counts as blocked. */
const blockedAfter = Duration.seconds(10)

/** Fails with the last call of an action attached. */
const failAction = (action: Action, reason: string) => {
  const last = action.calls[action.calls.length - 1]
  return Effect.fail(
    new Conformance.CheckFailed({
      reason,
      ...(last === undefined ? {} : { request: last.request }),
      ...(last?.response === undefined ? {} : { response: last.response })
    })
  )
}

const daemonOf = (context: Conformance.Context) =>
  Effect.flatMap(tempFolder, (fifoDir) => LogSequences.make(context.client, { fifoDir }))

/** A container started through the plugin; fails the check when StartLogging fails. */
const running = (context: Conformance.Context) =>
  Effect.gen(function* () {
    const daemon = yield* daemonOf(context)
    const logging = yield* daemon.run()
    if (logging.start.error !== undefined) yield* failAction(logging.start, logging.start.error)
    return { daemon, logging }
  })

const stopped = (logging: LogSequences.Logging) =>
  Effect.flatMap(logging.stop, (action) =>
    action.error === undefined ? Effect.void : failAction(action, action.error)
  )

const writeWithin = (logging: LogSequences.Logging, effect: Effect.Effect<void, LogFifo.LogFifoError>) =>
  effect.pipe(
    Effect.catch((e) => failAction(logging.start, `writing the FIFO failed: ${e.message}`)),
    Effect.timeoutOrElse({
      duration: blockedAfter,
      orElse: () =>
        failAction(
          logging.start,
          `the FIFO stayed full for ${Duration.format(blockedAfter)}: the plugin does not drain it, so the container blocks on its output`
        )
    })
  )

/** A container that prints with `print`, then stops; fails the check when any step fails or the FIFO stays full. */
const printedThenStopped = (
  context: Conformance.Context,
  print: (logging: LogSequences.Logging) => Effect.Effect<void, LogFifo.LogFifoError>
) =>
  Effect.gen(function* () {
    const { daemon, logging } = yield* running(context)
    yield* writeWithin(logging, print(logging))
    yield* stopped(logging)
    return { daemon, logging }
  })

/** `docker logs` of a container that printed with `print` and stopped. */
const readBack = (
  context: Conformance.Context,
  print: (logging: LogSequences.Logging) => Effect.Effect<void, LogFifo.LogFifoError>,
  config: Partial<LogDriver.ReadConfig> = {}
) =>
  Effect.gen(function* () {
    const { daemon, logging } = yield* printedThenStopped(context, print)
    const logs = yield* daemon.logsStopped(logging.info, config)
    if (logs.error !== undefined) yield* failAction(logs, logs.error)
    return logs
  })

const lines = (entries: ReadonlyArray<LogEntry.LogEntry>) => entries.map(LogEntry.lineText)

/** Whether the plugin says it serves ReadLogs (Capabilities fails → no, as the daemon reads it). */
const servesReadLogs = (context: Conformance.Context) =>
  Effect.map(
    Effect.result(context.client.call(E.capabilities, {})),
    (r) => r._tag === "Success" && r.success.Cap.ReadLogs
  )

/**
 * Every LogDriver check.
 *
 * @since 0.1.0
 */
export const checks: ReadonlyArray<Conformance.Check> = [
  Conformance.check(
    "Plugin.Activate lists LogDriver",
    { why: 'A v1 plugin is used as a log driver only when Implements lists exactly "LogDriver".' },
    (context) =>
      Effect.gen(function* () {
        const ex = yield* Conformance.send(context, Manifest.Activate.path)
        const manifest = yield* Conformance.expectSuccess(ex, Manifest.Activate)
        if (!(manifest.Implements ?? []).includes("LogDriver")) {
          yield* Conformance.fail(ex, `Implements ${JSON.stringify(manifest.Implements)} does not list "LogDriver"`)
        }
      })
  ),
  Conformance.check(
    "Capabilities nests ReadLogs under Cap",
    {
      why: 'The daemon reads {"Cap":{"ReadLogs":true}}; a flat ReadLogs (as the docs show) is read as false. 404 means no ReadLogs.'
    },
    (context) =>
      Effect.gen(function* () {
        const ex = yield* Conformance.send(context, E.capabilities.path)
        if (ex.response.status === 404) return
        const body = ex.response.body as Record<string, unknown> | undefined
        if (body !== undefined && body !== null && "ReadLogs" in body && !("Cap" in body)) {
          yield* Conformance.fail(ex, 'Capabilities answered a flat "ReadLogs"; the daemon only reads "Cap.ReadLogs"')
        }
        yield* Conformance.expectSuccess(ex, E.capabilities)
      })
  ),
  Conformance.check(
    "StartLogging answers, then the FIFO is drained (1 MiB written without blocking)",
    {
      why: "The daemon writes the container's output into the FIFO; a plugin that stops reading fills the 64 KiB pipe and blocks the container."
    },
    (context) =>
      Effect.asVoid(
        printedThenStopped(context, (logging) =>
          logging.print(
            "stdout",
            Array.from({ length: 1000 }, () => "x".repeat(1000))
          )
        )
      )
  ),
  Conformance.check(
    "StopLogging answers while the daemon still holds the FIFO open",
    {
      why: "The daemon closes its end only after StopLogging returns: a plugin that waits for EOF first never answers, and the container never stops."
    },
    (context) => Effect.asVoid(printedThenStopped(context, (logging) => logging.print("stdout", ["last words"])))
  ),
  Conformance.check(
    "StartLogging of a FIFO that does not exist answers Err",
    { why: "A start that cannot read its FIFO must fail the container's start with a message, not hang or crash." },
    (context) =>
      Effect.gen(function* () {
        const dir = yield* tempFolder
        const ex = yield* Conformance.send(context, E.startLogging.path, {
          File: `${dir}/${"0".repeat(64)}`,
          Info: LogSequences.info()
        })
        yield* Conformance.expectCleanFailure(ex, E.startLogging)
      })
  ),
  Conformance.check(
    "ReadLogs answers what was logged, each complete line ending in a newline",
    {
      why: "docker logs prints each line exactly as ReadLogs sends it: without the newline lines run together; stderr must stay stderr. Skipped when Capabilities says no ReadLogs."
    },
    (context) =>
      Effect.gen(function* () {
        if (!(yield* servesReadLogs(context))) return
        const logs = yield* readBack(context, (logging) =>
          Effect.andThen(logging.print("stdout", ["first", "second"]), logging.print("stderr", ["third"]))
        )
        const got = logs.entries.map((e) => `${e.source}:${LogEntry.lineText(e)}`)
        const want = ["stdout:first\n", "stdout:second\n", "stderr:third\n"]
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          yield* failAction(logs, `ReadLogs answered ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`)
        }
      })
  ),
  Conformance.check(
    "ReadLogs applies Tail",
    {
      why: "The daemon passes --tail to the plugin and does not trim the answer itself; --tail 0 (as in `docker logs --tail 0 -f`) means no old lines, a negative Tail all of them. Skipped without ReadLogs."
    },
    (context) =>
      Effect.gen(function* () {
        if (!(yield* servesReadLogs(context))) return
        const logs = yield* readBack(context, (logging) => logging.print("stdout", ["one", "two", "three"]), {
          Tail: 1
        })
        if (JSON.stringify(lines(logs.entries)) !== JSON.stringify(["three\n"])) {
          yield* failAction(logs, `--tail 1 answered ${JSON.stringify(lines(logs.entries))}, expected ["three\\n"]`)
        }
        const none = yield* readBack(context, (logging) => logging.print("stdout", ["one", "two"]), { Tail: 0 })
        if (none.entries.length > 0) {
          yield* failAction(none, `--tail 0 answered ${JSON.stringify(lines(none.entries))}, expected nothing`)
        }
      })
  ),
  Conformance.check(
    "ReadLogs answers each line with the time it was logged",
    {
      why: "docker logs -t prints the entry's time, and the daemon drops entries older than --since and stops at the first newer than --until by that time: a plugin that stamps entries when it stores or reads them shows wrong times and filters wrongly. Skipped without ReadLogs."
    },
    (context) =>
      Effect.gen(function* () {
        if (!(yield* servesReadLogs(context))) return
        // Whole seconds, so a plugin that keeps only milliseconds or microseconds still answers them exactly.
        const t0 = BigInt(Date.UTC(2020, 0, 1)) * 1_000_000n
        const times = [t0 + 1_000_000_000n, t0 + 5_000_000_000n]
        const logs = yield* readBack(context, (logging) =>
          logging.write([
            ...LogSequences.entriesOf("stdout", "early", times[0]),
            ...LogSequences.entriesOf("stderr", "late", times[1])
          ])
        )
        const got = logs.entries.map((e) => new Date(Number(e.timeNano / 1_000_000n)).toISOString())
        const want = times.map((t) => new Date(Number(t / 1_000_000n)).toISOString())
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          yield* failAction(
            logs,
            `lines logged at ${want.join(" and ")} were answered with the times ${JSON.stringify(got)}`
          )
        }
      })
  ),
  Conformance.check(
    "ReadLogs gives back a line longer than 16 KiB as one line",
    {
      why: "The daemon sends a long line as partial entries of 16 KiB (the last marked last) and docker logs prints each entry ReadLogs answers as it is: the line must come back whole, with one newline at its end, not one per chunk. Skipped without ReadLogs."
    },
    (context) =>
      Effect.gen(function* () {
        if (!(yield* servesReadLogs(context))) return
        const long = Array.from({ length: 40 * 1024 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("")
        const logs = yield* readBack(context, (logging) => logging.print("stdout", [long, "short"]))
        // What docker logs prints: the entries' lines one after the other.
        const shown = lines(logs.entries).join("")
        if (shown !== `${long}\nshort\n`) {
          const newlines = (shown.match(/\n/g) ?? []).length
          yield* failAction(
            logs,
            `a 40 KiB line and a short one came back as ${logs.entries.length} entries, ${shown.length} characters with ${newlines} newlines; docker logs would print ${newlines} lines, expected the 40 KiB line then "short"`
          )
        }
      })
  ),
  Conformance.check(
    "ReadLogs applies Until before Tail (docker logs --until T --tail 1)",
    {
      why: "The daemon stops reading at the first entry newer than Until but never applies Tail: a plugin that takes the last lines without Until answers lines the daemon then drops, and docker logs shows nothing. A warning: json-file on Engine 20.10 takes the last lines first too, so a plugin that copies it shows nothing either. Skipped without ReadLogs.",
      severity: "warning"
    },
    (context) =>
      Effect.gen(function* () {
        if (!(yield* servesReadLogs(context))) return
        const second = 1_000_000_000n
        const t0 = BigInt(Date.UTC(2020, 0, 1)) * 1_000_000n
        const logs = yield* readBack(
          context,
          (logging) =>
            logging.write(
              ["one", "two", "three"].flatMap((line, i) =>
                LogSequences.entriesOf("stdout", line, t0 + BigInt(i + 1) * second)
              )
            ),
          { Until: "2020-01-01T00:00:02Z", Tail: 1 }
        )
        // What the daemon shows: it stops at the first entry newer than Until.
        const untilNano = t0 + 2n * second
        const cut = logs.entries.findIndex((e) => e.timeNano > untilNano)
        const shown = lines(cut === -1 ? logs.entries : logs.entries.slice(0, cut))
        if (JSON.stringify(shown) !== JSON.stringify(["two\n"])) {
          yield* failAction(
            logs,
            `ReadLogs with Until 00:00:02 and Tail 1 over lines logged at 00:00:01, 02 and 03 answered ${JSON.stringify(lines(logs.entries))}, so docker logs shows ${JSON.stringify(shown)}, expected ["two\\n"]`
          )
        }
      })
  ),
  Conformance.check(
    "ReadLogs with Follow sends new lines and ends when the container stops",
    {
      severity: "warning",
      why: "docker logs -f shows lines as they come and returns when the container stops; the daemon does not end the stream for the plugin. Skipped without ReadLogs."
    },
    (context) =>
      Effect.gen(function* () {
        if (!(yield* servesReadLogs(context))) return
        const { daemon, logging } = yield* running(context)
        yield* writeWithin(logging, logging.print("stdout", ["before"]))
        const stream = yield* Effect.mapError(
          daemon.follow(logging),
          (e) => new Conformance.CheckFailed({ reason: `ReadLogs with Follow failed: ${e.message}` })
        )
        const reading = yield* Effect.forkChild(Stream.runCollect(stream))
        yield* Effect.sleep("100 millis")
        yield* writeWithin(logging, logging.print("stdout", ["after"]))
        yield* Effect.sleep("100 millis")
        yield* stopped(logging)
        const got = yield* Fiber.join(reading).pipe(
          Effect.timeoutOrElse({
            duration: "5 seconds",
            orElse: () => failAction(logging.start, "the Follow answer did not end within 5 s of StopLogging")
          }),
          Effect.catch((e) => failAction(logging.start, `the Follow answer broke: ${e.message}`))
        )
        if (JSON.stringify(lines(got)) !== JSON.stringify(["before\n", "after\n"])) {
          yield* failAction(logging.start, `Follow answered ${JSON.stringify(lines(got))}, expected before and after`)
        }
      })
  ),
  Conformance.check(
    "Unknown endpoints answer 404",
    { severity: "warning", why: "404 is how the daemon learns that an optional endpoint is not implemented." },
    (context) =>
      Effect.flatMap(Conformance.send(context, "/LogDriver.NoSuchMethod", {}), (ex) =>
        ex.response.status === 404
          ? Effect.void
          : Conformance.fail(ex, `an unknown endpoint answered status ${ex.response.status} instead of 404`)
      )
  )
]

/**
 * The suite.
 *
 * @since 0.1.0
 */
export const suite: Conformance.Suite = { api: LogDriver.Api, checks }
