/**
 * The default audit of `authz-policy`: one logfmt line per decision, in the shape of the plugin's other log lines
 * (`timestamp=… level=INFO message="authz decision" user=… method=… route=… rule=… decision=…`).
 *
 * Lines are written after the answers, not before: they are queued and leave together once the current turn of the
 * event loop is over (by then the server has written the answer of that turn). The daemon waits on every API call
 * for the plugin, so the audit's system call stays off that path, and a burst of decisions costs one write. Closing
 * the scope writes what is queued.
 *
 * An output that takes no more lines (closed, or a pipe nobody reads, where Node would buffer them in memory without
 * end) never holds up an answer: its lines are dropped and counted, a warning says so on standard error when that
 * starts, and the output's next line says how many were lost.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { AuditEntry } from "./AuthzPolicy.ts"

// A logfmt value needs quotes when it is empty or holds a space, a quote or `=` (the rule of Effect's logfmt logger),
// and here also a control, format or separator character, escaped as `\uXXXX`: the user and the route come from the
// request, and raw, such a character could end the line for a log reader (U+0085, U+2028), drive the terminal that
// shows it (ESC) or hide text (U+202E). JSON.stringify escapes only the controls below U+0020.
const unsafe = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu
const bare = /^[^\s"=\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u
const unicodeEscape = (character: string) =>
  character
    .split("")
    .map((unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, "0")}`)
    .join("")
const value = (text: string) => (bare.test(text) ? text : JSON.stringify(text).replace(unsafe, unicodeEscape))

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
 * The line that reports `count` audit lines dropped since the output last took one.
 *
 * @since 0.1.0
 */
export const droppedLine = (count: number, now: Date = new Date()): string =>
  warning("authz audit lines dropped: the output took no more", now, ` dropped=${count}`)

/**
 * A WARN line in the audit's logfmt shape, with `fields` (` key=value` pairs) after the message.
 *
 * @since 0.1.0
 */
export const warning = (message: string, now: Date = new Date(), fields = "") =>
  `timestamp=${now.toISOString()} level=WARN message=${JSON.stringify(message)}${fields}\n`

/**
 * Where audit text goes: it writes `text` and calls `done` once the output took it, with an error if it did not;
 * returning `false` refuses the text at once (nothing is written, `done` is not called).
 *
 * @since 0.1.0
 */
export type Write = (text: string, done: (error?: Error | null) => void) => boolean | undefined

/**
 * An audit that queues each entry's line and hands the queued text to `write` once per turn of the event loop, and
 * once more when the scope closes. Text the output refuses or fails to take is dropped and counted: `warn` is told
 * when dropping starts (and, at the close, how many were lost), and the next text the output takes starts with
 * `droppedLine`.
 *
 * @since 0.1.0
 */
export const make = (
  write: Write,
  warn: (line: string) => void = stderr
): Effect.Effect<(entry: AuditEntry) => Effect.Effect<void>, never, Scope.Scope> =>
  Effect.gen(function* () {
    let queued = ""
    let lines = 0
    let dropped = 0
    let dropping = false
    let scheduled = false
    const flush = () => {
      scheduled = false
      if (queued === "") return
      // The count of earlier losses travels with this text: if it is lost too, the count comes back with it.
      const carried = dropped
      const text = carried > 0 ? droppedLine(carried) + queued : queued
      const count = lines
      queued = ""
      lines = 0
      dropped = 0
      let settled = false
      const done = (error?: Error | null) => {
        if (settled) return
        settled = true
        if (error === undefined || error === null) {
          dropping = false
          return
        }
        if (!dropping) {
          dropping = true
          warn(warning(`authz-policy: the audit output takes no more lines (${error.message}): dropping them`))
        }
        dropped += count + carried
      }
      if (write(text, done) === false) done(new Error("closed, or not read"))
    }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        flush()
        if (dropped > 0) warn(warning(`authz-policy: ${dropped} audit lines were dropped: the output took no more`))
      })
    )
    return (entry) =>
      Effect.sync(() => {
        queued += format(entry)
        lines++
        if (!scheduled) {
          scheduled = true
          setImmediate(flush)
        }
      })
  })

/**
 * How much audit text may wait in memory for standard output before lines are dropped (1 MiB, thousands of lines):
 * a pipe whose reader stopped reading would otherwise have Node buffer every line, without end.
 *
 * @since 0.1.0
 */
export const maxPending = 1024 * 1024

// Set by the first failed write: a closed pipe (EPIPE) stays closed, and Node's stdout still says it is writable.
let broken = false

/**
 * Writes to standard output, unless a write to it failed (closed: EPIPE; `ClosedOutput` keeps the process alive) or
 * it holds more than `maxPending` bytes its reader has not taken: the text is then refused.
 *
 * @since 0.1.0
 */
export const stdout: Write = (text, done) => {
  const out = process.stdout
  if (broken || out.destroyed || out.writableLength > maxPending) return false
  out.write(text, (error) => {
    if (error) broken = true
    done(error)
  })
  return true
}

/**
 * Writes a warning to standard error, where it is seen when standard output is the one that is stuck or closed.
 *
 * @since 0.1.0
 */
export const stderr = (line: string): void => {
  if (!process.stderr.destroyed) process.stderr.write(line)
}
