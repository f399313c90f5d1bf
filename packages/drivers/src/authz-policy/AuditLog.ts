/**
 * The default audit of `authz-policy`: one logfmt line per decision, in the shape of the plugin's other log lines
 * (`timestamp=… level=INFO message="authz decision" user=… method=… route=… rule=… decision=…`).
 *
 * Lines are written after the answers, not before: they are queued and leave together once the current turn of the
 * event loop is over (by then the server has written the answer of that turn). The daemon waits on every API call
 * for the plugin, so the audit's system call stays off that path, and a burst of decisions costs one write. Closing
 * the scope writes what is queued.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { AuditEntry } from "./AuthzPolicy.ts"

// A logfmt value needs quotes when it is empty or holds a space, a quote or `=` (the rule of Effect's logfmt logger).
const bare = /^[^\s"=]+$/
const value = (text: string) => (bare.test(text) ? text : JSON.stringify(text))

/**
 * One audit line, ending with a newline.
 *
 * @since 0.1.0
 */
export const format = (entry: AuditEntry, now: Date = new Date()): string => {
  let line = `timestamp=${now.toISOString()} level=INFO message="authz decision" user=${value(entry.user)}`
  line += ` method=${value(entry.method)} route=${value(entry.route)} rule=${value(entry.rule)}`
  line += ` decision=${entry.decision}`
  if (entry.reason !== undefined) line += ` reason=${value(entry.reason)}`
  return `${line}\n`
}

/**
 * An audit that queues each entry's line and hands the queued text to `write` once per turn of the event loop, and
 * once more when the scope closes.
 *
 * @since 0.1.0
 */
export const make = (
  write: (text: string) => void
): Effect.Effect<(entry: AuditEntry) => Effect.Effect<void>, never, Scope.Scope> =>
  Effect.gen(function* () {
    let queued = ""
    let scheduled = false
    const flush = () => {
      scheduled = false
      if (queued === "") return
      const text = queued
      queued = ""
      write(text)
    }
    yield* Effect.addFinalizer(() => Effect.sync(flush))
    return (entry) =>
      Effect.sync(() => {
        queued += format(entry)
        if (!scheduled) {
          scheduled = true
          setImmediate(flush)
        }
      })
  })

/**
 * Writes to standard output (a closed one is tolerated by the server: lines are then dropped).
 *
 * @since 0.1.0
 */
export const stdout = (text: string): void => {
  process.stdout.write(text)
}
