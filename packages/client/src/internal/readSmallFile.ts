/**
 * Reading a small file named by something on disk (a spec file, the TLS files a `.json` spec names) without trusting
 * it: a FIFO would block `readFileSync` (and with it every signal handler) forever, a device or a huge file would be
 * read into memory whole.
 */
import * as Fs from "node:fs"

/** Larger than any spec file or PEM bundle (the system CA bundle is about 200 KiB). */
export const maxBytes = 4 * 1024 * 1024

/**
 * The content of the regular file at `path` (symlinks followed). Throws an `Error` saying why for anything else:
 * not found, not a regular file, larger than `limit` bytes.
 */
export const readSmallFile = (path: string, limit: number = maxBytes): Buffer => {
  // O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
  const fd = Fs.openSync(path, Fs.constants.O_RDONLY | Fs.constants.O_NONBLOCK)
  try {
    const stat = Fs.fstatSync(fd)
    if (!stat.isFile()) throw new Error("not a regular file")
    if (stat.size > limit) throw new Error(`larger than ${limit} bytes (${stat.size})`)
    return Fs.readFileSync(fd)
  } finally {
    Fs.closeSync(fd)
  }
}
