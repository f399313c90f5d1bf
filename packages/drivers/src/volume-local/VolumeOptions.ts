/**
 * The driver options of `volume-local` (`docker volume create -o KEY=VALUE`), validated by a Schema so that an
 * unknown key or a malformed value is refused at `Create` with a message the user can act on.
 *
 * | key | value | effect |
 * | --- | --- | --- |
 * | `uid`, `gid` | decimal id | owner of the volume folder |
 * | `mode` | octal permission bits (`0755`, `750`, `1777`) | permissions of the volume folder |
 * | `size` | `512M`, `10G`, `1.5GiB`, `1024` (bytes): a whole number of bytes, at least 1 | a hint only: recorded and reported in `Status` |
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

const units: Readonly<Record<string, bigint>> = {
  "": 1n,
  k: 2n ** 10n,
  m: 2n ** 20n,
  g: 2n ** 30n,
  t: 2n ** 40n,
  p: 2n ** 50n
}
const sizePattern = /^(\d+)(?:\.(\d+))?\s*([kmgtp]?)(?:i?b)?$/i
const sizeExample = "expected a size such as 512M, 10G or 1073741824"

/** The value as quoted in a message: a long one is cut, so that a huge option does not make a huge error. */
const quoted = (text: string): string => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)

/**
 * Bytes of a size written like `512M`, `10G`, `1.5GiB` or `1024`, or why it is not one. Units are binary (`1K` =
 * 1024 bytes), as in Docker's own `--shm-size` and friends. The size must come to a whole number of bytes, at
 * least 1, that a JavaScript number holds exactly (as log-file's `max-size`); the arithmetic is done on integers
 * so that `0.4`, `1.0000000000000000001K` or 400 nines are not rounded into something acceptable.
 *
 * @since 0.1.0
 */
export const checkSize = (text: string): Result.Result<number, string> => {
  const match = sizePattern.exec(text.trim())
  if (match === null) return Result.fail(sizeExample)
  const whole = match[1]!.replace(/^0+/, "")
  const fraction = (match[2] ?? "").replace(/0+$/, "")
  // 17 digits are at least 10^16, beyond the safe integers whatever the unit; this also keeps the BigInts small.
  if (whole.length > 16) return Result.fail(`${quoted(text)} is too large`)
  // A unit is at most 2^50, so a fraction giving whole bytes is m / 2^i with i <= 50: it has at most 50 decimals.
  if (fraction.length > 50) return Result.fail(`${quoted(text)} is not a whole number of bytes`)
  // The value times 10^decimals, an integer: the digits with the point removed.
  const scale = 10n ** BigInt(fraction.length)
  const scaled = BigInt(whole + fraction || "0") * units[match[3]!.toLowerCase()]!
  if (scaled % scale !== 0n) return Result.fail(`${quoted(text)} is not a whole number of bytes`)
  const bytes = scaled / scale
  if (bytes < 1n) return Result.fail(`${quoted(text)} must be at least 1 byte`)
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) return Result.fail(`${quoted(text)} is too large`)
  return Result.succeed(Number(bytes))
}

/**
 * Bytes of a size as `checkSize` reads it, or `undefined` when it is not a valid size.
 *
 * @since 0.1.0
 */
export const parseSize = (text: string): number | undefined => Result.getOrUndefined(checkSize(text))

const Size = Schema.String.check(
  Schema.makeFilter((s: string) => Result.match(checkSize(s), { onFailure: (reason) => reason, onSuccess: () => true }))
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
