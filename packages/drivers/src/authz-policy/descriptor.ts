/**
 * `authz-policy` for the CLI: `dpk serve authz-policy --policy FILE`.
 *
 * @since 0.1.0
 */
import { Authorization } from "@docker-plugin-kit/protocol"
import * as Flag from "effect/cli/Flag"
import * as Option from "effect/Option"
import * as Descriptor from "../Descriptor.ts"

/**
 * Where a managed plugin finds its policy: a host folder bind-mounted read-only at the same path (settable:
 * `docker plugin set NAME mount0.source=DIR`), so the policy is edited on the host and reloaded on change.
 *
 * @since 0.1.0
 */
export const managedPolicyDir = "/etc/docker-plugin-kit/authz-policy"

/**
 * The descriptor.
 *
 * @since 0.1.0
 */
export const descriptor = Descriptor.make({
  name: "authz-policy",
  description:
    "An authorization plugin deciding each Engine API request with the rules of a YAML or JSON policy file (reloaded on SIGHUP and on change; denies when in doubt)",
  apis: [Authorization.Api],
  flags: {
    policy: Flag.String("policy").pipe(
      Flag.withDescription("The policy file (YAML or JSON), e.g. examples/authz-policy/baseline.yaml")
    ),
    watch: Flag.Boolean("watch").pipe(
      Flag.withDescription("Reload when the policy file changes, as well as on SIGHUP (--no-watch: on SIGHUP only)"),
      Flag.withDefault(true)
    ),
    auditFile: Flag.String("audit-file").pipe(
      Flag.withDescription(
        "Append the audit lines to this file instead of standard output (created 0600, refused if it is a link; reopened on SIGHUP, for logrotate)"
      ),
      Flag.optional
    )
  },
  layer: ({ policy, watch, auditFile }) =>
    Descriptor.load(
      () => import("./AuthzPolicy.ts"),
      (AuthzPolicy) => AuthzPolicy.layerNode(policy, { watch, auditFile: Option.getOrUndefined(auditFile) })
    ),
  // The policy stays on the host, not in the rootfs: editing it needs no new plugin, and the folder is watched.
  managed: {
    mounts: [{ source: managedPolicyDir, destination: managedPolicyDir, options: ["rbind", "ro"] }],
    args: ["--policy", `${managedPolicyDir}/policy.yaml`]
  }
})
