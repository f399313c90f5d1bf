/**
 * PAX extended-header records (`LENGTH key=value\n`) with values as bytes. A value is whatever bytes the writer put
 * there: Go's archive/tar (the daemon's) writes extended attributes such as `security.capability` as raw binary,
 * which a decoder reading the record as UTF-8 text corrupts. Keys are UTF-8 text.
 */

const space = 0x20
const equals = 0x3d
const newline = 0x0a
const decoder = new TextDecoder()

/**
 * One record; its length counts its own digits.
 */
export const encode = (key: string, value: Uint8Array | string): Buffer => {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from("\n")])
  let length = body.length + String(body.length).length
  if (String(length).length > String(body.length).length) length++
  return Buffer.concat([Buffer.from(String(length)), body])
}

// Go reads the length with `strconv.ParseInt(s, 10, 0)`: a sign is allowed, nothing else but digits.
const lengthSyntax = /^[+-]?\d+$/
// Values Go refuses to hold a NUL (C strings on the filesystem); in other records only the key must not.
const textKeys = new Set(["path", "linkpath", "uname", "gname"])

/**
 * The records of a PAX header's data, in order, later records of a key winning; or, as Go's archive/tar (the
 * daemon's) refuses the whole header for one record that is not well formed, why it is refused (a string).
 */
export const decode = (data: Uint8Array): Map<string, Uint8Array> | string => {
  const records = new Map<string, Uint8Array>()
  for (let at = 0; at < data.length; ) {
    const bad = (why: string) => `its record at byte ${at} ${why}`
    const gap = data.indexOf(space, at)
    const digits = decoder.decode(data.subarray(at, gap < 0 ? data.length : gap))
    if (gap < 0 || !lengthSyntax.test(digits)) return bad("does not start with its length")
    const length = Number(digits)
    const end = at + length
    if (!Number.isSafeInteger(length) || length < 5 || gap >= end - 1 || end > data.length) {
      return bad(`gives a length (${digits}) that does not fit the header`)
    }
    if (data[end - 1] !== newline) return bad("does not end with a newline")
    // Without the newline that closes the record.
    const record = data.subarray(gap + 1, end - 1)
    const eq = record.indexOf(equals)
    if (eq <= 0) return bad("has no key")
    const key = record.subarray(0, eq)
    const value = record.subarray(eq + 1)
    const name = decoder.decode(key)
    if (key.includes(0) || (textKeys.has(name) && value.includes(0))) return bad("holds a NUL byte")
    records.set(name, Uint8Array.from(value))
    at = end
  }
  return records
}
