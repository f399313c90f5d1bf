/**
 * The flags every `dpk serve DRIVER` command shares, and how they become a listener and server options.
 *
 * @since 0.1.0
 */
import * as Descriptor from "@docker-plugin-kit/drivers/Descriptor"
import * as HostPort from "@docker-plugin-kit/drivers/shared/HostPort"
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Path from "node:path"
import * as V8 from "node:v8"
import * as StartFlags from "./StartFlags.ts"

/**
 * Shared serve flags.
 *
 * @since 0.1.0
 */
export const flags = {
  name: Flag.String("name").pipe(
    Flag.withDescription("Plugin name (socket NAME.sock, spec file NAME.spec)"),
    Flag.optional
  ),
  socket: Flag.String("socket").pipe(
    Flag.withDescription(
      "Unix socket path (default /run/docker/plugins/NAME.sock; under the temp folder when not root)"
    ),
    Flag.optional
  ),
  tcp: Flag.String("tcp").pipe(Flag.withDescription("Listen on HOST:PORT instead of a Unix socket"), Flag.optional),
  specDir: Flag.String("spec-dir").pipe(
    Flag.withDescription("Where a TCP plugin writes its spec file (default /etc/docker/plugins)"),
    Flag.optional
  ),
  tlsCert: Flag.String("tls-cert").pipe(Flag.withDescription("TLS certificate (PEM) for --tcp"), Flag.optional),
  tlsKey: Flag.String("tls-key").pipe(Flag.withDescription("TLS private key (PEM) for --tcp"), Flag.optional),
  tlsCa: Flag.String("tls-ca").pipe(
    Flag.withDescription(
      "CA (PEM) the daemon's client certificate must be signed by: callers without one are refused; NAME.json names it and the daemon's certificate"
    ),
    Flag.optional
  ),
  tlsDaemonCert: Flag.String("tls-daemon-cert").pipe(
    Flag.withDescription("Certificate (PEM) the daemon presents, named in NAME.json (default: --tls-cert)"),
    Flag.optional
  ),
  tlsDaemonKey: Flag.String("tls-daemon-key").pipe(
    Flag.withDescription("Key (PEM) of --tls-daemon-cert, named in NAME.json (default: --tls-key)"),
    Flag.optional
  ),
  group: Flag.String("group").pipe(Flag.withDescription("Group (name or GID) owning the socket"), Flag.optional),
  systemd: Flag.Boolean("systemd").pipe(
    Flag.withDescription("Serve on the socket passed by systemd socket activation (LISTEN_FDS)"),
    Flag.withDefault(false)
  ),
  deadline: Flag.Int("deadline-ms").pipe(
    Flag.withDescription("Deadline of every driver call in milliseconds (default 120000; 0: none)"),
    Flag.withDefault(120_000)
  ),
  bodyIdleTimeout: Flag.Int("body-idle-timeout-ms").pipe(
    Flag.withDescription(
      "Answer 408 and close a connection whose request body receives nothing for this long (default 30000; 0: never)"
    ),
    Flag.withDefault(30_000)
  ),
  verbose: Flag.Boolean("verbose").pipe(Flag.withDescription("Log every call"), Flag.withDefault(false))
} as const

/**
 * Parsed shared serve flags.
 *
 * @since 0.1.0
 */
export interface Values {
  readonly name: Option.Option<string>
  readonly socket: Option.Option<string>
  readonly tcp: Option.Option<string>
  readonly specDir: Option.Option<string>
  readonly tlsCert: Option.Option<string>
  readonly tlsKey: Option.Option<string>
  readonly tlsCa: Option.Option<string>
  readonly tlsDaemonCert: Option.Option<string>
  readonly tlsDaemonKey: Option.Option<string>
  readonly group: Option.Option<string>
  readonly systemd: boolean
  readonly deadline: number
  readonly bodyIdleTimeout: number
  readonly verbose: boolean
}

/**
 * A flag with a bad value, or a bad combination of flags: `flag` names it, `reason` says what is wrong.
 *
 * @since 0.1.0
 */
export class FlagError extends Data.TaggedError("FlagError")<{ readonly flag: string; readonly reason: string }> {
  override get message(): string {
    return `${this.flag} ${this.reason}`
  }
}

/**
 * The server could not start (socket taken, port in use, driver failed to initialise, ...): `plugin` names it,
 * `reason` says why.
 *
 * @since 0.1.0
 */
export class ServeFailed extends Data.TaggedError("ServeFailed")<{ readonly plugin: string; readonly reason: string }> {
  override get message(): string {
    return `${this.plugin}: ${this.reason}`
  }
}

const describe = (e: unknown): string =>
  e instanceof Error ? e.message : String((e as { message?: unknown })?.message ?? e)

const parseHostPort = (value: string): HostPort.HostPort => {
  const parsed = HostPort.parse(value)
  if (Result.isFailure(parsed)) throw new FlagError({ flag: "--tcp", reason: `${parsed.failure}, got "${value}"` })
  return parsed.success
}

/**
 * Whether this process may use the system folders (`/run/docker/plugins`, `/var/lib/...`).
 *
 * @since 0.1.0
 */
export const isRoot = Descriptor.isRoot

/**
 * Where state lives when a folder flag is not given (see `Descriptor.defaultFolder`).
 *
 * @since 0.1.0
 */
export const defaultFolder = Descriptor.defaultFolder

const defaultSocket = (name: string): string =>
  Path.join(defaultFolder(Listener.defaultSocketDir, "plugins"), `${name}.sock`)

/**
 * The listener the flags describe.
 *
 * @since 0.1.0
 */
export const listenOf = (name: string, values: Values): Listener.Listen => {
  if (values.systemd) return { _tag: "Systemd" }
  if (Option.isSome(values.tcp)) {
    if (Option.isSome(values.socket)) throw new FlagError({ flag: "--socket", reason: "and --tcp are exclusive" })
    const { host, port } = parseHostPort(values.tcp.value)
    const cert = Option.getOrUndefined(values.tlsCert)
    const key = Option.getOrUndefined(values.tlsKey)
    if ((cert === undefined) !== (key === undefined)) {
      throw new FlagError({ flag: "--tls-cert", reason: "and --tls-key go together" })
    }
    const ca = Option.getOrUndefined(values.tlsCa)
    if (ca !== undefined && cert === undefined) {
      throw new FlagError({ flag: "--tls-ca", reason: "needs --tls-cert and --tls-key" })
    }
    const daemonCert = Option.getOrUndefined(values.tlsDaemonCert)
    const daemonKey = Option.getOrUndefined(values.tlsDaemonKey)
    if ((daemonCert === undefined) !== (daemonKey === undefined)) {
      throw new FlagError({ flag: "--tls-daemon-cert", reason: "and --tls-daemon-key go together" })
    }
    if (daemonCert !== undefined && ca === undefined) {
      throw new FlagError({
        flag: "--tls-daemon-cert",
        reason: "needs --tls-ca (without it no client certificate is asked for)"
      })
    }
    return {
      _tag: "Tcp",
      host,
      port,
      ...(Option.isSome(values.specDir) ? { specDir: values.specDir.value } : {}),
      ...(cert !== undefined && key !== undefined
        ? {
            tls: {
              certFile: cert,
              keyFile: key,
              ...(ca === undefined ? {} : { caFile: ca }),
              ...(daemonCert === undefined || daemonKey === undefined
                ? {}
                : { daemonCertFile: daemonCert, daemonKeyFile: daemonKey })
            }
          }
        : {})
    }
  }
  for (const f of ["tlsCert", "tlsKey", "tlsCa", "tlsDaemonCert", "tlsDaemonKey", "specDir"] as const) {
    if (Option.isSome(values[f])) {
      throw new FlagError({ flag: `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, reason: "needs --tcp" })
    }
  }
  return Listener.unix(name, {
    path: Option.getOrElse(values.socket, () => defaultSocket(name)),
    ...(Option.isSome(values.group) ? { group: values.group.value } : {})
  })
}

/**
 * Builds `dpk serve DRIVER`: the shared flags plus the driver's own, served until SIGINT/SIGTERM, with the
 * driver's V8 flags (`Descriptor.v8Flags`) set first, after starting again with its start-up flags
 * (`Descriptor.startFlagsOf`, `StartFlags`) if node was started without them.
 *
 * @since 0.1.0
 */
export const command = <const Name extends string, Own extends Record<string, Flag.Flag<any>>, E>(
  driverName: Name,
  description: string,
  own: Own,
  drivers: (
    values: { readonly [K in keyof Own]: Own[K] extends Flag.Flag<infer A> ? A : never }
  ) => Layer.Layer<any, E>,
  v8Flags: ReadonlyArray<string> = [],
  startFlags: ReadonlyArray<string> = Descriptor.defaultStartFlags
) =>
  Command.make(driverName, { ...flags, ...own }, (values) =>
    Effect.gen(function* () {
      yield* StartFlags.ensure(startFlags)
      for (const flag of v8Flags) V8.setFlagsFromString(flag)
      const all = values as unknown as Values
      const name = Option.getOrElse(all.name, () => driverName)
      const listen = yield* Effect.try({
        try: () => listenOf(name, all),
        catch: (e) => (e instanceof FlagError ? e : new FlagError({ flag: "serve", reason: describe(e) }))
      })
      for (const [flag, value] of [
        ["--deadline-ms", all.deadline],
        ["--body-idle-timeout-ms", all.bodyIdleTimeout]
      ] as const) {
        if (value < 0) return yield* new FlagError({ flag, reason: `must be 0 or more, got ${value}` })
      }
      const server = PluginServer.layer({
        name,
        listen,
        deadline: all.deadline,
        bodyIdleTimeout: Duration.millis(all.bodyIdleTimeout),
        verbose: all.verbose
      })
      const announce = PluginServer.announce((address) => `${name}: serving ${driverName}, listening on ${address}`)
      return yield* Layer.launch(
        announce.pipe(
          Layer.provideMerge(server),
          Layer.provide(drivers(values as never)),
          Layer.provide(PluginServer.logger)
        )
      ).pipe(Effect.mapError((e) => new ServeFailed({ plugin: name, reason: describe(e) })))
    })
  ).pipe(Command.withDescription(description))
