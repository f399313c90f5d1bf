/**
 * The driver options of `volume-local` (`docker volume create -o KEY=VALUE`), validated by a Schema so that an
 * unknown key or a malformed value is refused at `Create` with a message the user can act on.
 *
 * | key | value | effect |
 * | --- | --- | --- |
 * | `uid`, `gid` | decimal id | owner of the volume folder |
 * | `mode` | octal permission bits (`0755`, `750`, `1777`) | permissions of the volume folder |
 * | `size` | `512M`, `10G`, `1.5GiB`, `1024` (bytes) | a hint only: recorded and reported in `Status` |
 * | `label.NAME` | any text | a label, reported in `Status.labels` |
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { InvalidArgument } from "../volume/VolumeErrors.ts"

/**
 * Prefix of the option keys that carry labels (`-o label.team=infra`).
 *
 * @since 0.1.0
 */
export const labelPrefix = "label."

/**
 * The keys `volume-local` understands, as listed in error messages.
 *
 * @since 0.1.0
 */
export const knownKeys: ReadonlyArray<string> = ["uid", "gid", "mode", "size", `${labelPrefix}<name>`]

/** The largest id Linux accepts (`(uid_t)-1` means "unchanged" to chown, so it is excluded). */
const maxId = 4_294_967_294

const Id = Schema.String.check(
  Schema.makeFilter((s: string) =>
    !/^\d{1,10}$/.test(s)
      ? "expected a decimal id such as 1000"
      : Number(s) <= maxId || `expected an id of at most ${maxId}`
  )
).pipe(
  Schema.decodeTo(
    Schema.Number,
    SchemaTransformation.transform({ decode: (s: string) => Number(s), encode: (n: number) => String(n) })
  )
)

const Mode = Schema.String.check(
  Schema.isPattern(/^0?[0-7]{3,4}$/, { message: "expected octal permission bits such as 0755" })
).pipe(
  Schema.decodeTo(
    Schema.Number,
    SchemaTransformation.transform({
      decode: (s: string) => Number.parseInt(s, 8),
      encode: (n: number) => n.toString(8).padStart(4, "0")
    })
  )
)

const units: Readonly<Record<string, number>> = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 }
const sizePattern = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$/i

/**
 * Bytes of a size written like `512M`, `10G`, `1.5GiB` or `1024`. Units are binary (`1K` = 1024 bytes), as in
 * Docker's own `--shm-size` and friends.
 *
 * @since 0.1.0
 */
export const parseSize = (text: string): number | undefined => {
  const match = sizePattern.exec(text.trim())
  if (match === null) return undefined
  return Math.round(Number(match[1]) * units[match[2]!.toLowerCase()]!)
}

const Size = Schema.String.check(
  Schema.makeFilter((s: string) => parseSize(s) !== undefined || "expected a size such as 512M, 10G or 1073741824")
)

/**
 * The Schema of the non-label options. Decode with `onExcessProperty: "error"` so that unknown keys are refused.
 *
 * @since 0.1.0
 */
export const KnownOptions = Schema.Struct({
  uid: Schema.optionalKey(Id),
  gid: Schema.optionalKey(Id),
  mode: Schema.optionalKey(Mode),
  size: Schema.optionalKey(Size)
})

/**
 * Validated options.
 *
 * @since 0.1.0
 */
export interface VolumeOptions {
  readonly uid?: number
  readonly gid?: number
  /** Permission bits applied to the folder with chmod (so the umask does not interfere). */
  readonly mode?: number
  /** The size hint as written, and in bytes. */
  readonly size?: { readonly text: string; readonly bytes: number }
  readonly labels: Readonly<Record<string, string>>
}

const formatIssues = (error: Schema.SchemaError): string =>
  SchemaIssue.makeFormatterStandardSchemaV1()(error.issue)
    .issues.map(({ path, message }) => {
      const key = String(path?.[0] ?? "?")
      return message === "Expected no excess property"
        ? `unknown option "${key}" (known: ${knownKeys.join(", ")})`
        : `option "${key}": ${message}`
    })
    .join("; ")

/**
 * Validates the options of a `Create` request (`null` means none). All problems are reported at once.
 *
 * @since 0.1.0
 */
export const decode = (
  options: Readonly<Record<string, string>> | null | undefined
): Result.Result<VolumeOptions, InvalidArgument> => {
  // No prototype: `-o __proto__=x` is an unknown option and `-o label.__proto__=x` a label, not the objects' own.
  const labels: Record<string, string> = Object.create(null)
  const rest: Record<string, string> = Object.create(null)
  const problems: Array<string> = []
  for (const [key, value] of Object.entries(options ?? {})) {
    if (!key.startsWith(labelPrefix)) rest[key] = value
    else if (key.length === labelPrefix.length)
      problems.push(`option "${key}": a label needs a name (label.NAME=VALUE)`)
    else labels[key.slice(labelPrefix.length)] = value
  }
  const decoded = Schema.decodeUnknownResult(KnownOptions)(rest, { onExcessProperty: "error", errors: "all" })
  if (Result.isFailure(decoded)) problems.unshift(formatIssues(decoded.failure))
  if (problems.length > 0 || Result.isFailure(decoded)) {
    return Result.fail(new InvalidArgument({ field: "options", reason: problems.join("; ") }))
  }
  const { size, ...owner } = decoded.success
  return Result.succeed({
    ...owner,
    ...(size === undefined ? {} : { size: { text: size, bytes: parseSize(size)! } }),
    labels
  })
}
