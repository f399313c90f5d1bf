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
 * Checks a volume name: not empty, at most 255 bytes, no `/`, no NUL, not `.` or `..`.
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
            : Buffer.byteLength(name, "utf8") > maxBytes
              ? `is ${Buffer.byteLength(name, "utf8")} bytes long, the limit is ${maxBytes}`
              : undefined
  return reason === undefined ? Result.succeed(name) : Result.fail(new InvalidArgument({ field: "Name", reason }))
}
