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
 * What a managed plugin is granted at install (`plugins/pull`, `upgrade`): the privileges the user accepted, which
 * the daemon checks against the plugin's own configuration. The plugin's reference (`remote`) is its image.
 */
export const privilegesSpec = (request: AuthzRequest, value: unknown): Result.Result<ContainerSpec, string> => {
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
export const settingsSpec = (method: string, value: unknown): Result.Result<ContainerSpec, string> => {
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
