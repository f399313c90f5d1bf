/**
 * The key of a secret: the path of its file relative to the root, `/`-separated (`db/password`). Checked before it
 * touches the disk, so that no key names a file outside the root: every way out (`..`, an absolute path) is refused
 * by name rather than resolved, and so are keys that would name a different file than written (`a//b`, `./a`, `a/`).
 * Symlinks, which no text check can see, are refused by `SecretFiles` as it opens the path.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import { InvalidSecretKey } from "./SecretErrors.ts"

/**
 * A checked key.
 *
 * @since 0.1.0
 */
export interface Key {
  /** The key as given. */
  readonly text: string
  /** Its folders, then its file name: each a non-empty name other than `.` and `..`, without `/` or NUL. */
  readonly segments: ReadonlyArray<string>
}

/**
 * The longest name of one file or folder (Linux `NAME_MAX`), in bytes.
 *
 * @since 0.1.0
 */
export const maxSegmentBytes = 255

/**
 * The longest key, in bytes (Linux `PATH_MAX` less room for the root).
 *
 * @since 0.1.0
 */
export const maxKeyBytes = 1024

/** Why `text` is not a key, or `undefined` when it is one. */
const problemOf = (text: string): string | undefined => {
  if (text === "") return "it is empty"
  if (text.includes("\0")) return "it contains a NUL byte"
  if (text.startsWith("/")) return "it is absolute; a key is a path relative to the secrets folder"
  if (Buffer.byteLength(text) > maxKeyBytes) return `it is longer than ${maxKeyBytes} bytes`
  for (const segment of text.split("/")) {
    if (segment === "") return "it has an empty segment (`//` or a trailing `/`)"
    if (segment === "." || segment === "..")
      return `it has a "${segment}" segment; a key stays under the secrets folder`
    if (Buffer.byteLength(segment) > maxSegmentBytes) return `a segment is longer than ${maxSegmentBytes} bytes`
  }
  return undefined
}

/**
 * Checks a key. `secret` and `field` (`label key` or `SecretName`) only word the error.
 *
 * @since 0.1.0
 */
export const parse = (secret: string, field: string, text: string): Result.Result<Key, InvalidSecretKey> => {
  const reason = problemOf(text)
  return reason === undefined
    ? Result.succeed({ text, segments: text.split("/") })
    : Result.fail(new InvalidSecretKey({ secret, field, value: text, reason }))
}
