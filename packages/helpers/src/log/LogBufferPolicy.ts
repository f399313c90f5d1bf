/**
 * The size and overflow policy of a `LogBuffer`, on its own so that a driver's command-line description can check
 * one without loading the buffer and the protobuf codec behind it.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * What to do when the buffer is full.
 *
 * @since 0.1.0
 */
export type Overflow = "drop-newest" | "drop-oldest"

/**
 * Size and overflow behaviour of the buffer.
 *
 * @since 0.1.0
 */
export interface Policy {
  /** Bytes held at most (the frames' bytes). */
  readonly maxBytes: number
  readonly overflow: Overflow
}

/**
 * 16 MiB per stream (seconds of a fast writer's output), dropping the newest.
 *
 * @since 0.1.0
 */
export const defaultPolicy: Policy = { maxBytes: 16 * 1024 * 1024, overflow: "drop-newest" }

/**
 * A policy that `validate` refuses.
 *
 * @since 0.1.0
 */
export class InvalidPolicy extends Data.TaggedError("InvalidPolicy")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

/**
 * Checks a policy: a positive integer size and a known overflow.
 *
 * @since 0.1.0
 */
export const validate = (policy: Policy): string | undefined =>
  !Number.isSafeInteger(policy.maxBytes) || policy.maxBytes < 1
    ? `buffer size must be a positive number of bytes, not ${policy.maxBytes}`
    : policy.overflow !== "drop-newest" && policy.overflow !== "drop-oldest"
      ? `buffer overflow must be drop-newest or drop-oldest, not ${policy.overflow}`
      : undefined
