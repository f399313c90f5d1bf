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
import { type AuthzRequest, header, mediaType } from "./AuthzRequest.ts"
import * as EngineRoute from "./EngineRoute.ts"
import * as GoJson from "./internal/goJson.ts"
import { hostConfigSpec, localVolumeSource } from "./internal/hostConfig.ts"
import { privilegesSpec, settingsSpec } from "./internal/pluginSpec.ts"
import { serviceSpec } from "./internal/serviceSpec.ts"
import * as Basics from "./internal/specBasics.ts"

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
export const namespaces: ReadonlyArray<Namespace> = Basics.namespaces

/**
 * What a container can take from another container: its volumes (`--volumes-from`) or one of its namespaces
 * (`--network container:NAME`, `--pid container:NAME`, `--ipc container:NAME`).
 *
 * @since 0.1.0
 */
export type Borrowed = "volumes" | "network" | "pid" | "ipc"

/**
 * Everything a container can take from another, in the order they are reported.
 *
 * @since 0.1.0
 */
export const borrowed: ReadonlyArray<Borrowed> = ["volumes", "network", "pid", "ipc"]

/**
 * Something a request takes from another container, which brings whatever that container was given: the volumes of
 * a container with `/` bind-mounted mount `/`, the network namespace of a container on the host network is the
 * host's. The other container is named, not described: what it holds is not in the request.
 *
 * @since 0.1.0
 */
export interface FromContainer {
  readonly kind: Borrowed
  /** The other container's name or ID, as given (without a `:ro`/`:rw` suffix). */
  readonly container: string
}

/**
 * A request for devices by kind rather than by path (`docker run --gpus all`): the daemon hands it to the device
 * driver registered for its capabilities (NVIDIA's, for `gpu`), which decides which device files the container
 * gets.
 *
 * @since 0.1.0
 */
export interface DeviceRequest {
  /** The device driver named (`nvidia`), or `""` for whichever driver offers the capabilities. */
  readonly driver: string
  /** How many devices; -1 for all of them. */
  readonly count: number
  /** The devices asked for by ID or index (`--gpus '"device=0,2"'`). */
  readonly deviceIds: ReadonlyArray<string>
  /** Capability sets, any one of which a driver must offer (`[["gpu"]]`). */
  readonly capabilities: ReadonlyArray<ReadonlyArray<string>>
}

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
  /** Devices asked for by kind (`--gpus`), whose paths a device driver chooses. */
  readonly deviceRequests: ReadonlyArray<DeviceRequest>
  /**
   * Security options (`--security-opt`), each as `key=value` the way the daemon reads it (see `securityOption`):
   * `seccomp=unconfined`, `apparmor=unconfined`, `label=disable`, ... `systempaths=unconfined` is never sent as
   * such (the CLI turns it into empty `MaskedPaths` and `ReadonlyPaths`): it is reported when the request's own
   * lists leave out any path the daemon masks or makes read-only by default.
   */
  readonly securityOpts: ReadonlyArray<string>
  /** Volumes and namespaces taken from other containers. */
  readonly fromContainers: ReadonlyArray<FromContainer>
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
  // A managed plugin runs as root with what it was granted at install, or set later; one made by `docker plugin
  // create` with what the config.json of its tar asks, which the plugin cannot see.
  "plugins/create",
  "plugins/pull",
  "plugins/{name*}/upgrade",
  "plugins/{name*}/set"
])

/**
 * A host path cleaned the way the kernel resolves it lexically: `.`/`..` and repeated slashes removed, no trailing
 * slash. Symbolic links are not resolved (the plugin may not see the daemon's filesystem).
 *
 * @since 0.1.0
 */
export const cleanPath: (path: string) => string = Basics.cleanPath

/**
 * Normalises a capability name: `cap_sys_admin`, `CAP_SYS_ADMIN` and `SYS_ADMIN` are all `SYS_ADMIN`.
 *
 * @since 0.1.0
 */
export const capability: (name: string) => string = Basics.capability

/**
 * A security option as the daemon reads it, in its `key=value` form: split at the first `=`, or at the first `:` when
 * there is no `=` (the older spelling, still accepted: `seccomp:unconfined` is `seccomp=unconfined`); the bare
 * `no-new-privileges` is `no-new-privileges=true` and the bare `disable` is `label=disable`. Anything else is kept
 * as written (the daemon refuses it).
 *
 * @since 0.1.0
 */
export const securityOption: (option: string) => string = Basics.securityOption

/**
 * Routes whose body the daemon decodes whatever its content type says, while it forwards only JSON ones: a body
 * sent as `text/plain` is applied, yet unseen by the plugin, so it is unknown rather than absent.
 */
const readWhateverType: ReadonlySet<EngineRoute.Template> = new Set([
  "services/create",
  "services/{id}/update",
  "plugins/create",
  "plugins/pull",
  "plugins/{name*}/upgrade",
  "plugins/{name*}/set"
])

/** The daemon forwards a body under this many bytes. */
const maxForwarded = 1024 * 1024

/**
 * Whether a body not forwarded, which the plugin is told is not JSON, may still be JSON the daemon decodes: the daemon
 * goes by the first `Content-Type` sent and shows the plugin the last (`application/json` then `text/plain`). It would
 * have forwarded such a body under 1 MiB with a known length, so only one of unknown length (chunked) or larger hides.
 */
const mayHideJson = (length: string | undefined): boolean => length === undefined || !(Number(length) < maxForwarded)

/**
 * Content types under which the daemon also reads a build's options from its body: `r.FormValue` parses a form body
 * (the media type as Go's `mime.ParseMediaType` reads it: any case, parameters ignored) and takes its values first.
 */
const formTypes: ReadonlySet<string> = new Set(["application/x-www-form-urlencoded", "multipart/form-data"])

/**
 * What a build asks of the host. The legacy builder gives each `RUN` container a host configuration made of the
 * build's options (`hostConfigFromOptions`), so they are read as a create's: `networkmode=host` shares the host's
 * network namespace (under BuildKit too), `networkmode=container:NAME` that container's (the legacy builder only;
 * BuildKit refuses it), each `securityopt` value is a security option. Modes are compared in any case, as a
 * create's are (the daemon takes only lower case: another case only ever denies more). A Linux daemon refuses a
 * build that sends `securityopt` at all (`newImageBuildOptions`), so there these deny only what fails anyway; a
 * Windows one applies them. The other options (`cgroupparent`, `extrahosts`, `ulimits`, `shmsize`, `isolation`,
 * resources) ask for nothing a rule reads, of a build as of a create.
 *
 * The options are read from the query: the body is the context, a tar, which the daemon does not forward. Under a
 * form content type the daemon reads options from the body too, unseen: that build is unreadable. A form type sent
 * first and hidden by a second `Content-Type` (the plugin is shown the last) cannot be told from a tar.
 */
const buildSpec = (request: AuthzRequest): Result.Result<ContainerSpec, string> => {
  const body = request.body
  if (body._tag === "NotJson" && body.contentType !== undefined) {
    const type = mediaType(body.contentType)
    // A form of length 0 holds no options; one of unknown length (chunked) may.
    if (formTypes.has(type) && header(request.headers, "Content-Length")?.trim() !== "0") {
      return Result.fail(
        `cannot read the options of ${request.method} build: the daemon reads them from its body too when it is a form (${type}), and forwards only JSON`
      )
    }
  }
  const route = request.route
  return Result.succeed(
    hostConfigSpec({
      NetworkMode: EngineRoute.queryValue(route, "networkmode"),
      // Every value, as the daemon reads `r.Form["securityopt"]` (the CLI sends one pair per option).
      SecurityOpt: route.query.securityopt ?? []
    })
  )
}

const imageFromQuery = (route: EngineRoute.EngineRoute): string | undefined => {
  const from = EngineRoute.queryValue(route, "fromImage")
  if (from === undefined || from === "") return undefined
  const tag = EngineRoute.queryValue(route, "tag")
  return tag === undefined || tag === "" ? from : `${from}${tag.startsWith("sha256:") ? "@" : ":"}${tag}`
}

/**
 * The specification of a request: `Result.succeed(undefined)` when its route carries none, a failure saying why
 * when its route carries one but the body cannot be read (the caller must then deny: the body is unknown, not
 * harmless), or, for a build, may be a form of options. `images/create` (`docker pull`) gives its image from the query, and `build` the options of its `RUN`
 * containers (network mode, security options).
 *
 * @since 0.1.0
 */
export const of = (request: AuthzRequest): Result.Result<ContainerSpec | undefined, string> => {
  const template = request.route.template
  if (template === "images/create") {
    const image = imageFromQuery(request.route)
    return Result.succeed(image === undefined ? undefined : { ...Basics.empty, image })
  }
  if (template === "build") return buildSpec(request)
  if (template === undefined || !specRoutes.has(template)) return Result.succeed(undefined)
  const body = request.body
  switch (body._tag) {
    case "Withheld":
    case "Unreadable":
      return Result.fail(`cannot read the body of ${request.method} ${template}: ${body.reason}`)
    case "NotJson": {
      const length = header(request.headers, "Content-Length")?.trim()
      if (readWhateverType.has(template) && length !== "0") {
        return Result.fail(
          `cannot read the body of ${request.method} ${template}: the daemon reads it whatever its content type (${body.contentType ?? "none"}), but forwards only JSON`
        )
      }
      if (body.contentType !== undefined && mayHideJson(length)) {
        return Result.fail(
          `cannot read the body of ${request.method} ${template}: its content type seems to be ${body.contentType}, but the daemon goes by the first one sent and did not forward the body (1 MiB or more, or its length unknown)`
        )
      }
      // The daemon refuses a body on the other routes itself when its first content type is not JSON (or there is
      // none); an absent one means defaults.
      return Result.succeed(Basics.empty)
    }
    case "Empty":
      return Result.succeed(Basics.empty)
    case "Json": {
      const value = body.value
      // The daemon reads this body as a tar: a JSON one makes no plugin, and says nothing of what one would be granted.
      if (template === "plugins/create") return Result.fail(`the body of ${request.method} ${template} is not a tar`)
      if (template === "plugins/{name*}/set") return settingsSpec(request.method, value)
      if (template === "plugins/pull" || template === "plugins/{name*}/upgrade") {
        return privilegesSpec(request, value)
      }
      if (!GoJson.isObject(value)) return Result.fail(`the body of ${request.method} ${template} is not a JSON object`)
      switch (template) {
        case "containers/create":
          return Result.succeed(hostConfigSpec(value))
        case "containers/{id}/start":
          // The daemon decodes this body as it decodes a create's (`runconfig.DecodeHostConfig`): the `HostConfig`
          // object when there is one, else the top-level fields. The image was chosen at create.
          return Result.succeed({ ...hostConfigSpec(value), image: undefined })
        case "containers/{id}/exec":
          return Result.succeed({ ...Basics.empty, privileged: GoJson.field(value, "Privileged") === true })
        case "volumes/create": {
          const device = localVolumeSource(GoJson.field(value, "Driver"), GoJson.field(value, "DriverOpts"))
          return Result.succeed(
            device === undefined
              ? Basics.empty
              : { ...Basics.empty, hostMounts: [{ source: cleanPath(device), origin: "DriverOpts" }] }
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
 * procfs's links to a process's root, working folder and open files (`/proc/PID/root`, `cwd`, `fd/N`, `map_files/…`,
 * also under `task/TID`, and `/dev/fd`, which is `/proc/self/fd`): the kernel follows them when the daemon mounts a
 * path through one, so `-v /proc/1/root:/host` mounts the host's `/`.
 */
const procLink = /^\/(?:proc\/[^/]+(?:\/task\/[^/]+)?\/(?:root|cwd|fd|map_files)|dev\/fd)(?:\/|$)/

/**
 * Whether mounting `source` exposes `protectedPath`: the source is that path, lies under it, or contains it
 * (mounting `/` or `/var` exposes `/var/run/docker.sock`); a source through one of procfs's links to a process's
 * root or files (`/proc/1/root`) may be any path of the host, and exposes every one.
 *
 * @since 0.1.0
 */
export const exposes = (source: string, protectedPath: string): boolean =>
  procLink.test(cleanPath(source)) || isUnder(source, protectedPath) || isUnder(protectedPath, source)

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
