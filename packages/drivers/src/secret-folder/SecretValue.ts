/**
 * The value of a secret as the swarm manager accepts it, and the `GetSecret` answer carrying it. The manager refuses
 * a driver's value that is empty or of 500 KiB or more (swarmkit's `MaxSecretSize`, checked as for `docker secret
 * create`): it would leave the secret out and every task using it would fail to start with only `secret ID not
 * found` to say why. Such a file is refused here instead, with an `Err` that names its size.
 *
 * @since 0.1.0
 */
import { SecretProvider } from "@docker-plugin-kit/protocol"
import * as Result from "effect/Result"
import { SecretFileRefused } from "./SecretErrors.ts"
import type * as SecretLabels from "./SecretLabels.ts"

/**
 * The size the swarm manager refuses a value from (500 KiB, `SecretProvider.maxValueSize`).
 *
 * @since 0.1.0
 */
export const managerLimit = SecretProvider.maxValueSize

/**
 * The largest value served, in bytes: one less than `managerLimit`. A read takes at most one byte more, which is
 * enough to tell a file that is too large.
 *
 * @since 0.1.0
 */
export const maxBytes = managerLimit - 1

/**
 * Checks the bytes read from a secret's file (at most `maxBytes + 1` of them).
 *
 * @since 0.1.0
 */
export const check = (wanted: SecretLabels.Wanted, bytes: Uint8Array): Result.Result<Uint8Array, SecretFileRefused> =>
  bytes.length === 0
    ? Result.fail(
        new SecretFileRefused({
          secret: wanted.secret,
          key: wanted.key.text,
          reason: "it is empty, and the swarm manager refuses an empty value"
        })
      )
    : bytes.length > maxBytes
      ? Result.fail(
          new SecretFileRefused({
            secret: wanted.secret,
            key: wanted.key.text,
            reason: `it holds ${managerLimit} bytes (500 KiB) or more, and the swarm manager refuses a value that large`
          })
        )
      : Result.succeed(bytes)

/**
 * The answer for a value: base64, and `DoNotReuse` when the secret's `reuse` label is `false`.
 *
 * @since 0.1.0
 */
export const answer = (wanted: SecretLabels.Wanted, bytes: Uint8Array): SecretProvider.GetSecretResponse => ({
  Value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64"),
  ...(wanted.reuse ? {} : { DoNotReuse: true })
})
