/**
 * File names as Linux has them: bytes, most often UTF-8 but not always (a name made by a program in another
 * encoding, `touch $'caf\xe9'`). Layers must carry every name byte for byte, so the layer helpers keep names in
 * strings where each byte that is not part of valid UTF-8 is a lone surrogate, U+DC80 to U+DCFF (the scheme of
 * Python's `surrogateescape`), and hand the file system the original bytes (`fsPath`). A valid UTF-8 name is its
 * ordinary string: the escapes appear only where text could not.
 *
 * @since 0.1.0
 */
import * as Fs from "node:fs"

const strict = new TextDecoder("utf-8", { fatal: true })
const utf8 = new TextEncoder()

// String.prototype.isWellFormed (ES2024, in Node since 20), which this project's ES2023 library does not declare.
const wellFormed = (String.prototype as unknown as { readonly isWellFormed: (this: string) => boolean }).isWellFormed

/** Bytes of the UTF-8 sequence starting with `lead`, 0 when `lead` cannot start one. */
const sequenceLength = (lead: number) =>
  lead < 0x80 ? 1 : lead < 0xc2 ? 0 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : lead < 0xf5 ? 4 : 0

/** The code point of the well-formed sequence of `length` bytes at `at`, or -1 (overlong, surrogate, too large). */
const codePointAt = (bytes: Uint8Array, at: number, length: number): number => {
  if (at + length > bytes.length) return -1
  let cp = bytes[at]! & (0xff >> (length + 1))
  for (let i = 1; i < length; i++) {
    const b = bytes[at + i]!
    if ((b & 0xc0) !== 0x80) return -1
    cp = (cp << 6) | (b & 0x3f)
  }
  const min = length === 3 ? 0x800 : length === 4 ? 0x10000 : 0
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1
  return cp
}

/**
 * The name held in `bytes`: its UTF-8 text, each byte outside a valid sequence as U+DC80 + (byte - 0x80).
 *
 * @since 0.1.0
 */
export const decode = (bytes: Uint8Array): string => {
  try {
    return strict.decode(bytes)
  } catch {
    let out = ""
    for (let at = 0; at < bytes.length; ) {
      const length = sequenceLength(bytes[at]!)
      const cp = length === 0 ? -1 : length === 1 ? bytes[at]! : codePointAt(bytes, at, length)
      if (cp < 0) {
        // Only bytes 0x80-0xFF can be undecodable: ASCII always decodes.
        out += String.fromCharCode(0xdc00 + bytes[at]!)
        at++
      } else {
        out += String.fromCodePoint(cp)
        at += length
      }
    }
    return out
  }
}

/**
 * Whether `name` is plain text (no escaped bytes): then its bytes are its UTF-8 encoding.
 *
 * @since 0.1.0
 */
export const isText = (name: string): boolean => wellFormed.call(name)

/**
 * The bytes of `name` (the inverse of `decode`).
 *
 * @since 0.1.0
 */
export const encode = (name: string): Uint8Array => {
  if (isText(name)) return utf8.encode(name)
  const parts: Array<number> = []
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i)
    const next = name.charCodeAt(i + 1)
    if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      for (const b of Buffer.from(name.slice(i, i + 2), "utf8")) parts.push(b)
      i++
    } else if (unit >= 0xdc80 && unit <= 0xdcff) parts.push(unit - 0xdc00)
    else for (const b of Buffer.from(name[i]!, "utf8")) parts.push(b)
  }
  return Uint8Array.from(parts)
}

/**
 * Bytes of `name` once encoded.
 *
 * @since 0.1.0
 */
export const byteLength = (name: string): number => (isText(name) ? Buffer.byteLength(name) : encode(name).length)

/**
 * `path` as Node's file calls take it: the string itself when it is plain text, its bytes otherwise (a string with
 * escapes would reach the kernel as U+FFFD).
 *
 * @since 0.1.0
 */
export const fsPath = (path: string): string | Buffer => (isText(path) ? path : Buffer.from(encode(path)))

/**
 * The names in folder `path`, each as `decode` gives it.
 *
 * @since 0.1.0
 */
export const readdir = (path: string): Array<string> =>
  Fs.readdirSync(fsPath(path), { encoding: "buffer" }).map((name) => decode(name))

/**
 * The target of symlink `path`, as `decode` gives it.
 *
 * @since 0.1.0
 */
export const readlink = (path: string): string => decode(Fs.readlinkSync(fsPath(path), { encoding: "buffer" }))
