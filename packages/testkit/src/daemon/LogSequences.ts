/**
 * The daemon's side of a log driver, without Docker: replays the call sequences dockerd 20.10.24 sends for
 * `docker run --log-driver NAME`, `docker stop`, `docker logs [-f]` on a running or a stopped container
 * (protocol/logging.md, "Lifecycle"), creating each FIFO as the daemon does (mode 0700, opened read-write and
 * non-blocking before `StartLogging`, closed and removed after `StopLogging`) and writing framed entries into it.
 *
 * @since 0.1.0
 */
import { type CallError, PluginClient } from "@docker-plugin-kit/client"
import { LogEntry, LogFifo, LogFraming } from "@docker-plugin-kit/helpers"
import { type DriverFailure, type Endpoint, LogDriver } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Path from "node:path"
import { type Action, type Call, mountId as randomId } from "./FakeDaemon.ts"

const E = LogDriver.Api.endpoints

/** Go's zero time: "no limit" in a ReadConfig. */
const zeroTime = "0001-01-01T00:00:00Z"

/**
 * The daemon splits container output in 16 KiB buffers; longer lines become partial entries.
 *
 * @since 0.1.0
 */
export const chunkSize = 16 * 1024

/**
 * A container's `Info` as the daemon sends it (every key present, `null` maps and lists), with a fresh 64-hex ID.
 *
 * @since 0.1.0
 */
export const info = (overrides: Partial<LogDriver.Info> = {}): LogDriver.Info => ({
  Config: {},
  ContainerID: randomId(),
  ContainerName: "/dpk-log-test",
  ContainerEntrypoint: "sh",
  ContainerArgs: ["-c", "echo hello"],
  ContainerImageID: `sha256:${randomId()}`,
  ContainerImageName: "busybox",
  ContainerCreated: new Date().toISOString(),
  ContainerEnv: null,
  ContainerLabels: null,
  LogPath: "",
  DaemonName: "docker",
  ...overrides
})

/**
 * A `ReadConfig` as `docker logs` sends it: no `Since`/`Until` (the zero time), all lines, no follow.
 *
 * @since 0.1.0
 */
export const readConfig = (overrides: Partial<LogDriver.ReadConfig> = {}): LogDriver.ReadConfig => ({
  Since: zeroTime,
  Until: zeroTime,
  Tail: -1,
  Follow: false,
  ...overrides
})

/**
 * The entries the daemon makes of one line of output (without its newline): one entry, or partial chunks of
 * 16 KiB sharing an ID and the first chunk's time, the last marked `last`.
 *
 * @since 0.1.0
 */
export const entriesOf = (source: "stdout" | "stderr", line: string, timeNano?: bigint): Array<LogEntry.LogEntry> => {
  const time = timeNano ?? BigInt(Date.now()) * 1_000_000n
  const bytes = new TextEncoder().encode(line)
  if (bytes.length <= chunkSize) return [LogEntry.make({ source, timeNano: time, line: bytes })]
  const id = randomId()
  const chunks: Array<LogEntry.LogEntry> = []
  for (let at = 0, ordinal = 1; at < bytes.length; at += chunkSize, ordinal++) {
    chunks.push(
      LogEntry.make({
        source,
        timeNano: time,
        line: bytes.subarray(at, at + chunkSize),
        partial: true,
        partialLogMetadata: { id, ordinal, last: at + chunkSize >= bytes.length }
      })
    )
  }
  return chunks
}

/**
 * A container logging through the plugin.
 *
 * @since 0.1.0
 */
export interface Logging {
  readonly info: LogDriver.Info
  /** The FIFO of this start (a new one every time). */
  readonly file: string
  /** Capabilities and StartLogging; `error` is what `docker run` would print. */
  readonly start: Action
  /** What Capabilities answered (false when it failed, as the daemon reads it). */
  readonly readLogs: boolean
  /** Writes entries as frames, waiting while the pipe is full (the daemon's default `mode=blocking`). */
  readonly write: (entries: ReadonlyArray<LogEntry.LogEntry>) => Effect.Effect<void, LogFifo.LogFifoError>
  /** Writes lines of output (without newlines) on a stream, split like the daemon splits them. */
  readonly print: (
    source: "stdout" | "stderr",
    lines: ReadonlyArray<string>
  ) => Effect.Effect<void, LogFifo.LogFifoError>
  /** The container stops: StopLogging, then the FIFO is closed and removed. */
  readonly stop: Effect.Effect<Action>
}

/**
 * What a `docker logs` got.
 *
 * @since 0.1.0
 */
export interface Logs extends Action {
  readonly entries: ReadonlyArray<LogEntry.LogEntry>
}

/**
 * A fake daemon bound to one log plugin.
 *
 * @since 0.1.0
 */
export interface LogDaemon {
  /** `docker run --log-driver NAME`: Capabilities → FIFO → StartLogging. The FIFO lives until `stop` or the scope. */
  readonly run: (info?: LogDriver.Info) => Effect.Effect<Logging, never, Scope.Scope>
  /** `docker logs` of a running container (`logging`): ReadLogs on its logger. */
  readonly logs: (logging: Logging, config?: Partial<LogDriver.ReadConfig>) => Effect.Effect<Logs>
  /**
   * `docker logs` of a stopped container: a logger made just for reading, Capabilities → StartLogging (a new FIFO,
   * nothing written) → ReadLogs → StopLogging.
   */
  readonly logsStopped: (info: LogDriver.Info, config?: Partial<LogDriver.ReadConfig>) => Effect.Effect<Logs>
  /** `docker logs -f` of a running container: the entries as they come, until the plugin ends the answer. */
  readonly follow: (
    logging: Logging,
    config?: Partial<LogDriver.ReadConfig>
  ) => Effect.Effect<
    Stream.Stream<LogEntry.LogEntry, DriverFailure | LogFraming.FrameError | LogFraming.FrameTruncated>,
    CallError
  >
  readonly history: Effect.Effect<ReadonlyArray<Action>>
}

/**
 * A fake daemon talking to `client`, creating its FIFOs in `fifoDir` (the daemon uses `/run/docker/logging`).
 *
 * @since 0.1.0
 */
export const make = (
  client: PluginClient.PluginClient,
  options: { readonly fifoDir: string; readonly driverName?: string }
): Effect.Effect<LogDaemon> =>
  Effect.sync(() => {
    const history: Array<Action> = []
    const name = options.driverName ?? client.name

    /** One JSON call, recorded, read like the daemon reads it. */
    const call = <Ep extends Endpoint.Any>(calls: Array<Call>, step: string, endpoint: Ep, body?: unknown) =>
      Effect.map(Effect.result(client.exchange(endpoint.path, body)), (exchanged) => {
        if (Result.isFailure(exchanged)) {
          calls.push({
            step,
            request: { path: endpoint.path, body: body === undefined ? "" : `${JSON.stringify(body)}\n` },
            outcome: `error: ${exchanged.failure.message}`
          })
          return exchanged as Result.Result<never, CallError>
        }
        const { request, response } = exchanged.success
        const schema = endpoint.response._tag === "Json" ? endpoint.response.schema : LogDriver.CapabilitiesResponse
        const result = PluginClient.interpretJson(endpoint.path, response.status, response.text, schema, "Err")
        calls.push({
          step,
          request,
          response,
          outcome: Result.isSuccess(result) ? "ok" : `error: ${result.failure.message}`
        })
        return result as Result.Result<Endpoint.Output<Ep>, CallError>
      })

    const record = (command: string, calls: ReadonlyArray<Call>, error?: string): Action => {
      const action: Action = { command, calls, warnings: [], ...(error === undefined ? {} : { error }) }
      history.push(action)
      return action
    }

    /** A logger: Capabilities, a FIFO, StartLogging; the FIFO's scope is closed by `stop` or with `scope`. */
    const startLogger = (command: string, container: LogDriver.Info, scope: Scope.Scope) =>
      Effect.gen(function* () {
        const calls: Array<Call> = []
        const capabilities = yield* call(calls, "Capabilities", E.capabilities)
        const readLogs = Result.isSuccess(capabilities) && capabilities.success.Cap.ReadLogs
        const file = Path.join(options.fifoDir, randomId())
        const fifoScope = yield* Scope.fork(scope)
        const fifo = yield* LogFifo.create(file).pipe(Scope.provide(fifoScope), Effect.orDie)
        const started = yield* call(calls, "StartLogging", E.startLogging, { File: file, Info: container })
        const error = Result.isFailure(started)
          ? `failed to initialize logging driver: error creating logger: ${started.failure.message}`
          : undefined
        if (error !== undefined) yield* Scope.close(fifoScope, Exit.void)
        const start = record(command, calls, error)
        const stop = Effect.gen(function* () {
          const stopCalls: Array<Call> = []
          const stopped = yield* call(stopCalls, "StopLogging", E.stopLogging, { File: file })
          // The daemon closes and removes the FIFO after the answer, whatever it was.
          yield* Scope.close(fifoScope, Exit.void)
          return record(
            `docker stop (logger of ${container.ContainerID.slice(0, 12)})`,
            stopCalls,
            Result.isFailure(stopped) ? stopped.failure.message : undefined
          )
        })
        const write = (entries: ReadonlyArray<LogEntry.LogEntry>) => fifo.write(LogFraming.encodeFrames(entries))
        return {
          info: container,
          file,
          start,
          readLogs,
          write,
          print: (source, lines) => write(lines.flatMap((line) => entriesOf(source, line))),
          stop
        } satisfies Logging
      })

    const read = (calls: Array<Call>, container: LogDriver.Info, config: Partial<LogDriver.ReadConfig>) => {
      const body = { Info: container, Config: readConfig(config) }
      return client.call(E.readLogs, body).pipe(
        Effect.flatMap((bytes) => Stream.runCollect(LogFraming.decodeStream()(bytes))),
        Effect.result,
        Effect.map((result) => {
          calls.push({
            step: "ReadLogs",
            request: { path: E.readLogs.path, body: `${JSON.stringify(body)}\n` },
            outcome: Result.isSuccess(result)
              ? `ok: ${result.success.length} entries`
              : `error: ${result.failure.message}`
          })
          return result
        })
      )
    }

    const logs = (logging: Logging, config: Partial<LogDriver.ReadConfig> = {}) =>
      Effect.gen(function* () {
        const calls: Array<Call> = []
        const result = yield* read(calls, logging.info, config)
        const action = record(
          `docker logs ${logging.info.ContainerID.slice(0, 12)}`,
          calls,
          Result.isFailure(result) ? `error getting log reader: ${result.failure.message}` : undefined
        )
        return { ...action, entries: Result.isSuccess(result) ? result.success : [] }
      })

    const logsStopped = (container: LogDriver.Info, config: Partial<LogDriver.ReadConfig> = {}) =>
      Effect.scoped(
        Effect.gen(function* () {
          const logger = yield* startLogger(
            `docker logs ${container.ContainerID.slice(0, 12)} (stopped)`,
            container,
            yield* Effect.scope
          )
          if (logger.start.error !== undefined) return { ...logger.start, entries: [] }
          const calls: Array<Call> = [...logger.start.calls]
          const result = yield* read(calls, container, { ...config, Follow: false })
          const stop = yield* logger.stop
          calls.push(...stop.calls)
          const action = record(
            `docker logs ${container.ContainerID.slice(0, 12)}`,
            calls,
            Result.isFailure(result) ? `error getting log reader: ${result.failure.message}` : undefined
          )
          return { ...action, entries: Result.isSuccess(result) ? result.success : [] }
        })
      )

    return {
      run: (container = info()) =>
        Effect.flatMap(Effect.scope, (scope) =>
          startLogger(`docker run --log-driver ${name} (${container.ContainerID.slice(0, 12)})`, container, scope)
        ),
      logs,
      logsStopped,
      follow: (logging, config = {}) =>
        Effect.map(
          client.call(E.readLogs, { Info: logging.info, Config: readConfig({ ...config, Follow: true }) }),
          (bytes) => LogFraming.decodeStream()(bytes)
        ),
      history: Effect.sync(() => [...history])
    }
  })
