/**
 * `PolicySource` in memory: the test sets the text (or makes reading fail) and announces changes, so reloads,
 * bad new policies and unreadable files are tested without files or signals.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { PolicySource, PolicyUnreadable, type Service } from "./PolicySource.ts"

/**
 * A memory source and its controls.
 *
 * @since 0.1.0
 */
export interface MemorySource {
  readonly service: Service
  /** Replaces the text; `announce` (default true) then signals a change. */
  readonly set: (text: string, announce?: boolean) => Effect.Effect<void>
  /** Makes reading fail with `reason` until the next `set`, and signals a change. */
  readonly breakWith: (reason: string) => Effect.Effect<void>
  /** Signals a change (as SIGHUP would). */
  readonly signal: (why?: string) => Effect.Effect<void>
}

/**
 * A memory source holding `text` (`undefined`: reading fails as for a missing file).
 *
 * @since 0.1.0
 */
export const make = (text: string | undefined, location = "memory:policy.yaml"): Effect.Effect<MemorySource> =>
  Effect.map(Queue.unbounded<string>(), (changes) => {
    let current: { readonly text: string } | { readonly error: string } =
      text === undefined ? { error: "no such file" } : { text }
    // A queue, not a PubSub: a change announced before the driver listens is still delivered (to one listener).
    const signal = (why = "signal") => Effect.asVoid(Queue.offer(changes, why))
    return {
      service: {
        location,
        read: Effect.suspend(() =>
          "text" in current
            ? Effect.succeed(current.text)
            : Effect.fail(new PolicyUnreadable({ source: location, reason: current.error }))
        ),
        changes: Stream.fromQueue(changes)
      },
      set: (next, announce = true) =>
        Effect.andThen(
          Effect.sync(() => {
            current = { text: next }
          }),
          announce ? signal("set") : Effect.void
        ),
      breakWith: (reason) =>
        Effect.andThen(
          Effect.sync(() => {
            current = { error: reason }
          }),
          signal("broken")
        ),
      signal
    }
  })

/**
 * The service of a memory source, as a Layer.
 *
 * @since 0.1.0
 */
export const layer = (source: MemorySource): Layer.Layer<PolicySource> => Layer.succeed(PolicySource, source.service)
