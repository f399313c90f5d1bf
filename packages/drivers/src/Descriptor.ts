/**
 * What the CLI (and `dpk package`) needs to know about a reference driver: its name, what it does, its own flags,
 * the APIs it serves, how its Layer is built from those flags, and what it needs as a managed (v2) plugin.
 * `dpk serve` derives one subcommand per descriptor, so adding a driver touches no CLI code.
 *
 * @since 0.1.0
 */
import type { PluginApi } from "@docker-plugin-kit/protocol"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Os from "node:os"
import * as Path from "node:path"

/**
 * The flag values a descriptor's Layer receives: one per flag, with the flag's parsed type.
 *
 * @since 0.1.0
 */
export type Values<Flags extends Record<string, Flag.Flag<any>>> = {
  readonly [K in keyof Flags]: Flags[K] extends Flag.Flag<infer A> ? A : never
}

/**
 * What a driver needs from the engine when it runs as a managed plugin (`config.json`).
 *
 * @since 0.1.0
 */
export interface ManagedNeeds {
  /** Linux capabilities, e.g. `CAP_SYS_ADMIN` for mounts, `CAP_NET_ADMIN` for links. */
  readonly capabilities?: ReadonlyArray<string>
  /** `host` for network plugins, which must see the host's interfaces. */
  readonly network?: "host" | "none" | "bridge"
  /** The folder whose mounts the engine sees (volume plugins that mount). */
  readonly propagatedMount?: string
  /** Host paths bind-mounted into the plugin. */
  readonly mounts?: ReadonlyArray<{
    readonly source: string
    readonly destination: string
    readonly options?: ReadonlyArray<string>
  }>
  /** Whether the plugin needs the host's PID namespace. */
  readonly pidHost?: boolean
  /** Whether the plugin needs the host's IPC namespace. */
  readonly ipcHost?: boolean
  /** Host devices given to the plugin (`Linux.Devices`), each path settable with `docker plugin set`. */
  readonly devices?: ReadonlyArray<string>
  /** Whether the plugin may use every host device (`Linux.AllowAllDevices`). */
  readonly allowAllDevices?: boolean
  /** Environment variables of the plugin, each value settable with `docker plugin set NAME VARIABLE=VALUE`. */
  readonly env?: ReadonlyArray<{ readonly name: string; readonly value: string; readonly description?: string }>
  /** Host tools the driver runs (e.g. `ip`), shipped in the rootfs with their libraries. */
  readonly binaries?: ReadonlyArray<string>
  /**
   * The plugin's default arguments (`Args.Value`), e.g. where a mounted file is; `docker plugin set NAME args=...`
   * replaces them all.
   */
  readonly args?: ReadonlyArray<string>
  /**
   * Flags of `dpk serve` every managed instance runs with: in the `Entrypoint`, before the arguments, so that
   * `docker plugin set NAME args=...` keeps them.
   */
  readonly serveFlags?: ReadonlyArray<string>
}

/**
 * The driver services a Layer serving `Apis` provides: one per API. For the APIs of a descriptor whose type was
 * widened to any API (a list of descriptors), any Layer.
 *
 * @since 0.1.0
 */
export type Services<Apis extends ReadonlyArray<PluginApi.Any>> =
  ReadonlyArray<PluginApi.Any> extends Apis ? any : DriverServiceOf<Apis[number]>

/**
 * The driver service of each API in a union: distributes over the union, so each API keeps its own service rather
 * than one service keyed by the union.
 *
 * @since 0.1.0
 */
export type DriverServiceOf<A> = A extends PluginApi.Any ? PluginApi.DriverService<A> : never

/**
 * A reference driver as the CLI sees it. Its Layer must provide the driver service of every API it declares: a
 * descriptor whose Layer provides another service, or misses one, does not compile.
 *
 * @since 0.1.0
 */
export interface Descriptor<
  Flags extends Record<string, Flag.Flag<any>> = Record<string, Flag.Flag<any>>,
  E = unknown,
  Apis extends ReadonlyArray<PluginApi.Any> = ReadonlyArray<PluginApi.Any>
> {
  /** `dpk serve NAME`, and the default plugin name. */
  readonly name: string
  /** One line for `--help` and the drivers README. */
  readonly description: string
  /** The plugin APIs the Layer provides drivers for (what Activate lists). */
  readonly apis: Apis
  /** The driver's own flags (the listener's flags are shared and added by the CLI). */
  readonly flags: Flags
  /** Builds the driver services from the parsed flags. */
  readonly layer: (values: Values<Flags>) => Layer.Layer<Services<Apis>, E>
  /** What it needs as a managed plugin; absent means nothing beyond the defaults. */
  readonly managed?: ManagedNeeds
  /**
   * V8 flags the driver is served with, for a memory or speed profile of its own: `dpk serve` sets them
   * (`v8.setFlagsFromString`) before the driver starts, and a managed plugin's entry point passes them to node. Only
   * flags V8 reads while it runs belong here (heap growth heuristics, not heap sizes fixed at start-up).
   */
  readonly v8Flags?: ReadonlyArray<string>
  /**
   * Node flags V8 reads only when the process starts (heap sizes), added after `defaultStartFlags` (the last value
   * of a flag wins): `dpk serve` starts itself again with them when it was started without (a value given to node
   * by hand, other than the default's, is kept), and a managed plugin's entry point passes them to node.
   */
  readonly startFlags?: ReadonlyArray<string>
}

/**
 * The start-up flags every served driver gets: a 2 MB young generation keeps a plugin's per-call garbage in cache
 * and its RSS lower than V8's default 16 MB (bench/README.md, step 8).
 *
 * @since 0.1.0
 */
export const defaultStartFlags: ReadonlyArray<string> = ["--max-semi-space-size=2"]

/**
 * The start-up flags of a driver: `defaultStartFlags`, then its own.
 *
 * @since 0.1.0
 */
export const startFlagsOf = (descriptor: { readonly startFlags?: ReadonlyArray<string> | undefined }) => [
  ...defaultStartFlags,
  ...(descriptor.startFlags ?? [])
]

/**
 * Declares a descriptor, keeping its flag types for the Layer and checking that the Layer provides the declared
 * APIs' drivers.
 *
 * @since 0.1.0
 */
export const make = <
  const Flags extends Record<string, Flag.Flag<any>>,
  E,
  const Apis extends ReadonlyArray<PluginApi.Any>
>(
  descriptor: Descriptor<Flags, E, Apis>
): Descriptor<Flags, E, Apis> => descriptor

/**
 * A Layer built from a module imported only when the Layer is built: `dpk serve NAME` (and `dpk --help`) then load
 * NAME's driver alone, not every reference driver with its libraries (start-up time and idle memory).
 *
 * @since 0.1.0
 */
export const load = <M, A, E, R>(
  module: () => Promise<M>,
  build: (module: M) => Layer.Layer<A, E, R>
): Layer.Layer<A, E, R> => Layer.unwrap(Effect.map(Effect.promise(module), build))

/**
 * Whether this process may use the system folders (`/run/docker/plugins`, `/var/lib/...`).
 *
 * @since 0.1.0
 */
export const isRoot = (): boolean => process.getuid?.() === 0

/**
 * Where state lives when a folder flag is not given: under `system` as root, else under the temp folder, so the
 * quick start works for any user (a daemon only finds plugins in the system folders, and only root runs one).
 *
 * @since 0.1.0
 */
export const defaultFolder = (system: string, name: string): string =>
  isRoot() ? system : Path.join(Os.tmpdir(), "docker-plugin-kit", name)

/**
 * A folder flag whose default is `system` as root and a folder named `name` under the temp folder otherwise
 * (`defaultFolder`); its help text is `description` followed by that default.
 *
 * @since 0.1.0
 */
export const folderFlag = (flag: string, description: string, system: string, name: string): Flag.Flag<string> =>
  Flag.String(flag).pipe(
    Flag.withDescription(`${description} (default ${system}; under the temp folder when not root)`),
    Flag.withDefault(defaultFolder(system, name))
  )
