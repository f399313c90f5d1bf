/**
 * A small ustar writer for the layers the stress scenarios apply: folders and regular files with short names, which
 * is all a check of ApplyDiff needs (the toolkit's own writer is what is under test, so it is not used here).
 */

/** One entry: a folder (name ending in `/`) or a file with its content. */
export interface Entry {
  readonly name: string
  readonly content?: string
}

const field = (header: Buffer, offset: number, length: number, value: string) => {
  header.write(value, offset, length, "utf8")
}

const octal = (value: number, length: number) => `${value.toString(8).padStart(length - 1, "0")}\0`

const headerOf = (name: string, size: number, folder: boolean): Buffer => {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name over 100 bytes: ${name}`)
  const header = Buffer.alloc(512)
  field(header, 0, 100, name)
  field(header, 100, 8, octal(folder ? 0o755 : 0o644, 8))
  field(header, 108, 8, octal(0, 8))
  field(header, 116, 8, octal(0, 8))
  field(header, 124, 12, octal(size, 12))
  field(header, 136, 12, octal(1_700_000_000, 12))
  field(header, 148, 8, "        ")
  field(header, 156, 1, folder ? "5" : "0")
  field(header, 257, 8, "ustar\u000000")
  let sum = 0
  for (const byte of header) sum += byte
  field(header, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `)
  return header
}

/** The tar of `entries`, with the two zero blocks that end it. */
export const tar = (entries: ReadonlyArray<Entry>): Buffer =>
  Buffer.concat([
    ...entries.flatMap(({ name, content }) => {
      const body = Buffer.from(content ?? "")
      const padding = Buffer.alloc((512 - (body.length % 512)) % 512)
      return [headerOf(name, body.length, name.endsWith("/")), body, padding]
    }),
    Buffer.alloc(1024)
  ])
