/**
 * The `config.json` of a managed (v2) plugin, derived from what the plugin serves and what it needs: interface types
 * from the APIs, the socket inside `/run/docker/plugins`, the entry point, and the mounts, capabilities, network,
 * devices and environment a driver's descriptor declares or `dpk package`'s flags give. Arguments, mount sources,
 * device paths and environment values stay settable with `docker plugin set`.
 *
 * @since 0.1.0
 */
import type { Descriptor } from "@docker-plugin-kit/drivers"
import type { PluginApi } from "@docker-plugin-kit/protocol"

/**
 * The socket file name inside the plugin's `/run/docker/plugins`.
 *
 * @since 0.1.0
 */
export const socketName = "plugin.sock"

/**
 * Where the plugin's socket is, seen from inside the plugin.
 *
 * @since 0.1.0
 */
export const socketPath = `/run/docker/plugins/${socketName}`

/**
 * Where Node keeps V8's compiled code of the plugin's bundle between starts (`NODE_COMPILE_CACHE`). It is inside the
 * plugin's own root file system, which the engine mounts writable and keeps across restarts, so every start after the
 * first (each daemon restart, each `docker plugin enable`) skips compiling the bundle: `pnpm bench startup` measures
 * that as 1.0–1.2× a bare `node:http` server's start, against 1.4–1.5× without. Settable (`docker plugin set NAME
 * NODE_COMPILE_CACHE=DIR`); Node ignores an empty value.
 *
 * @since 0.1.0
 */
export const compileCacheDir = "/var/cache/node-compile-cache"

/**
 * A `config.json`, with the daemon's field names.
 *
 * @since 0.1.0
 */
export interface PluginConfig {
  readonly Description: string
  readonly Documentation: string
  readonly Entrypoint: ReadonlyArray<string>
  readonly WorkDir: string
  readonly Interface: { readonly Types: ReadonlyArray<string>; readonly Socket: string }
  readonly Network: { readonly Type: string }
  readonly PropagatedMount: string
  readonly Mounts: ReadonlyArray<{
    readonly Name: string
    readonly Description: string
    readonly Settable: ReadonlyArray<string>
    readonly Source: string
    readonly Destination: string
    readonly Type: string
    readonly Options: ReadonlyArray<string>
  }>
  readonly Linux: {
    readonly Capabilities: ReadonlyArray<string>
    readonly AllowAllDevices: boolean
    /** `null` when there is none, as the engine writes an empty list. */
    readonly Devices: ReadonlyArray<{
      readonly Name: string
      readonly Description: string
      readonly Settable: ReadonlyArray<string>
      readonly Path: string
    }> | null
  }
  readonly Env: ReadonlyArray<{
    readonly Name: string
    readonly Description: string
    readonly Settable: ReadonlyArray<string>
    readonly Value: string
  }>
  readonly Args: {
    readonly Name: string
    readonly Description: string
    readonly Settable: ReadonlyArray<string>
    readonly Value: ReadonlyArray<string>
  }
  readonly IpcHost: boolean
  readonly PidHost: boolean
}

/**
 * What a config is made from.
 *
 * @since 0.1.0
 */
export interface Input {
  readonly description: string
  /** The APIs the plugin serves (their `interfaceType`s become `Interface.Types`). */
  readonly apis: ReadonlyArray<PluginApi.Any>
  /** argv before the user-settable arguments. */
  readonly entrypoint: ReadonlyArray<string>
  /** Default values of the user-settable arguments (`docker plugin set NAME args="..."`). */
  readonly args: ReadonlyArray<string>
  /** What the arguments may be, for `docker plugin inspect`. */
  readonly argsDescription: string
  readonly needs: Descriptor.ManagedNeeds
}

/**
 * The config of a plugin.
 *
 * @since 0.1.0
 */
export const make = (input: Input): PluginConfig => ({
  Description: input.description,
  Documentation: "https://github.com/docker-plugin-kit/docker-plugin-kit",
  Entrypoint: input.entrypoint,
  WorkDir: "/",
  // The daemon matches network, IPAM and metrics registrations on the whole string: lower case, as declared.
  Interface: { Types: [...new Set(input.apis.map((api) => api.interfaceType))], Socket: socketName },
  Network: { Type: input.needs.network ?? "" },
  PropagatedMount: input.needs.propagatedMount ?? "",
  Mounts: (input.needs.mounts ?? []).map((m, i) => ({
    Name: `mount${i}`,
    Description: `${m.source} on ${m.destination}`,
    Settable: ["source"],
    Source: m.source,
    Destination: m.destination,
    Type: "bind",
    Options: [...(m.options ?? ["rbind", "rw"])]
  })),
  Linux: {
    Capabilities: [...(input.needs.capabilities ?? [])],
    AllowAllDevices: input.needs.allowAllDevices ?? false,
    Devices:
      (input.needs.devices ?? []).length === 0
        ? null
        : input.needs.devices!.map((path, i) => ({
            Name: `device${i}`,
            Description: path,
            Settable: ["path"],
            Path: path
          }))
  },
  Env: [
    { Name: "DPK_PLUGIN_SOCKET", Description: "Where the plugin listens", Settable: [], Value: socketPath },
    {
      Name: "NODE_COMPILE_CACHE",
      Description: "Where Node keeps the plugin's compiled code between starts (empty: nowhere)",
      Settable: ["value"],
      Value: compileCacheDir
    },
    ...(input.needs.env ?? []).map((e) => ({
      Name: e.name,
      Description: e.description ?? `Settable: docker plugin set PLUGIN ${e.name}=VALUE`,
      Settable: ["value"],
      Value: e.value
    }))
  ],
  Args: { Name: "args", Description: input.argsDescription, Settable: ["value"], Value: input.args },
  IpcHost: input.needs.ipcHost ?? false,
  PidHost: input.needs.pidHost ?? false
})
