/**
 * Volume names that are safe to use as one path component under a root folder.
 *
 * The daemon performs no validation of plugin volume names (`docker volume create` lets `/`, `..` and spaces
 * through), so a driver that turns names into paths must refuse anything that could escape its root.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import { InvalidArgument } from "./VolumeErrors.ts"

/**
 * Longest accepted name in UTF-8 bytes (a Linux file name component).
 *
 * @since 0.1.0
 */
export const maxBytes = 255

/**
 * A UTF-16 surrogate without its pair. Written to disk it becomes U+FFFD, so two such names would share one folder
 * and one state file, and the name read back from the disk would not be the name given.
 */
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * Checks a volume name: not empty, at most 255 bytes, no `/`, no NUL, not `.` or `..`, valid Unicode.
 *
 * @since 0.1.0
 */
export const validate = (name: string): Result.Result<string, InvalidArgument> => {
  const reason =
    name.length === 0
      ? "must not be empty"
      : name === "." || name === ".."
        ? `"${name}" would escape the volume root`
        : name.includes("/")
          ? `"${name}" must not contain "/"`
          : name.includes("\0")
            ? "must not contain a NUL byte"
            : loneSurrogate.test(name)
              ? "must be valid Unicode (it holds a lone UTF-16 surrogate)"
              : Buffer.byteLength(name, "utf8") > maxBytes
                ? `is ${Buffer.byteLength(name, "utf8")} bytes long, the limit is ${maxBytes}`
                : undefined
  return reason === undefined ? Result.succeed(name) : Result.fail(new InvalidArgument({ field: "Name", reason }))
}
