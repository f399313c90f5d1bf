/**
 * Reading what a managed plugin is granted: its privileges at install or upgrade, and `docker plugin set`.
 */
import * as Result from "effect/Result"
import type { AuthzRequest } from "../AuthzRequest.ts"
import type { ContainerSpec, HostMount, Namespace } from "../ContainerSpec.ts"
import * as EngineRoute from "../EngineRoute.ts"
import * as GoJson from "./goJson.ts"
import { capability, cleanPath, empty } from "./specBasics.ts"

/**
 * The host path a managed plugin's mount source names, if it leaves the plugin's own folder. The daemon takes the
 * source as given, and the runtime resolves a relative one from the plugin's bundle folder: with `..` it reaches
 * anything (counted as `/`); without, it stays inside that folder, no host path.
 */
const pluginMountSource = (path: string): string | undefined => {
  const clean = cleanPath(path)
  if (clean.startsWith("/")) return clean
  return clean === ".." || clean.startsWith("../") ? "/" : undefined
}

/** A plugin device's host path: the daemon opens a relative one from its working folder, `/` for a service. */
const pluginDevicePath = (path: string): string => cleanPath(path.startsWith("/") ? path : `/${path}`)

/** What a list of plugin privileges (`[{Name, Value}]`, as accepted at install) grants. */
export const grantedBy = (
  privileges: ReadonlyArray<unknown>
): Pick<ContainerSpec, "hostMounts" | "capAdd" | "hostNamespaces" | "devices" | "deviceCgroupRules"> => {
  const hostMounts: Array<HostMount> = []
  const capAdd: Array<string> = []
  const devices: Array<string> = []
  const deviceCgroupRules: Array<string> = []
  const hostNamespaces = new Set<Namespace>()
  for (const privilege of privileges) {
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
        for (const path of values) {
          const source = pluginMountSource(path)
          if (source !== undefined) hostMounts.push({ source, origin: "PluginPrivileges" })
        }
        break
      case "device":
        devices.push(...values.map(pluginDevicePath))
        break
      case "allow-all-devices":
        deviceCgroupRules.push("a *:* rwm")
        break
      case "capabilities":
        capAdd.push(...values.map(capability))
    }
  }
  return { hostMounts, capAdd, hostNamespaces: [...hostNamespaces], devices, deviceCgroupRules }
}

/**
 * What a managed plugin is granted at install (`plugins/pull`, `upgrade`): the privileges the user accepted, which
 * the daemon checks against the plugin's own configuration. The plugin's reference (`remote`) is its image.
 */
export const privilegesSpec = (request: AuthzRequest, value: unknown): Result.Result<ContainerSpec, string> => {
  if (!Array.isArray(value)) {
    return Result.fail(`the body of ${request.method} ${request.route.template} is not a JSON array`)
  }
  const remote = EngineRoute.queryValue(request.route, "remote")
  return Result.succeed({
    ...empty,
    image: remote === undefined || remote === "" ? undefined : remote,
    ...grantedBy(value)
  })
}

/**
 * What `docker plugin set` changes (`[NAME.source=/path, NAME.path=/dev/x, KEY=value]`), read as the daemon reads a
 * setting (`plugin/v2/settable.go`): the field is what follows the last `.` of the key, and a key without one (or
 * ending in `.`) sets the one settable field of whatever it names, so `mount0=/` sets a mount's source as
 * `mount0.source=/` does. Such a value counts as a mount source when it names a host path, and as a device when it
 * looks like one (holds a `/`): the plugin cannot tell a mount's or a device's name from an environment variable's
 * (`DEBUG=1`), and reading more only ever denies more.
 */
export const settingsSpec = (method: string, value: unknown): Result.Result<ContainerSpec, string> => {
  if (!Array.isArray(value)) return Result.fail(`the body of ${method} plugins/{name*}/set is not a JSON array`)
  const hostMounts: Array<HostMount> = []
  const devices: Array<string> = []
  for (const setting of GoJson.strings(value)) {
    const at = setting.indexOf("=")
    // Without a value the daemon sets an empty one: no host path.
    if (at <= 0 || at === setting.length - 1) continue
    const key = setting.slice(0, at)
    const path = setting.slice(at + 1)
    const dot = key.lastIndexOf(".")
    const field = dot > 0 ? key.slice(dot + 1) : ""
    const source = field === "" || field === "source" ? pluginMountSource(path) : undefined
    if (source !== undefined) hostMounts.push({ source, origin: "PluginSettings" })
    if (field === "path" || (field === "" && path.includes("/"))) devices.push(pluginDevicePath(path))
  }
  return Result.succeed({ ...empty, hostMounts, devices })
}
