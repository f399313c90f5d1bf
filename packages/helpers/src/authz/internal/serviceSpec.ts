/**
 * Reading a swarm service's specification (`services/create`, `services/{id}/update`): its tasks run as containers
 * made from `TaskTemplate.ContainerSpec`, on the networks it names.
 */
import type { ContainerSpec } from "../ContainerSpec.ts"
import * as GoJson from "./goJson.ts"
import { mountsOf } from "./hostConfig.ts"
import { grantedBy } from "./pluginSpec.ts"
import { capability, empty } from "./specBasics.ts"

/**
 * Whether a service joins the `host` network, so its tasks share the host's network namespace (`docker stack
 * deploy` with an external network named `host`, or an API call naming it). The daemon reads
 * `TaskTemplate.Networks`, or the older top-level `Networks` when that is empty; both are read here, which only ever
 * denies more. Names are compared in any case for the same reason. A service naming the swarm's `host` network by
 * its ID is not recognised: a plugin cannot tell that ID from any other.
 */
const joinsHostNetwork = (body: unknown): boolean =>
  [GoJson.path(body, "TaskTemplate", "Networks"), GoJson.field(body, "Networks")].some((networks) =>
    GoJson.array(networks).some(
      (network) => (GoJson.string(GoJson.field(network, "Target")) ?? "").toLowerCase() === "host"
    )
  )

/**
 * A service's privileges as the security options a container would carry: SELinux labelling disabled
 * (`label=disable`), and, on engines that take them (API 1.44 and later; 20.10 ignores them), seccomp unconfined and
 * AppArmor disabled.
 */
const privilegeOptions = (privileges: unknown): ReadonlyArray<string> => {
  const mode = (name: string) => (GoJson.string(GoJson.path(privileges, name, "Mode")) ?? "").toLowerCase()
  return [
    ...(GoJson.path(privileges, "SELinuxContext", "Disable") === true ? ["label=disable"] : []),
    ...(mode("Seccomp") === "unconfined" ? ["seccomp=unconfined"] : []),
    ...(mode("AppArmor") === "disabled" ? ["apparmor=unconfined"] : [])
  ]
}

/**
 * What a service asks of the host. Its tasks are containers (`TaskTemplate.ContainerSpec`), or, with the `plugin`
 * runtime (an experimental daemon in a swarm), a managed plugin installed on every node with the privileges in
 * `TaskTemplate.PluginSpec`, granted as `plugins/pull` grants them; both are read, which only ever denies more.
 */
export const serviceSpec = (body: unknown): ContainerSpec => {
  const container = GoJson.path(body, "TaskTemplate", "ContainerSpec")
  const plugin = GoJson.path(body, "TaskTemplate", "PluginSpec")
  const granted = grantedBy(GoJson.array(GoJson.field(plugin, "Privileges")))
  return {
    ...empty,
    image: GoJson.string(GoJson.field(container, "Image")) ?? GoJson.string(GoJson.field(plugin, "Remote")),
    hostMounts: [...mountsOf(GoJson.field(container, "Mounts")), ...granted.hostMounts],
    capAdd: [...GoJson.strings(GoJson.field(container, "CapabilityAdd")).map(capability), ...granted.capAdd],
    hostNamespaces: [
      ...new Set([...(joinsHostNetwork(body) ? (["network"] as const) : []), ...granted.hostNamespaces])
    ],
    devices: granted.devices,
    deviceCgroupRules: granted.deviceCgroupRules,
    securityOpts: privilegeOptions(GoJson.field(container, "Privileges"))
  }
}
