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

/**
 * An RFC 3339 timestamp as Go's `time.Time` marshals it (the daemon rejects any other format, `""` included).
 *
 * @since 0.1.0
 */
export const Rfc3339 = Schema.String.check(
  Schema.isPattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/, {
    message: "Expected an RFC 3339 timestamp such as 2026-11-21T14:50:27.723Z"
  })
)
