/**
 * Wire-level constants and schema helpers shared by every plugin API.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Content type plugins answer with (the daemon ignores it; this is the conventional value).
 *
 * @since 0.1.0
 */
export const ResponseContentType = "application/vnd.docker.plugins.v1.1+json"

/**
 * `Accept` header the daemon sends on every call (unchanged since Docker 1.10).
 *
 * @since 0.1.0
 */
export const DaemonAccept = "application/vnd.docker.plugins.v1.2+json"

/**
 * Content type of tar streams (GraphDriver Diff/ApplyDiff).
 *
 * @since 0.1.0
 */
export const TarContentType = "application/x-tar"

/**
 * Content type of binary streams (LogDriver ReadLogs).
 *
 * @since 0.1.0
 */
export const BinaryContentType = "application/octet-stream"

/**
 * A request or response with no fields. The daemon sends `{}` or an empty body for these; the server accepts both.
 *
 * @since 0.1.0
 */
export const Empty = Schema.Struct({})

/**
 * A Go `map[string]string` as the daemon encodes it: an object, or `null` for a nil map; the key may also be
 * absent when we are lenient about what a hand-written client sends.
 *
 * @since 0.1.0
 */
export const StringMap = Schema.optionalKey(Schema.NullOr(Schema.Record(Schema.String, Schema.String)))

/**
 * A Go `map[string]interface{}`: any JSON values, `null` for a nil map.
 *
 * @since 0.1.0
 */
export const AnyMap = Schema.optionalKey(Schema.NullOr(Schema.Record(Schema.String, Schema.Unknown)))

/**
 * The error body of a failed call: `{"Err": "..."}`. The server answers every failure with it and a non-200
 * status, for every API: on any status but 200 the daemon reads `Err` and nothing else (IPAM's `Error` included).
 *
 * @since 0.1.0
 */
export const ErrorResponse = Schema.Struct({ Err: Schema.String })

/**
 * The text of an `ErrorResponse` (a string field needs no schema run to encode).
 *
 * @since 0.1.0
 */
export const errorText = (message: string): string => JSON.stringify(ErrorResponse.make({ Err: message }))

const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))$/

const daysIn = (year: number, month: number): number =>
  month === 2
    ? year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
      ? 29
      : 28
    : [4, 6, 9, 11].includes(month)
      ? 30
      : 31

/**
 * Whether `text` is a timestamp Go's `time.Time` accepts from JSON (RFC 3339): a real calendar date, hours below 24,
 * minutes and seconds below 60, any number of fractional digits (Go keeps nanoseconds), `Z` or an offset below
 * 24:00.
 *
 * @since 0.1.0
 */
export const isRfc3339 = (text: string): boolean => {
  const m = rfc3339.exec(text)
  if (m === null) return false
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number
  ]
  const offsetOk = m[8] === undefined || (Number(m[8]) < 24 && Number(m[9]) < 60)
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysIn(year, month) &&
    hour < 24 &&
    minute < 60 &&
    second < 60 &&
    offsetOk
  )
}

/**
 * An RFC 3339 timestamp as Go's `time.Time` reads it from JSON: the daemon rejects a whole `Get`/`List` answer
 * whose time does not parse (`""` included), so the shape alone is not enough (`2024-02-30T25:61:00Z` is refused).
 *
 * @since 0.1.0
 */
export const Rfc3339 = Schema.String.check(
  // The pattern bounds every field (and lets arbitraries generate mostly real times); the filter checks the day
  // against its month and year. A value the pattern refuses stops there (`abort`): the codec reports every failed
  // check, and "the day does not exist" would be wrong about a second of 60 or an offset without its colon.
  Schema.isPattern(
    /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/,
    { message: "Expected an RFC 3339 timestamp such as 2026-11-21T14:50:27.723Z" }
  ).abort(),
  Schema.makeFilter((s: string) => isRfc3339(s), {
    message: "Expected an RFC 3339 timestamp with a real date (the day does not exist in that month)"
  })
)

/**
 * A Go `int` (64 bits) as far as a JavaScript number holds it exactly: an integer within ±(2^53 − 1). Go sends
 * larger ones (`docker logs --tail 9007199254740992`), which JSON parsing would round, so they are refused with a
 * message that says so, rather than read as a neighbouring value or called "not an integer".
 *
 * @since 0.1.0
 */
export const GoInt = Schema.Number.check(
  // A fraction or a non-finite number is not an integer at all: stop at the first message.
  Schema.makeFilter((n: number) => Number.isInteger(n), { expected: "an integer" }).abort(),
  Schema.isInt({
    message: `Expected an integer from ${Number.MIN_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER} (a larger Go int is beyond the range supported here)`
  })
)
