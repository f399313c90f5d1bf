/**
 * What a file-system entry is, in the words a driver's messages use ("a FIFO", "a folder"): one wording for every
 * driver that refuses an entry of the wrong kind.
 *
 * @since 0.1.0
 */
import type * as Fs from "node:fs"

/**
 * The kind of the entry `stats` describes (from `lstat`, so a symlink is named as one).
 *
 * @since 0.1.0
 */
export const of = (stats: Fs.Stats): string =>
  stats.isFile()
    ? "a regular file"
    : stats.isDirectory()
      ? "a folder"
      : stats.isSymbolicLink()
        ? "a symlink"
        : stats.isFIFO()
          ? "a FIFO"
          : stats.isCharacterDevice()
            ? "a character device"
            : stats.isBlockDevice()
              ? "a block device"
              : stats.isSocket()
                ? "a socket"
                : "an unknown kind of entry"
