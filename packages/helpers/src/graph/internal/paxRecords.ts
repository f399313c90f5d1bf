/**
 * PAX extended-header records (`LENGTH key=value\n`) with values as bytes. A value is whatever bytes the writer put
 * there: Go's archive/tar (the daemon's) writes extended attributes such as `security.capability` as raw binary,
 * which a decoder reading the record as UTF-8 text corrupts. Keys are UTF-8 text.
 */

const space = 0x20
const equals = 0x3d
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

/**
 * The records of a PAX header's data, in order; later records of a key win. Stops at the first record that is not
 * well formed (as tar-stream does), keeping those before it.
 */
export const decode = (data: Uint8Array): Map<string, Uint8Array> => {
  const records = new Map<string, Uint8Array>()
  for (let at = 0; at < data.length; ) {
    const gap = data.indexOf(space, at)
    if (gap < 0) break
    const length = Number(decoder.decode(data.subarray(at, gap)))
    const end = at + length
    if (!Number.isSafeInteger(length) || gap >= end || end > data.length) break
    // Without the newline that closes the record.
    const record = data.subarray(gap + 1, end - 1)
    const eq = record.indexOf(equals)
    if (eq < 0) break
    records.set(decoder.decode(record.subarray(0, eq)), Uint8Array.from(record.subarray(eq + 1)))
    at = end
  }
  return records
}
