/**
 * The secret labels `secret-folder` reads, and what a `GetSecret` request asks for once they are read: which file
 * (`key`), for which services (`services`), and whether the manager may reuse the value (`reuse`). Pure: the tests
 * run every rule without a disk.
 *
 * The labels are those of the secret, set by whoever ran `docker secret create` (an operator of a swarm manager),
 * and sent by the manager itself: a service cannot set or change them, so they are trusted. Other labels are
 * ignored. The names are short and unprefixed because a driver-backed secret's labels are read by its driver alone.
 *
 * @since 0.1.0
 */
import type { SecretProvider } from "@docker-plugin-kit/protocol"
import * as Result from "effect/Result"
import { type InvalidSecretKey, InvalidSecretLabel, SecretAccessDenied } from "./SecretErrors.ts"
import * as SecretKey from "./SecretKey.ts"

/**
 * The label naming the file (`--label key=db/password` reads `ROOT/db/password`); without it, the secret's name is
 * the key.
 *
 * @since 0.1.0
 */
export const keyLabel = "key"

/**
 * The label listing, comma-separated, the services that get the value (`--label services=web,worker`); without it,
 * every service does.
 *
 * @since 0.1.0
 */
export const servicesLabel = "services"

/**
 * The label that, set to `false`, makes the manager ask again for every task (`DoNotReuse`), so a rewritten file
 * reaches the next task; `true` (the default) lets it reuse a value it fetched for a node.
 *
 * @since 0.1.0
 */
export const reuseLabel = "reuse"

/**
 * What a request asks for, its labels read.
 *
 * @since 0.1.0
 */
export interface Wanted {
  /** The secret's name, for messages. */
  readonly secret: string
  readonly key: SecretKey.Key
  /** The services allowed, or `undefined` for every service. */
  readonly services: ReadonlyArray<string> | undefined
  readonly reuse: boolean
}

/**
 * Reads `services`: names separated by commas, blanks around them ignored, as are empty entries. A label with no
 * name at all allows no service (a list emptied by mistake keeps the secret closed rather than opens it).
 *
 * @since 0.1.0
 */
export const parseServices = (value: string): ReadonlyArray<string> =>
  value
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "")

/**
 * Reads `reuse`: `true` or `false` only. Anything else is refused rather than taken for the default: a misspelt
 * `reuse=no` would otherwise keep serving the old value after a rotation without a word.
 *
 * @since 0.1.0
 */
export const parseReuse = (secret: string, value: string | undefined): Result.Result<boolean, InvalidSecretLabel> =>
  value === undefined || value === "true"
    ? Result.succeed(true)
    : value === "false"
      ? Result.succeed(false)
      : Result.fail(new InvalidSecretLabel({ secret, label: reuseLabel, value, reason: "expected true or false" }))

/**
 * Reads a request: the key (the `key` label, else the name), the services, reuse. A request without a name fails
 * as an invalid `SecretName`, with a `key` label too (the manager always sends the name, and every message names the
 * secret by it).
 *
 * @since 0.1.0
 */
export const read = (
  request: SecretProvider.GetSecretRequest
): Result.Result<Wanted, InvalidSecretKey | InvalidSecretLabel> => {
  const secret = request.SecretName ?? ""
  const labels = request.SecretLabels ?? {}
  const labelled = labels[keyLabel]
  return Result.gen(function* () {
    const key = yield* labelled === undefined || secret === ""
      ? SecretKey.parse(secret, "SecretName", secret)
      : SecretKey.parse(secret, `label ${keyLabel}`, labelled)
    const reuse = yield* parseReuse(secret, labels[reuseLabel])
    const listed = labels[servicesLabel]
    return { secret, key, services: listed === undefined ? undefined : parseServices(listed), reuse }
  })
}

/**
 * Whether the requesting service may have the value: always without a `services` label, else when the label names
 * it (exactly, case included, as swarm compares service names).
 *
 * @since 0.1.0
 */
export const checkAccess = (wanted: Wanted, service: string | undefined): Result.Result<Wanted, SecretAccessDenied> =>
  wanted.services === undefined || (service !== undefined && wanted.services.includes(service))
    ? Result.succeed(wanted)
    : Result.fail(new SecretAccessDenied({ secret: wanted.secret, service: service ?? "", allowed: wanted.services }))
