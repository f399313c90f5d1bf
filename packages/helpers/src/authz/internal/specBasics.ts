/**
 * The pieces every reader of a specification shares: the empty specification, the namespaces in their order, and
 * the normal forms of paths, capabilities and security options. `ContainerSpec` exports the namespaces and the normal
 * forms; the readers in this folder use them.
 */
import * as Path from "node:path"
import type { ContainerSpec, Namespace } from "../ContainerSpec.ts"

/** Every namespace, in the order they are reported (documented where `ContainerSpec` exports it). */
export const namespaces: ReadonlyArray<Namespace> = ["network", "pid", "ipc", "uts", "userns", "cgroup"]

/** What a request that says nothing asks of the host. */
export const empty: ContainerSpec = {
  image: undefined,
  privileged: false,
  hostMounts: [],
  capAdd: [],
  hostNamespaces: [],
  devices: [],
  deviceCgroupRules: [],
  deviceRequests: [],
  securityOpts: [],
  fromContainers: []
}

/** A host path cleaned lexically (documented where `ContainerSpec` exports it). */
export const cleanPath = (path: string): string => Path.posix.normalize(path).replace(/(.)\/+$/, "$1")

/** A capability name without case or `CAP_` prefix (documented where `ContainerSpec` exports it). */
export const capability = (name: string): string => name.trim().toUpperCase().replace(/^CAP_/, "")

/** A security option in its `key=value` form (documented where `ContainerSpec` exports it). */
export const securityOption = (option: string): string => {
  if (option === "no-new-privileges") return "no-new-privileges=true"
  if (option === "disable") return "label=disable"
  if (option.includes("=")) return option
  const colon = option.indexOf(":")
  return colon < 0 ? option : `${option.slice(0, colon)}=${option.slice(colon + 1)}`
}
