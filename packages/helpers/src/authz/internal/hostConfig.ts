/**
 * Reading a container's host configuration (`containers/create`, and `containers/{id}/start` from old clients), and
 * the mounts and `local` volume options that other specifications share with it.
 */
import type { Borrowed, ContainerSpec, DeviceRequest, FromContainer, HostMount, Namespace } from "../ContainerSpec.ts"
import * as GoJson from "./goJson.ts"
import { capability, cleanPath, namespaces, securityOption } from "./specBasics.ts"

/** What Engine 20.10 masks in every container that is not privileged, unless the request gives its own list. */
const defaultMaskedPaths = [
  "/proc/asound",
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware"
]

/** What Engine 20.10 makes read-only in every container that is not privileged, unless the request gives its own. */
const defaultReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

/** Whether a request's own list (absent or null: the defaults) leaves out any of the defaults. */
const dropsDefaults = (listed: unknown, defaults: ReadonlyArray<string>): boolean => {
  if (!Array.isArray(listed)) return false
  const given = new Set(GoJson.strings(listed).map(cleanPath))
  return defaults.some((path) => !given.has(path))
}

/** The source of a `Binds` entry when it is a host path (`/src:/dst[:opts]`); named volumes have none. */
const bindSource = (bind: string): string | undefined => {
  const colon = bind.indexOf(":")
  if (colon <= 0) return undefined
  const source = bind.slice(0, colon)
  return source.startsWith("/") ? source : undefined
}

/** File systems a `local` volume may mount that hold nothing of the host: memory, or another machine's files. */
const foreignTypes: ReadonlySet<string> = new Set(["tmpfs", "nfs", "nfs4", "cifs", "smb3"])

/**
 * The host path a `local` volume's options expose, if any. The daemon mounts such a volume itself, in the host's
 * mount namespace, with whatever type and device the options give, so:
 * - `o=bind` (or `rbind`) exposes its `device`; a relative one is resolved from the daemon's working folder, which
 *   the plugin cannot know (and `..` reaches anything), so it counts as `/`;
 * - any other type but memory and network file systems (a disk such as `/dev/sda1`, `proc`, `sysfs`, an `overlay`
 *   of host folders) can expose the whole host, and counts as `/`.
 */
export const localVolumeSource = (driver: unknown, options: unknown): string | undefined => {
  const name = GoJson.string(driver) ?? ""
  if (name !== "" && name !== "local") return undefined
  const device = GoJson.string(GoJson.field(options, "device")) ?? ""
  // Without a device the daemon mounts nothing (it refuses the options).
  if (device === "") return undefined
  const o = GoJson.string(GoJson.field(options, "o")) ?? ""
  const binds = o.split(",").some((flag) => flag.trim() === "bind" || flag.trim() === "rbind")
  if (binds) return device.startsWith("/") ? device : "/"
  const type = GoJson.string(GoJson.field(options, "type")) ?? ""
  return foreignTypes.has(type) ? undefined : "/"
}

/** The host paths a `Mounts` list exposes: binds, and `local` volumes made inline that mount from the host. */
export const mountsOf = (mounts: unknown): ReadonlyArray<HostMount> =>
  GoJson.array(mounts).flatMap((mount): ReadonlyArray<HostMount> => {
    const type = (GoJson.string(GoJson.field(mount, "Type")) ?? "").toLowerCase()
    const source = GoJson.string(GoJson.field(mount, "Source"))
    if (type === "bind" && source !== undefined && source !== "")
      return [{ source: cleanPath(source), origin: "Mounts" }]
    if (type === "volume") {
      const config = GoJson.path(mount, "VolumeOptions", "DriverConfig")
      const device = localVolumeSource(GoJson.field(config, "Name"), GoJson.field(config, "Options"))
      if (device !== undefined) return [{ source: cleanPath(device), origin: "VolumeOptions" }]
    }
    return []
  })

/** The host configuration field that sets each namespace's mode (`host`, `container:NAME`, ...). */
const modeKeys: Readonly<Record<Namespace, string>> = {
  network: "NetworkMode",
  pid: "PidMode",
  ipc: "IpcMode",
  uts: "UTSMode",
  userns: "UsernsMode",
  cgroup: "CgroupnsMode"
}

/** The namespaces a container can join another container's in (`--network container:NAME`, ...). */
const joinable: ReadonlyArray<Namespace & Borrowed> = ["network", "pid", "ipc"]

/** The container named by a `container:NAME` mode (any case, which only ever denies more), if it names one. */
const containerOf = (mode: unknown): string | undefined => {
  const value = GoJson.string(mode) ?? ""
  return value.toLowerCase().startsWith("container:") ? value.slice("container:".length) : undefined
}

/**
 * What a host configuration takes from other containers: `VolumesFrom` (`NAME[:MODE]`), and the network, PID and
 * IPC modes `container:NAME`.
 */
const fromContainersOf = (host: unknown): ReadonlyArray<FromContainer> => [
  ...GoJson.strings(GoJson.field(host, "VolumesFrom")).map(
    // `NAME[:MODE]`: a container's name never holds a `:`.
    (from): FromContainer => ({ kind: "volumes", container: from.split(":")[0]! })
  ),
  ...joinable.flatMap((kind): ReadonlyArray<FromContainer> => {
    const container = containerOf(GoJson.field(host, modeKeys[kind]))
    return container === undefined ? [] : [{ kind, container }]
  })
]

/**
 * The host configuration of a create as the daemon takes it: the `HostConfig` object, or, when the body has none
 * (absent or null), the body's own top-level fields. The daemon's create body still embeds the host configuration
 * for older clients, so `{"Image":"busybox","Privileged":true}` creates a privileged container: a plugin reading
 * `HostConfig` alone would let it through. With a `HostConfig` object the top-level fields are ignored (but for a few
 * resource limits, which no rule reads).
 */
const hostConfigOf = (body: unknown): unknown => {
  const inner = GoJson.field(body, "HostConfig")
  return GoJson.isObject(inner) ? inner : body
}

/** A `DeviceRequests` entry (`--gpus all` is `{"Driver":"","Count":-1,"Capabilities":[["gpu"]]}`). */
const deviceRequestOf = (request: unknown): DeviceRequest => {
  const count = GoJson.field(request, "Count")
  return {
    driver: GoJson.string(GoJson.field(request, "Driver")) ?? "",
    count: typeof count === "number" ? count : 0,
    deviceIds: GoJson.strings(GoJson.field(request, "DeviceIDs")),
    capabilities: GoJson.array(GoJson.field(request, "Capabilities")).map(GoJson.strings)
  }
}

/** What a container's host configuration (or the create body holding it) asks of the host. */
export const hostConfigSpec = (body: unknown): ContainerSpec => {
  const host = hostConfigOf(body)
  return {
    image: GoJson.string(GoJson.field(body, "Image")),
    privileged: GoJson.field(host, "Privileged") === true,
    hostMounts: [
      ...GoJson.strings(GoJson.field(host, "Binds")).flatMap((bind): ReadonlyArray<HostMount> => {
        const source = bindSource(bind)
        return source === undefined ? [] : [{ source: cleanPath(source), origin: "Binds" }]
      }),
      ...mountsOf(GoJson.field(host, "Mounts"))
    ],
    capAdd: GoJson.strSlice(GoJson.field(host, "CapAdd")).map(capability),
    hostNamespaces: namespaces.filter(
      (ns) => (GoJson.string(GoJson.field(host, modeKeys[ns])) ?? "").toLowerCase() === "host"
    ),
    devices: GoJson.array(GoJson.field(host, "Devices")).flatMap((d) => {
      const path = GoJson.string(GoJson.field(d, "PathOnHost"))
      return path === undefined || path === "" ? [] : [cleanPath(path)]
    }),
    deviceCgroupRules: GoJson.strings(GoJson.field(host, "DeviceCgroupRules")),
    deviceRequests: GoJson.array(GoJson.field(host, "DeviceRequests")).map(deviceRequestOf),
    securityOpts: [
      ...GoJson.strings(GoJson.field(host, "SecurityOpt")).map(securityOption),
      ...(dropsDefaults(GoJson.field(host, "MaskedPaths"), defaultMaskedPaths) ||
      dropsDefaults(GoJson.field(host, "ReadonlyPaths"), defaultReadonlyPaths)
        ? ["systempaths=unconfined"]
        : [])
    ],
    fromContainers: fromContainersOf(host)
  }
}
