/**
 * The `--log-opt` values `log-file` understands, checked at `StartLogging` so that a bad value fails the container's
 * start with a message naming it (the daemon shows it as `failed to initialize logging driver: error creating
 * logger: <message>`), instead of being found out at the first rotation.
 *
 * @since 0.1.0
 */
import { LogAttributes } from "@docker-plugin-kit/helpers"
import * as Result from "effect/Result"
import * as GoBool from "../shared/GoBool.ts"

/**
 * The rotation settings of one container.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Rotate once the file would grow past this many bytes; `undefined` never rotates. */
  readonly maxSize: number | undefined
  /** Files kept, the current one included (at least 1). */
  readonly maxFile: number
  /** Rotated files are gzip-compressed (`BASE.1.gz`, ...), as json-file's `compress=true` does. */
  readonly compress: boolean
}

/**
 * A `--log-opt` that is unknown or has a bad value (the helpers' error, which the attribute options fail with too).
 *
 * @since 0.1.0
 */
export const LogOptionInvalid = LogAttributes.LogOptionInvalid

/**
 * @since 0.1.0
 */
export type LogOptionInvalid = LogAttributes.LogOptionInvalid

/**
 * Options the daemon handles itself or passes to every driver (`mode`, the local cache's `cache-*`, ...), which
 * must be accepted (the daemon forwards every `--log-opt` unfiltered), and the attribute options (`labels`, `env`,
 * `tag`, ...), which `LogAttributes` reads and checks.
 *
 * @since 0.1.0
 */
export const generic: ReadonlyArray<string> = [
  "mode",
  "max-buffer-size",
  ...LogAttributes.options,
  "cache-disabled",
  "cache-max-size",
  "cache-max-file",
  "cache-compress"
]

/** The options log-file itself reads. */
const own: ReadonlyArray<string> = ["max-size", "max-file", "compress"]

// The powers of each unit: `k` is the first, `p` the fifth.
const powers: Record<string, number> = { k: 1, m: 2, g: 3, t: 4, p: 5 }

/**
 * The sizes go-units' `FromHumanSize` (json-file's parser) takes: a decimal number, one optional space, and no unit,
 * `b`, or `k`, `kb`, `kib` (and the same for `m`, `g`, `t`, `p`), case-insensitive. Nothing else: `10i` or `1bb` is
 * a typo, not a number of bytes. The `i` changes nothing: `kib` is 1000 bytes too, as go-units reads it.
 */
const size = /^(\d+\.?\d*|\.\d+) ?(b|([kmgtp])(?:b|ib)?)?$/i

/**
 * Parses a size like the engine's `json-file` does: a number with an optional unit (decimal multiples,
 * case-insensitive; `10m`, `10mb` and `10MiB` are 10 000 000 bytes, `1.5k` is 1500 bytes, `100` and `100b` are 100
 * bytes). json-file reads `max-size` with go-units' `FromHumanSize`, whose units are powers of 1000, so the same
 * `max-size` rotates at the same size with both drivers. `base` 1024 reads the same syntax as go-units'
 * `RAMInBytes` does (binary multiples, for an amount of memory such as `--buffer-size`).
 *
 * @since 0.1.0
 */
export const parseSize = (text: string, base: 1000 | 1024 = 1000): Result.Result<number, string> => {
  const match = size.exec(text)
  if (match === null) return Result.fail("expected a size such as 10m, 512k or 1g")
  const multiple = match[3] === undefined ? 1 : base ** powers[match[3].toLowerCase()]!
  const bytes = Math.floor(Number(match[1]) * multiple)
  if (!(bytes >= 1)) return Result.fail("must be at least 1 byte")
  if (!Number.isSafeInteger(bytes)) return Result.fail("too large")
  return Result.succeed(bytes)
}

/**
 * The most files `max-file` keeps. json-file has no bound, but every rotation renames each kept file and `docker
 * logs` looks for each one, so a value in the millions (which a container's creator can set) would make every
 * rotation and every read allocate and walk that many entries, and run the plugin out of memory. A thousand is far
 * past any practical retention (history is better kept by a larger `max-size`).
 */
const maxFileLimit = 1000

/** `max-file`: a whole number from 1 to `maxFileLimit`. */
const parseMaxFile = (text: string): Result.Result<number, string> => {
  const count = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!(count >= 1)) return Result.fail("must be a whole number of at least 1")
  if (count > maxFileLimit) return Result.fail(`must be at most ${maxFileLimit}`)
  return Result.succeed(count)
}

/**
 * Reads the options of a container from `Info.Config` (`null` means none).
 *
 * @since 0.1.0
 */
export const decode = (config: Readonly<Record<string, string>> | null): Result.Result<Options, LogOptionInvalid> => {
  const opts = config ?? {}
  for (const [option, value] of Object.entries(opts)) {
    if (!own.includes(option) && !generic.includes(option)) {
      return Result.fail(
        new LogOptionInvalid({
          option,
          value,
          reason: "unknown option for log-file (it knows max-size, max-file and compress)"
        })
      )
    }
  }
  let maxSize: number | undefined
  const size = opts["max-size"]
  if (size !== undefined && size !== "" && size !== "-1") {
    const parsed = parseSize(size)
    if (Result.isFailure(parsed)) {
      return Result.fail(new LogOptionInvalid({ option: "max-size", value: size, reason: parsed.failure }))
    }
    maxSize = parsed.success
  }
  let maxFile = 1
  const files = opts["max-file"]
  if (files !== undefined && files !== "") {
    const parsed = parseMaxFile(files)
    if (Result.isFailure(parsed)) {
      return Result.fail(new LogOptionInvalid({ option: "max-file", value: files, reason: parsed.failure }))
    }
    maxFile = parsed.success
    if (maxFile > 1 && maxSize === undefined) {
      return Result.fail(
        new LogOptionInvalid({
          option: "max-file",
          value: files,
          reason: "needs max-size (files are only rotated by size)"
        })
      )
    }
  }
  let compress = false
  const compressText = opts.compress
  if (compressText !== undefined && compressText !== "") {
    // Go's spellings, as json-file reads the option.
    const parsed = GoBool.parse(compressText)
    if (parsed === undefined) {
      return Result.fail(
        new LogOptionInvalid({ option: "compress", value: compressText, reason: "must be true or false" })
      )
    }
    // Only rotated files are compressed: without rotation the option would silently do nothing (json-file refuses it
    // too, with the same condition).
    if (parsed && (maxFile < 2 || maxSize === undefined)) {
      return Result.fail(
        new LogOptionInvalid({
          option: "compress",
          value: compressText,
          reason: "needs max-size and a max-file of at least 2 (only rotated files are compressed)"
        })
      )
    }
    compress = parsed
  }
  return Result.succeed({ maxSize, maxFile, compress })
}
