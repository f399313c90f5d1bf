/**
 * The flags of `dpk package` that say what a plugin needs as a managed (v2) plugin (`--propagated-mount`,
 * `--mount`, `--capability`, `--network`, `--env`, `--device`, `--allow-all-devices`, `--ipc-host`, `--pid-host`,
 * `--binary`), and their check: `needsOf` turns the values into `ManagedNeeds`, added to what a reference driver's
 * descriptor declares, or says which flag and value it refuses and why. Pure: nothing is read from the machine.
 *
 * @since 0.1.0
 */
import type { Descriptor } from "@docker-plugin-kit/drivers"
import * as Flag from "effect/cli/Flag"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Path from "node:path"
import * as PluginConfig from "./PluginConfig.ts"
import * as Rootfs from "./Rootfs.ts"

/**
 * The Linux capabilities a plugin's config may list (`capabilities(7)`, as the engine's runtime knows them).
 *
 * @since 0.1.0
 */
export const capabilityNames: ReadonlyArray<string> = [
  "CAP_AUDIT_CONTROL",
  "CAP_AUDIT_READ",
  "CAP_AUDIT_WRITE",
  "CAP_BLOCK_SUSPEND",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_KILL",
  "CAP_LEASE",
  "CAP_LINUX_IMMUTABLE",
  "CAP_MAC_ADMIN",
  "CAP_MAC_OVERRIDE",
  "CAP_MKNOD",
  "CAP_NET_ADMIN",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_RAW",
  "CAP_PERFMON",
  "CAP_SETFCAP",
  "CAP_SETGID",
  "CAP_SETPCAP",
  "CAP_SETUID",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_CHROOT",
  "CAP_SYS_MODULE",
  "CAP_SYS_NICE",
  "CAP_SYS_PACCT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM"
]

/**
 * The values of `Network.Type` the engine reads: `host` shares the host's network namespace; `none` and `bridge`
 * keep the plugin's own (Engine 20.10 attaches no bridge: only `host` changes the namespace) and give it the host's
 * `/etc/hosts` and `/etc/resolv.conf`. Without the flag the type is empty: its own namespace, nothing bound.
 *
 * @since 0.1.0
 */
export const networkTypes = ["host", "none", "bridge"] as const

/**
 * The variables the kit sets itself, which `--env` may not give, with what they are.
 *
 * @since 0.1.0
 */
export const kitEnv: Readonly<Record<string, string>> = {
  DPK_PLUGIN_SOCKET: "where the plugin listens",
  NODE_COMPILE_CACHE: `default ${PluginConfig.compileCacheDir}, settable after create: docker plugin set PLUGIN NODE_COMPILE_CACHE=DIR`
}

/** The folder the engine mounts the plugin's socket into, and the plugin's own files a mount must not hide. */
const socketDir = Path.posix.dirname(PluginConfig.socketPath)
const ownFiles = [Rootfs.bundlePath, Rootfs.nodePath]

/** How the flags that add to a reference driver's needs say so. */
const forDriver = "; with a reference driver, added to what it declares"

/**
 * The flags, as `Command.make` takes them.
 *
 * @since 0.1.0
 */
export const flags = {
  propagatedMount: Flag.String("propagated-mount").pipe(
    Flag.withDescription(
      "A folder inside the plugin whose mounts the engine sees (PropagatedMount), e.g. where a volume plugin mounts volumes; with a reference driver, allowed only when it declares none or the same"
    ),
    Flag.optional
  ),
  mounts: Flag.String("mount").pipe(
    Flag.withDescription(
      `SOURCE:DESTINATION[:ro], repeatable: a host path bind-mounted (rbind) into the plugin, read-only with :ro; SOURCE stays settable (docker plugin set PLUGIN mountN.source=PATH)${forDriver}`
    ),
    Flag.atLeast(0)
  ),
  capabilities: Flag.String("capability").pipe(
    Flag.withDescription(
      `A Linux capability the plugin gets, as capabilities(7) names it, repeatable, e.g. CAP_SYS_ADMIN to mount, CAP_NET_ADMIN for links${forDriver}`
    ),
    Flag.atLeast(0)
  ),
  network: Flag.String("network").pipe(
    Flag.withDescription(
      "The plugin's network: host (the host's interfaces, as a network plugin needs), none or bridge (its own namespace, with the host's /etc/hosts and /etc/resolv.conf); default: its own namespace; with a reference driver, allowed only when it declares none or the same"
    ),
    Flag.optional
  ),
  env: Flag.String("env").pipe(
    Flag.withDescription(
      `NAME=VALUE, repeatable: an environment variable of the plugin, settable after create (docker plugin set PLUGIN NAME=VALUE)${forDriver}`
    ),
    Flag.atLeast(0)
  ),
  devices: Flag.String("device").pipe(
    Flag.withDescription(
      `A host device (or folder of devices) given to the plugin, repeatable, e.g. /dev/fuse; its path stays settable (docker plugin set PLUGIN deviceN.path=PATH)${forDriver}`
    ),
    Flag.atLeast(0)
  ),
  allowAllDevices: Flag.Boolean("allow-all-devices").pipe(
    Flag.withDescription(
      "Let the plugin use every host device (AllowAllDevices); with a reference driver, also when it does not ask for it"
    ),
    Flag.withDefault(false)
  ),
  ipcHost: Flag.Boolean("ipc-host").pipe(
    Flag.withDescription(
      "Run the plugin in the host's IPC namespace; with a reference driver, also when it does not ask for it"
    ),
    Flag.withDefault(false)
  ),
  pidHost: Flag.Boolean("pid-host").pipe(
    Flag.withDescription(
      "Run the plugin in the host's PID namespace; with a reference driver, also when it does not ask for it"
    ),
    Flag.withDefault(false)
  ),
  binaries: Flag.String("binary").pipe(
    Flag.withDescription(
      `A host tool the plugin runs (a name on PATH, or an absolute path), repeatable: shipped in the rootfs at the same path with its libraries${forDriver}`
    ),
    Flag.atLeast(0)
  )
} as const

/**
 * The flags' values; each may be left out.
 *
 * @since 0.1.0
 */
export interface Values {
  readonly propagatedMount?: Option.Option<string>
  readonly mounts?: ReadonlyArray<string>
  readonly capabilities?: ReadonlyArray<string>
  readonly network?: Option.Option<string>
  readonly env?: ReadonlyArray<string>
  readonly devices?: ReadonlyArray<string>
  readonly allowAllDevices?: boolean
  readonly ipcHost?: boolean
  readonly pidHost?: boolean
  readonly binaries?: ReadonlyArray<string>
}

/**
 * A host folder bind-mounted into the plugin, as `--mount` gives it.
 *
 * @since 0.1.0
 */
export type Mount = NonNullable<Descriptor.ManagedNeeds["mounts"]>[number]

/**
 * A settable environment variable, as `--env` gives it.
 *
 * @since 0.1.0
 */
export type Env = NonNullable<Descriptor.ManagedNeeds["env"]>[number]

const quoted = (flag: string, value: string) => `--${flag} ${JSON.stringify(value)}`

/** Why `path` is not an absolute path as the engine compares them (normalized, no trailing `/`), or undefined. */
const notAbsolute = (path: string): string | undefined =>
  !Path.posix.isAbsolute(path)
    ? "is not an absolute path"
    : Path.posix.normalize(path) !== path || (path.length > 1 && path.endsWith("/"))
      ? `is not a normalized absolute path (${Path.posix.normalize(path).replace(/(.)\/$/, "$1")})`
      : undefined

/** Whether `inner` is `outer` or inside it. */
const within = (inner: string, outer: string) => inner === outer || inner.startsWith(outer === "/" ? "/" : `${outer}/`)

/** Why nothing may be mounted on `path` inside the plugin (for `--mount` and `--propagated-mount`), or undefined. */
const notAPlace = (path: string): string | undefined => {
  const absolute = notAbsolute(path)
  if (absolute !== undefined) return absolute
  if (within(path, socketDir)) return `is ${socketDir} or inside it, where the engine mounts the plugin's socket`
  const hidden = ownFiles.find((file) => within(file, path))
  return hidden === undefined ? undefined : `would hide the plugin's own ${hidden}`
}

/**
 * The folders the runtime mounts its own file systems on when the plugin starts. The engine binds the propagated
 * mount into the rootfs before that, so one on or inside them would be covered.
 */
const runtimeMounts = ["/dev", "/proc", "/sys"]

/**
 * A `--mount` value as a mount (`SOURCE:DESTINATION[:ro|:rw]`, both absolute), or why not. Neither path may hold a
 * `:` (the separator). A destination inside `/dev` (not `/dev` itself) is refused: Engine 20.10 removes from the
 * plugin's spec every mount of its config under `/dev/` (meant for the runtime's own `/dev/shm` and the like).
 *
 * @since 0.1.0
 */
export const parseMount = (value: string): Result.Result<Mount, string> => {
  // `tail` goes right after the flag and its value.
  const refuse = (tail: string) => Result.fail(`${quoted("mount", value)}${tail}`)
  const parts = value.split(":")
  if (parts.length < 2 || parts.length > 3) return refuse(" must be SOURCE:DESTINATION or SOURCE:DESTINATION:ro")
  const [source, destination, mode = "rw"] = parts as [string, string, string?]
  if (mode !== "ro" && mode !== "rw") return refuse(`: the mode ${JSON.stringify(mode)} is not ro or rw`)
  const badSource = notAbsolute(source)
  if (badSource !== undefined) return refuse(`: SOURCE ${JSON.stringify(source)} ${badSource} on the host`)
  const badDestination = notAPlace(destination)
  if (badDestination !== undefined) return refuse(`: DESTINATION ${JSON.stringify(destination)} ${badDestination}`)
  if (destination.startsWith("/dev/")) {
    return refuse(
      `: DESTINATION ${JSON.stringify(destination)} is inside /dev, where Engine 20.10 drops a plugin's mount (a device: --device; or mount all of /dev)`
    )
  }
  return Result.succeed({ source, destination, options: ["rbind", mode] })
}

/**
 * An `--env` value as a variable (`NAME=VALUE`, VALUE possibly empty), or why not: a name `docker plugin set` can
 * address (letters, digits and `_`), not one the kit sets, nor the name of another setting.
 *
 * @since 0.1.0
 */
export const parseEnv = (value: string): Result.Result<Env, string> => {
  // `tail` goes right after the flag and its value.
  const refuse = (tail: string) => Result.fail(`${quoted("env", value)}${tail}`)
  const at = value.indexOf("=")
  if (at < 0) return refuse(" must be NAME=VALUE (VALUE may be empty)")
  const name = value.slice(0, at)
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    return refuse(`: NAME ${JSON.stringify(name)} must be letters, digits and _, not starting with a digit`)
  }
  if (Object.hasOwn(kitEnv, name)) return refuse(`: the kit sets ${name} itself (${kitEnv[name]})`)
  // docker plugin set looks a name up among the variables first: one named as another setting would hide it.
  if (name === "args" || /^(?:mount|device)\d+$/.test(name)) {
    return refuse(`: ${name} is the name of another setting of the plugin (its arguments, a mount or a device)`)
  }
  return Result.succeed({ name, value: value.slice(at + 1) })
}

/**
 * A `--capability` value checked against `capabilityNames`, or why not (with the name it likely meant).
 *
 * @since 0.1.0
 */
export const parseCapability = (value: string): Result.Result<string, string> => {
  if (capabilityNames.includes(value)) return Result.succeed(value)
  const upper = value.toUpperCase().replace(/-/g, "_")
  const meant = [upper, `CAP_${upper}`].find((name) => capabilityNames.includes(name))
  return Result.fail(
    meant !== undefined
      ? `${quoted("capability", value)} is not a Linux capability name: did you mean ${meant}?`
      : `${quoted("capability", value)} is not a Linux capability name (known: ${capabilityNames.join(", ")})`
  )
}

/**
 * What a plugin needs: the flags' `values` added to what a reference driver's descriptor declares (`declared`, by
 * `driver`), or the first refusal, naming the flag and its value. Capabilities and tools given twice count once;
 * a second mount on one destination, a mount above one listed before it (mounted in order, it would hide it), a
 * variable or device given twice, a mount on, in or above the propagated mount, a propagated mount on or in `/dev`,
 * `/proc` or `/sys`, and a propagated mount or network other than the one the driver declares are refused.
 *
 * @since 0.1.0
 */
export const needsOf = (
  values: Values,
  declared: Descriptor.ManagedNeeds = {},
  driver = "the driver"
): Result.Result<Descriptor.ManagedNeeds, string> => {
  // Propagated mount: one per plugin.
  let propagatedMount = declared.propagatedMount
  for (const path of Option.toArray(values.propagatedMount ?? Option.none())) {
    const bad = notAPlace(path)
    if (bad !== undefined) return Result.fail(`${quoted("propagated-mount", path)} ${bad}`)
    const covering = runtimeMounts.find((folder) => within(path, folder))
    if (covering !== undefined) {
      return Result.fail(
        `${quoted("propagated-mount", path)} is ${covering} or inside it, where the runtime mounts its own file system over what the engine bound`
      )
    }
    if (propagatedMount !== undefined && propagatedMount !== path) {
      return Result.fail(
        `${quoted("propagated-mount", path)}: ${driver} has its own, ${propagatedMount} (a plugin has one)`
      )
    }
    propagatedMount = path
  }

  // Mounts: after the declared ones, one per destination, clear of the propagated mount.
  const mounts: Array<Mount> = [...(declared.mounts ?? [])]
  for (const value of values.mounts ?? []) {
    const parsed = parseMount(value)
    if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
    const { destination } = parsed.success
    const refuse = (why: string) => Result.fail(`${quoted("mount", value)}: ${why}`)
    const taken = mounts.findIndex((m) => m.destination === destination)
    if (taken >= 0) {
      return refuse(
        taken < (declared.mounts ?? []).length
          ? `${driver} mounts ${mounts[taken]!.source} on ${destination} already`
          : `another --mount has the destination ${destination}`
      )
    }
    if (propagatedMount !== undefined) {
      if (destination === propagatedMount) return refuse(`${destination} is the propagated mount`)
      if (within(destination, propagatedMount)) {
        return refuse(`${destination} is inside the propagated mount ${propagatedMount}, so the host would see it`)
      }
      if (within(propagatedMount, destination)) {
        return refuse(`${destination} would hide the propagated mount ${propagatedMount}`)
      }
    }
    // Mounted in order: a mount above one made before it covers it.
    const hidden = mounts.findIndex((m) => within(m.destination, destination))
    if (hidden >= 0) {
      const { source, destination: under } = mounts[hidden]!
      return refuse(
        hidden < (declared.mounts ?? []).length
          ? `${destination} would hide ${driver}'s mount of ${source} on ${under}`
          : `${destination} would hide the mount of ${source} on ${under}, given before it (give ${destination} first)`
      )
    }
    mounts.push(parsed.success)
  }
  // A declared mount on the propagated mount given by flag.
  if (propagatedMount !== declared.propagatedMount) {
    const clash = (declared.mounts ?? []).find(
      (m) => within(m.destination, propagatedMount!) || within(propagatedMount!, m.destination)
    )
    if (clash !== undefined) {
      return Result.fail(
        `${quoted("propagated-mount", propagatedMount!)}: ${driver} mounts ${clash.source} on ${clash.destination}, which overlaps it`
      )
    }
  }

  const capabilities = [...(declared.capabilities ?? [])]
  for (const value of values.capabilities ?? []) {
    const parsed = parseCapability(value)
    if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
    if (!capabilities.includes(parsed.success)) capabilities.push(parsed.success)
  }

  let network = declared.network
  for (const value of Option.toArray(values.network ?? Option.none())) {
    const type = networkTypes.find((t) => t === value)
    if (type === undefined) {
      return Result.fail(`${quoted("network", value)} is not a network type: ${networkTypes.join(", ")}`)
    }
    if (network !== undefined && network !== type) {
      return Result.fail(`${quoted("network", value)}: ${driver} needs the network ${network}`)
    }
    network = type
  }

  const env: Array<Env> = [...(declared.env ?? [])]
  for (const value of values.env ?? []) {
    const parsed = parseEnv(value)
    if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
    if (env.some((e) => e.name === parsed.success.name)) {
      return Result.fail(`${quoted("env", value)}: ${parsed.success.name} is given already`)
    }
    env.push(parsed.success)
  }

  const devices = [...(declared.devices ?? [])]
  for (const value of values.devices ?? []) {
    const bad = notAbsolute(value)
    if (bad !== undefined) return Result.fail(`${quoted("device", value)} ${bad} on the host`)
    if (devices.includes(value)) return Result.fail(`${quoted("device", value)} is given already`)
    devices.push(value)
  }

  const binaries = [...(declared.binaries ?? [])]
  for (const value of values.binaries ?? []) {
    if (value === "" || (value.includes("/") && notAbsolute(value) !== undefined)) {
      return Result.fail(`${quoted("binary", value)} must be a name on PATH or an absolute path`)
    }
    if (!binaries.includes(value)) binaries.push(value)
  }

  return Result.succeed({
    ...declared,
    ...(propagatedMount === undefined ? {} : { propagatedMount }),
    ...(network === undefined ? {} : { network }),
    ...(mounts.length === 0 ? {} : { mounts }),
    ...(capabilities.length === 0 ? {} : { capabilities }),
    ...(env.length === 0 ? {} : { env }),
    ...(devices.length === 0 ? {} : { devices }),
    ...(binaries.length === 0 ? {} : { binaries }),
    ...(values.allowAllDevices === true ? { allowAllDevices: true } : {}),
    ...(values.ipcHost === true ? { ipcHost: true } : {}),
    ...(values.pidHost === true ? { pidHost: true } : {})
  })
}
