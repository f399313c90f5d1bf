/**
 * What a request asks of the host, read from the bodies of the routes that carry a container (or volume)
 * specification: privileged mode, host paths mounted, capabilities added, host namespaces, devices, security
 * options, image. These are the facts authorization policies decide on.
 *
 * Fields are read as the daemon reads them (keys case-insensitive). Host paths come from every way a request can
 * mount one: `HostConfig.Binds` (`/src:/dst[:opts]`), `HostConfig.Mounts` of type `bind`, and `local` volumes
 * (in `Mounts` volume options and in `volumes/create`) with `o=bind`, which mount their `device` from the host, or
 * with a type that can expose the whole host (a disk, `proc`, `sysfs`, an `overlay`: counted as `/`).
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Path from "node:path"
import { type AuthzRequest, header } from "./AuthzRequest.ts"
import * as EngineRoute from "./EngineRoute.ts"
import * as GoJson from "./internal/goJson.ts"

/**
 * A namespace a container can share with the host.
 *
 * @since 0.1.0
 */
export type Namespace = "network" | "pid" | "ipc" | "uts" | "userns" | "cgroup"

/**
 * Every namespace, in the order they are reported.
 *
 * @since 0.1.0
 */
export const namespaces: ReadonlyArray<Namespace> = ["network", "pid", "ipc", "uts", "userns", "cgroup"]

/**
 * A host path a request mounts.
 *
 * @since 0.1.0
 */
export interface HostMount {
  /** The host path, cleaned (`/etc/../etc/` is `/etc`). */
  readonly source: string
  /**
   * Where it was found: `Binds`, `Mounts`, `VolumeOptions` (a `local` volume in `Mounts`), `DriverOpts`,
   * `PluginPrivileges` (a mount a managed plugin is granted at install) or `PluginSettings` (`docker plugin set
   * NAME.source=...`).
   */
  readonly origin: "Binds" | "Mounts" | "VolumeOptions" | "DriverOpts" | "PluginPrivileges" | "PluginSettings"
}

/**
 * What a request asks of the host. Empty lists and `false` when the request does not say.
 *
 * @since 0.1.0
 */
export interface ContainerSpec {
  /** The image reference as given (`busybox`, `registry:5000/team/app:1`), when there is one. */
  readonly image: string | undefined
  readonly privileged: boolean
  readonly hostMounts: ReadonlyArray<HostMount>
  /** Added capabilities, upper case without the `CAP_` prefix (`ALL` stays `ALL`). */
  readonly capAdd: ReadonlyArray<string>
  /** Namespaces shared with the host (`--network host`, `--pid host`, ...). */
  readonly hostNamespaces: ReadonlyArray<Namespace>
  /** Host device paths mapped into the container (`--device`). */
  readonly devices: ReadonlyArray<string>
  /** Device cgroup rules (`--device-cgroup-rule`), which grant devices by number. */
  readonly deviceCgroupRules: ReadonlyArray<string>
  /**
   * Security options (`--security-opt`), each as `key=value` the way the daemon reads it (see `securityOption`):
   * `seccomp=unconfined`, `apparmor=unconfined`, `label=disable`, ... `systempaths=unconfined` is never sent as
   * such (the CLI turns it into empty `MaskedPaths` and `ReadonlyPaths`): it is reported when the request's own
   * lists leave out any path the daemon masks or makes read-only by default.
   */
  readonly securityOpts: ReadonlyArray<string>
}

/**
 * The routes whose body is read, with the part of the body that holds the specification.
 *
 * @since 0.1.0
 */
export const specRoutes: ReadonlySet<EngineRoute.Template> = new Set([
  "containers/create",
  // Clients of API versions before 1.24 may still send a host configuration when they start a container, and the
  // daemon applies it: `POST /v1.23/containers/ID/start` with `{"Privileged":true}` starts a privileged container.
  "containers/{id}/start",
  "containers/{id}/exec",
  "volumes/create",
  "services/create",
  "services/{id}/update",
  // A managed plugin runs as root with what it was granted at install, or set later.
  "plugins/pull",
  "plugins/{name*}/upgrade",
  "plugins/{name*}/set"
])

/**
 * Routes whose body the daemon decodes whatever its content type says, while it forwards only JSON ones: a body
 * sent as `text/plain` is applied, yet unseen by the plugin, so it is unknown rather than absent.
 */
const readWhateverType: ReadonlySet<EngineRoute.Template> = new Set([
  "services/create",
  "services/{id}/update",
  "plugins/pull",
  "plugins/{name*}/upgrade",
  "plugins/{name*}/set"
])

const empty: ContainerSpec = {
  image: undefined,
  privileged: false,
  hostMounts: [],
  capAdd: [],
  hostNamespaces: [],
  devices: [],
  deviceCgroupRules: [],
  securityOpts: []
}

/**
 * A host path cleaned the way the kernel resolves it lexically: `.`/`..` and repeated slashes removed, no trailing
 * slash. Symbolic links are not resolved (the plugin may not see the daemon's filesystem).
 *
 * @since 0.1.0
 */
export const cleanPath = (path: string): string => Path.posix.normalize(path).replace(/(.)\/+$/, "$1")

/**
 * Normalises a capability name: `cap_sys_admin`, `CAP_SYS_ADMIN` and `SYS_ADMIN` are all `SYS_ADMIN`.
 *
 * @since 0.1.0
 */
export const capability = (name: string): string => name.trim().toUpperCase().replace(/^CAP_/, "")

/**
 * A security option as the daemon reads it, in its `key=value` form: split at the first `=`, or at the first `:` when
 * there is no `=` (the older spelling, still accepted: `seccomp:unconfined` is `seccomp=unconfined`); the bare
 * `no-new-privileges` is `no-new-privileges=true` and the bare `disable` is `label=disable`. Anything else is kept
 * as written (the daemon refuses it).
 *
 * @since 0.1.0
 */
export const securityOption = (option: string): string => {
  if (option === "no-new-privileges") return "no-new-privileges=true"
  if (option === "disable") return "label=disable"
  if (option.includes("=")) return option
  const colon = option.indexOf(":")
  return colon < 0 ? option : `${option.slice(0, colon)}=${option.slice(colon + 1)}`
}

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
const localVolumeSource = (driver: unknown, options: unknown): string | undefined => {
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

const mountsOf = (mounts: unknown): ReadonlyArray<HostMount> =>
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

const hostConfigSpec = (body: unknown): ContainerSpec => {
  const host = hostConfigOf(body)
  const modes: ReadonlyArray<readonly [Namespace, string]> = [
    ["network", "NetworkMode"],
    ["pid", "PidMode"],
    ["ipc", "IpcMode"],
    ["uts", "UTSMode"],
    ["userns", "UsernsMode"],
    ["cgroup", "CgroupnsMode"]
  ]
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
    capAdd: GoJson.strings(GoJson.field(host, "CapAdd")).map(capability),
    hostNamespaces: modes
      .filter(([, key]) => (GoJson.string(GoJson.field(host, key)) ?? "").toLowerCase() === "host")
      .map(([ns]) => ns),
    devices: GoJson.array(GoJson.field(host, "Devices")).flatMap((d) => {
      const path = GoJson.string(GoJson.field(d, "PathOnHost"))
      return path === undefined || path === "" ? [] : [cleanPath(path)]
    }),
    deviceCgroupRules: GoJson.strings(GoJson.field(host, "DeviceCgroupRules")),
    securityOpts: [
      ...GoJson.strings(GoJson.field(host, "SecurityOpt")).map(securityOption),
      ...(dropsDefaults(GoJson.field(host, "MaskedPaths"), defaultMaskedPaths) ||
      dropsDefaults(GoJson.field(host, "ReadonlyPaths"), defaultReadonlyPaths)
        ? ["systempaths=unconfined"]
        : [])
    ]
  }
}

const serviceSpec = (body: unknown): ContainerSpec => {
  const container = GoJson.path(body, "TaskTemplate", "ContainerSpec")
  return {
    ...empty,
    image: GoJson.string(GoJson.field(container, "Image")),
    hostMounts: mountsOf(GoJson.field(container, "Mounts")),
    capAdd: GoJson.strings(GoJson.field(container, "CapabilityAdd")).map(capability)
  }
}

/**
 * What a build asks of the host, from its query (its body is the context, a tar): `networkmode=host` runs every
 * `RUN` step in the host's network namespace. Compared in any case, as the network modes of a create are (the
 * daemon takes only `host`: another case only ever denies more).
 */
const buildSpec = (route: EngineRoute.EngineRoute): ContainerSpec => {
  const network = (EngineRoute.queryValue(route, "networkmode") ?? "").toLowerCase()
  return network === "host" ? { ...empty, hostNamespaces: ["network"] } : empty
}

const imageFromQuery = (route: EngineRoute.EngineRoute): string | undefined => {
  const from = EngineRoute.queryValue(route, "fromImage")
  if (from === undefined || from === "") return undefined
  const tag = EngineRoute.queryValue(route, "tag")
  return tag === undefined || tag === "" ? from : `${from}${tag.startsWith("sha256:") ? "@" : ":"}${tag}`
}

/**
 * What a managed plugin is granted at install (`plugins/pull`, `upgrade`): the privileges the user accepted, which
 * the daemon checks against the plugin's own configuration. The plugin's reference (`remote`) is its image.
 */
const privilegesSpec = (request: AuthzRequest, value: unknown): Result.Result<ContainerSpec, string> => {
  if (!Array.isArray(value)) {
    return Result.fail(`the body of ${request.method} ${request.route.template} is not a JSON array`)
  }
  const hostMounts: Array<HostMount> = []
  const capAdd: Array<string> = []
  const devices: Array<string> = []
  const deviceCgroupRules: Array<string> = []
  const hostNamespaces = new Set<Namespace>()
  for (const privilege of value) {
    const values = GoJson.strings(GoJson.field(privilege, "Value"))
    switch (GoJson.string(GoJson.field(privilege, "Name"))) {
      case "network":
        if (values.includes("host")) hostNamespaces.add("network")
        break
      case "host pid namespace":
        hostNamespaces.add("pid")
        break
      case "host ipc namespace":
        hostNamespaces.add("ipc")
        break
      case "mount":
        for (const path of values) hostMounts.push({ source: cleanPath(path), origin: "PluginPrivileges" })
        break
      case "device":
        devices.push(...values.map(cleanPath))
        break
      case "allow-all-devices":
        deviceCgroupRules.push("a *:* rwm")
        break
      case "capabilities":
        capAdd.push(...values.map(capability))
    }
  }
  const remote = EngineRoute.queryValue(request.route, "remote")
  return Result.succeed({
    ...empty,
    image: remote === undefined || remote === "" ? undefined : remote,
    hostMounts,
    capAdd,
    hostNamespaces: [...hostNamespaces],
    devices,
    deviceCgroupRules
  })
}

/**
 * What `docker plugin set` changes (`[NAME.source=/path, NAME.path=/dev/x, KEY=value]`): the source of a settable
 * mount is a host path the plugin will mount, the path of a settable device a host device.
 */
const settingsSpec = (method: string, value: unknown): Result.Result<ContainerSpec, string> => {
  if (!Array.isArray(value)) return Result.fail(`the body of ${method} plugins/{name*}/set is not a JSON array`)
  const hostMounts: Array<HostMount> = []
  const devices: Array<string> = []
  for (const setting of GoJson.strings(value)) {
    const at = setting.indexOf("=")
    if (at < 0) continue
    const key = setting.slice(0, at)
    const path = setting.slice(at + 1)
    if (key.endsWith(".source")) hostMounts.push({ source: cleanPath(path), origin: "PluginSettings" })
    else if (key.endsWith(".path")) devices.push(cleanPath(path))
  }
  return Result.succeed({ ...empty, hostMounts, devices })
}

/**
 * The specification of a request: `Result.succeed(undefined)` when its route carries none, a failure saying why
 * when its route carries one but the body cannot be read (the caller must then deny: the body is unknown, not
 * harmless). `images/create` (`docker pull`) gives its image from the query, and `build` its network mode.
 *
 * @since 0.1.0
 */
export const of = (request: AuthzRequest): Result.Result<ContainerSpec | undefined, string> => {
  const template = request.route.template
  if (template === "images/create") {
    const image = imageFromQuery(request.route)
    return Result.succeed(image === undefined ? undefined : { ...empty, image })
  }
  if (template === "build") return Result.succeed(buildSpec(request.route))
  if (template === undefined || !specRoutes.has(template)) return Result.succeed(undefined)
  const body = request.body
  switch (body._tag) {
    case "Withheld":
    case "Unreadable":
      return Result.fail(`cannot read the body of ${request.method} ${template}: ${body.reason}`)
    case "NotJson":
      if (readWhateverType.has(template) && header(request.headers, "Content-Length")?.trim() !== "0") {
        return Result.fail(
          `cannot read the body of ${request.method} ${template}: the daemon reads it whatever its content type (${body.contentType ?? "none"}), but forwards only JSON`
        )
      }
      // The daemon rejects a non-JSON body on the other routes itself; an absent one means defaults.
      return Result.succeed(empty)
    case "Empty":
      return Result.succeed(empty)
    case "Json": {
      const value = body.value
      if (template === "plugins/{name*}/set") return settingsSpec(request.method, value)
      if (template === "plugins/pull" || template === "plugins/{name*}/upgrade") {
        return privilegesSpec(request, value)
      }
      if (!GoJson.isObject(value)) return Result.fail(`the body of ${request.method} ${template} is not a JSON object`)
      switch (template) {
        case "containers/create":
          return Result.succeed(hostConfigSpec(value))
        case "containers/{id}/start":
          // The body is the host configuration itself (the image was chosen at create).
          return Result.succeed(hostConfigSpec({ HostConfig: value }))
        case "containers/{id}/exec":
          return Result.succeed({ ...empty, privileged: GoJson.field(value, "Privileged") === true })
        case "volumes/create": {
          const device = localVolumeSource(GoJson.field(value, "Driver"), GoJson.field(value, "DriverOpts"))
          return Result.succeed(
            device === undefined
              ? empty
              : { ...empty, hostMounts: [{ source: cleanPath(device), origin: "DriverOpts" }] }
          )
        }
        default:
          return Result.succeed(serviceSpec(value))
      }
    }
  }
}

/**
 * Whether `path` is `prefix` or lies under it, by whole components (`/etc` covers `/etc/passwd`, not `/etcd`).
 *
 * @since 0.1.0
 */
export const isUnder = (path: string, prefix: string): boolean => {
  const p = cleanPath(path)
  const q = cleanPath(prefix)
  return q === "/" || p === q || p.startsWith(`${q}/`)
}

/**
 * Whether mounting `source` exposes `protectedPath`: the source is that path, lies under it, or contains it
 * (mounting `/` or `/var` exposes `/var/run/docker.sock`).
 *
 * @since 0.1.0
 */
export const exposes = (source: string, protectedPath: string): boolean =>
  isUnder(source, protectedPath) || isUnder(protectedPath, source)

/**
 * Whether the daemon may take `reference` for an image ID rather than a name: a digest (`sha256:…`), or a string
 * of hexadecimal digits, which it looks up as an ID prefix when no image is tagged so (`docker run 3f57d940`). Such
 * a reference says nothing of where the image came from.
 *
 * @since 0.1.0
 */
export const mayBeImageId = (reference: string): boolean => /^(sha256:)?[0-9a-f]{1,64}$/.test(reference)

/**
 * The fully qualified form of an image reference (`busybox` is `docker.io/library/busybox:latest`), so a policy can
 * name images either way.
 *
 * @since 0.1.0
 */
export const qualifiedImage = (reference: string): string => {
  // The daemon's rules: a first component is a registry when it has a `.` or `:`, is `localhost`, or is not lower
  // case; `index.docker.io` is `docker.io`, whose one-component names are under `library/`.
  const slash = reference.indexOf("/")
  const first = slash < 0 ? "" : reference.slice(0, slash)
  const hasRegistry = slash >= 0 && (/[.:]/.test(first) || first === "localhost" || first !== first.toLowerCase())
  const registry = !hasRegistry || first === "index.docker.io" ? "docker.io" : first
  const path = hasRegistry ? reference.slice(slash + 1) : reference
  const named = `${registry}/${registry === "docker.io" && !path.includes("/") ? `library/${path}` : path}`
  const lastSegment = named.slice(named.lastIndexOf("/") + 1)
  return lastSegment.includes(":") || named.includes("@") ? named : `${named}:latest`
}
