/**
 * Why a listener could not be prepared, bound or announced.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * The listener at `address` (a socket path, `tcp://HOST:PORT`, a spec file, `fd:3`) could not be prepared or bound,
 * for `reason`.
 *
 * @since 0.1.0
 */
export class ListenError extends Data.TaggedError("ListenError")<{
  readonly address: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.address}: ${this.reason}`
  }
}
