/**
 * The daemon's retry rule (`pkg/plugins/client.go`, also used to wait for a plugin's socket to appear): sleep 1, 2,
 * 4, 8, ... seconds between attempts, and give up instead of sleeping when the time already spent plus the next
 * sleep would reach 30 s. Attempts therefore start at about 0, 1, 3, 7 and 15 s, and the last error is kept.
 *
 * Written as a plain loop over `Clock` rather than a `Schedule`: the give-up test looks at the *next* sleep, which
 * is exactly what makes the window end at 15 s instead of overshooting 30 s.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * How failed attempts are retried.
 *
 * @since 0.1.0
 */
export interface Policy {
  /** First sleep; doubled after every attempt. */
  readonly initial: Duration.Duration
  /** No sleep is longer than this. */
  readonly cap: Duration.Duration
  /** Give up when elapsed time plus the next sleep reaches this. */
  readonly budget: Duration.Duration
}

/**
 * The daemon's policy: 1 s doubling, capped at 30 s, within 30 s.
 *
 * @since 0.1.0
 */
export const daemon: Policy = {
  initial: Duration.seconds(1),
  cap: Duration.seconds(30),
  budget: Duration.seconds(30)
}

/**
 * No retries: one attempt (the daemon's enumeration does this for discovery; probes use it to report defects fast).
 *
 * @since 0.1.0
 */
export const none: Policy = { initial: Duration.zero, cap: Duration.zero, budget: Duration.zero }

/**
 * The sleep before retry number `retries + 1`, in milliseconds: at least 1, so that a policy with a zero or
 * negative delay still waits and doubles instead of retrying in a tight loop until its budget is spent (or, with a
 * negative delay, forever).
 *
 * @since 0.1.0
 */
export const backoff = (policy: Policy, retries: number): number => {
  const cap = Math.max(1, Duration.toMillis(policy.cap))
  let delay = Math.max(1, Duration.toMillis(policy.initial))
  for (let i = 0; i < retries && delay < cap; i++) delay *= 2
  return Math.min(delay, cap)
}

/**
 * The outcome of a retried effect: the attempts it took and the time they spanned, with the value or the last error.
 *
 * @since 0.1.0
 */
export interface Attempts {
  readonly attempts: number
  readonly elapsedMs: number
}

/**
 * Runs `attempt` until it succeeds, fails with an error `shouldRetry` rejects, or the policy gives up. The failure
 * carries the last error and how many attempts were made.
 *
 * @since 0.1.0
 */
export const retry = <A, E, R>(
  attempt: Effect.Effect<A, E, R>,
  policy: Policy,
  shouldRetry: (error: E) => boolean,
  onRetry: (error: E, delayMs: number) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<A, { readonly error: E } & Attempts, R> =>
  Effect.flatMap(Clock.currentTimeMillis, (start) => {
    const budget = Duration.toMillis(policy.budget)
    const loop = (retries: number): Effect.Effect<A, { readonly error: E } & Attempts, R> =>
      Effect.catch(attempt, (error) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const delay = backoff(policy, retries)
          const elapsedMs = now - start
          if (!shouldRetry(error) || budget <= 0 || elapsedMs + delay >= budget) {
            return Effect.fail({ error, attempts: retries + 1, elapsedMs })
          }
          return onRetry(error, delay).pipe(
            Effect.andThen(Effect.sleep(Duration.millis(delay))),
            Effect.andThen(loop(retries + 1))
          )
        })
      )
    return loop(0)
  })
