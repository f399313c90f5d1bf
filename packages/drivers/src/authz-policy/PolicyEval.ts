/**
 * Evaluating a policy: pure, no I/O. Rules are tried top to bottom; the first whose conditions all hold decides;
 * when none does, the policy's default decides.
 *
 * Fail closed: when a rule's conditions reach the body (privileged, mounts, capabilities, namespaces, devices,
 * security options, what is taken from other containers, images) and the body of a route that carries a container
 * specification cannot be read (withheld by the daemon, not JSON; a build's options sent in a form body), the request
 * is denied with the reason, whatever the rule would have decided.
 *
 * @since 0.1.0
 */
import { type AuthzRequest, ContainerSpec } from "@docker-plugin-kit/helpers"
import * as Result from "effect/Result"
import * as Glob from "./Glob.ts"
import type { Policy, Rule } from "./Policy.ts"

/**
 * The outcome of a request.
 *
 * @since 0.1.0
 */
export interface Verdict {
  readonly allow: boolean
  /** The rule that decided, `default`, or `unreadable-body`. */
  readonly rule: string
  /** Why, for a denial: what the user sees. */
  readonly message: string | undefined
}

const bodyKeys = [
  "privileged",
  "hostMounts",
  "capAdd",
  "hostNamespaces",
  "devices",
  "securityOpts",
  "fromContainers",
  "images"
] as const

/**
 * Whether a rule looks at the request body.
 *
 * @since 0.1.0
 */
export const readsBody = (rule: Rule): boolean => bodyKeys.some((key) => rule[key] !== undefined)

// Patterns come from the policy file, so the cache is bounded by its size.
const globCache = new Map<string, Glob.Compiled>()

/**
 * Matches `text` against a pattern where `*` is any text (`/` and line breaks included) and everything else is
 * literal. Linear time in the pattern and the text, so no request can stall the plugin.
 *
 * @since 0.1.0
 */
export const glob = (pattern: string, text: string): boolean => {
  let compiled = globCache.get(pattern)
  if (compiled === undefined) {
    compiled = Glob.compile(pattern)
    globCache.set(pattern, compiled)
  }
  return Glob.matches(compiled, text)
}

const matchesRequestLine = (rule: Rule, request: AuthzRequest.AuthzRequest): boolean => {
  if (rule.users !== undefined && (request.user === undefined || !rule.users.includes(request.user))) return false
  if (rule.methods !== undefined && !rule.methods.includes(request.method)) return false
  if (rule.routes !== undefined) {
    const route = request.route.template ?? request.route.path
    if (!rule.routes.some((pattern) => glob(pattern, route))) return false
  }
  return true
}

const addsCapability = (added: ReadonlyArray<string>, listed: ReadonlyArray<string>): boolean => {
  const wanted = listed.map(ContainerSpec.capability)
  return added.some((cap) => cap === "ALL" || wanted.includes("ALL") || wanted.includes(cap))
}

const matchesSpec = (rule: Rule, spec: ContainerSpec.ContainerSpec): boolean => {
  if (rule.privileged === true && !spec.privileged) return false
  if (
    rule.hostMounts !== undefined &&
    !spec.hostMounts.some((mount) => rule.hostMounts!.some((path) => ContainerSpec.exposes(mount.source, path)))
  ) {
    return false
  }
  if (rule.capAdd !== undefined && !addsCapability(spec.capAdd, rule.capAdd)) return false
  if (rule.hostNamespaces !== undefined && !spec.hostNamespaces.some((ns) => rule.hostNamespaces!.includes(ns))) {
    return false
  }
  // A device cgroup rule grants devices by number (a container may mknod them), and a device request (`--gpus`)
  // gets whatever device files its driver picks: either can reach any device, whatever its path.
  const byNumberOrKind = spec.deviceCgroupRules.length > 0 || spec.deviceRequests.length > 0
  if (rule.devices === true && spec.devices.length === 0 && !byNumberOrKind) return false
  // A device path maps every device under it (`--device /dev`).
  if (
    Array.isArray(rule.devices) &&
    !byNumberOrKind &&
    !spec.devices.some((device) =>
      (rule.devices as ReadonlyArray<string>).some((p) => ContainerSpec.exposes(device, p))
    )
  ) {
    return false
  }
  if (
    rule.securityOpts !== undefined &&
    !spec.securityOpts.some((option) =>
      rule.securityOpts!.some((pattern) => glob(ContainerSpec.securityOption(pattern), option))
    )
  ) {
    return false
  }
  if (
    rule.fromContainers !== undefined &&
    !spec.fromContainers.some((from) => rule.fromContainers!.includes(from.kind))
  ) {
    return false
  }
  if (rule.images !== undefined) {
    const image = spec.image
    if (image === undefined || image === "") return false
    // An image given by ID could be any image (a loaded or built one included): it is never allowed by name, and
    // a rule that denies names denies it too.
    if (ContainerSpec.mayBeImageId(image)) return rule.decision === "deny"
    const qualified = ContainerSpec.qualifiedImage(image)
    if (!rule.images.some((pattern) => glob(pattern, image) || glob(pattern, qualified))) return false
  }
  return true
}

const verdictOf = (rule: Rule): Verdict =>
  rule.decision === "allow"
    ? { allow: true, rule: rule.name, message: undefined }
    : { allow: false, rule: rule.name, message: rule.message ?? `denied by rule ${rule.name}` }

/**
 * Decides a request.
 *
 * @since 0.1.0
 */
export const decide = (policy: Policy, request: AuthzRequest.AuthzRequest): Verdict => {
  // Read once, and only when a rule reached needs it.
  let spec: Result.Result<ContainerSpec.ContainerSpec | undefined, string> | undefined
  for (const rule of policy.rules) {
    if (!matchesRequestLine(rule, request)) continue
    if (!readsBody(rule)) return verdictOf(rule)
    spec ??= ContainerSpec.of(request)
    if (Result.isFailure(spec)) {
      return { allow: false, rule: "unreadable-body", message: `rule ${rule.name} needs the request: ${spec.failure}` }
    }
    if (spec.success !== undefined && matchesSpec(rule, spec.success)) return verdictOf(rule)
  }
  return policy.default === "allow"
    ? { allow: true, rule: "default", message: undefined }
    : { allow: false, rule: "default", message: policy.defaultMessage ?? "denied by the policy's default" }
}
