// The authorization driver: privileged containers and bind mounts of the host's / or /etc are denied, everything
// else allowed. A request whose container specification cannot be read is denied (fail closed).
import { AuthzAnswer, ContainerSpec } from "@docker-plugin-kit/helpers"
import { Effect, Result } from "effect"

/** Host paths a container may not mount. */
const forbidden = ["/", "/etc"]

/** The driver. */
export const layer = AuthzAnswer.layer({
  request: (request) =>
    Effect.sync(() => {
      const spec = ContainerSpec.of(request)
      if (Result.isFailure(spec)) return AuthzAnswer.deny(`cannot read the request: ${spec.failure}`)
      if (spec.success === undefined) return AuthzAnswer.allow
      if (spec.success.privileged) return AuthzAnswer.deny("privileged containers are not allowed")
      const mount = spec.success.hostMounts.find((m) => forbidden.includes(m.source))
      return mount === undefined
        ? AuthzAnswer.allow
        : AuthzAnswer.deny(`bind mounts of ${mount.source} are not allowed`)
    })
})
