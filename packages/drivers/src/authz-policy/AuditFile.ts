/**
 * An audit output that appends to a file (`dpk serve authz-policy --audit-file PATH`), for operators who keep the
 * decisions apart from the plugin's other output, ship them with a log agent, and rotate them.
 *
 * The plugin runs as root, so the file is opened as a careful root program opens one in a folder others may write:
 * the file itself is never a symbolic link (`O_NOFOLLOW`; the folders above it are the operator's choice, and may be
 * links, as `/var/run` is), never a FIFO or a device (opened without blocking, then checked), never a file with a
 * second hard link (one planted there would have audit lines appended to whatever it links), and is created readable
 * by its owner only. A file that cannot be opened so at start stops the start. Opening happens on the event loop, at
 * start and at SIGHUP only.
 *
 * Texts are written one after the other, in the order they were given, to the file open at the time: SIGHUP opens
 * the path again, as `logrotate`'s `postrotate` expects, and the texts not yet written go to the new file (a reopen
 * that fails keeps the file open before, and says so on standard error). A write that fails (a full disk) fails
 * that text alone (`AuditLog` counts it as dropped); the file stays open and the next text is tried. A record cut
 * short, by a failed write or by a crash before this start, is ended before the next one, so each line stays one
 * record.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as FileKind from "../shared/FileKind.ts"
import * as AuditLog from "./AuditLog.ts"

/**
 * The audit file could not be opened as one.
 *
 * @since 0.1.0
 */
export class AuditFileUnusable extends Schema.TaggedError<AuditFileUnusable>()("AuditFileUnusable", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot write the audit to ${this.path}: ${this.reason}`
  }
}

// Read and write: the last byte is read before the first write (a record cut short); O_APPEND puts every write at
// the end.
const flags =
  Fs.constants.O_RDWR | Fs.constants.O_APPEND | Fs.constants.O_CREAT | Fs.constants.O_NOFOLLOW | Fs.constants.O_NONBLOCK

/** An open audit file: its descriptor, and whether what was last written to it ends a line. */
interface OpenFile {
  readonly fd: number
  /**
   * Whether the file ends a line; unknown until just before the first write to this descriptor, when no write is in
   * flight: a reopen of the same file during a write that then fails part-way must see the record it cut short.
   */
  lineEnded: boolean | undefined
}

/** Whether the file open as `fd` is empty or ends with a newline (its last byte read; O_APPEND writes at the end). */
const endsLine = (fd: number): boolean => {
  try {
    const size = Fs.fstatSync(fd).size
    const last = Buffer.alloc(1)
    return size === 0 || (Fs.readSync(fd, last, 0, 1, size - 1) === 1 && last[0] === 0x0a)
  } catch {
    // Unreadable: a newline too many is an empty line, one too few glues two records.
    return false
  }
}

/** Opens `path` for appending, or throws an Error saying why it is not a file to append audit lines to. */
const openFile = (path: string): OpenFile => {
  let fd: number
  try {
    fd = Fs.openSync(path, flags, 0o600)
  } catch (e) {
    const error = e as NodeJS.ErrnoException
    // O_NOFOLLOW's refusal of a link reads ELOOP: name the cause.
    throw new Error(error.code === "ELOOP" ? "a symlink, not a regular file" : error.message)
  }
  try {
    const stats = Fs.fstatSync(fd)
    if (!stats.isFile()) throw new Error(`${FileKind.of(stats)}, not a regular file`)
    if (stats.nlink > 1) throw new Error(`a file with ${stats.nlink} hard links: another name shares it`)
    // Checked before the first write: a last record cut short (a crash mid-write) is then ended first.
    return { fd, lineEnded: undefined }
  } catch (e) {
    Fs.closeSync(fd)
    throw e
  }
}

interface Pending {
  readonly text: string
  readonly done: (error?: Error | null) => void
}

/**
 * The `AuditLog.Write` appending to `path`, reopened on SIGHUP; when the scope closes, the texts given are written
 * and the file closed (5 seconds at most: a file system that stopped answering does not hold the shutdown). `warn`
 * hears about reopens that fail.
 *
 * @since 0.1.0
 */
export const open = (
  path: string,
  warn: (line: string) => void = AuditLog.stderr
): Effect.Effect<AuditLog.Write, AuditFileUnusable, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        let current = openFile(path)
        const queue: Array<Pending> = []
        let queuedBytes = 0
        let writing = false
        let onIdle: (() => void) | undefined
        // Files replaced by a reopen, closed once no write to them is in flight.
        const retired: Array<OpenFile> = []

        const closeRetired = () => {
          for (const file of retired.splice(0)) Fs.close(file.fd, () => {})
        }
        const next = () => {
          const item = queue.shift()
          if (item === undefined) {
            writing = false
            closeRetired()
            onIdle?.()
            return
          }
          writing = true
          queuedBytes -= item.text.length
          const file = current
          file.lineEnded ??= endsLine(file.fd)
          const bytes = Buffer.from(file.lineEnded ? item.text : `\n${item.text}`, "utf8")
          const writeFrom = (offset: number) =>
            Fs.write(file.fd, bytes, offset, bytes.length - offset, null, (error, written) => {
              if (error) {
                // Part of it may be in the file: the next text starts a line of its own.
                if (offset > 0) file.lineEnded = false
                item.done(error)
                return next()
              }
              const end = offset + written
              if (end < bytes.length) return writeFrom(end)
              file.lineEnded = bytes[bytes.length - 1] === 0x0a
              item.done(null)
              next()
            })
          writeFrom(0)
        }
        const reopen = () => {
          try {
            const previous = current
            current = openFile(path)
            retired.push(previous)
            if (!writing) closeRetired()
          } catch (e) {
            warn(
              AuditLog.warning(
                `authz-policy: cannot reopen the audit file ${path} (SIGHUP): ${(e as Error).message}; lines go to the file opened before`
              )
            )
          }
        }
        process.on("SIGHUP", reopen)
        // Once closed, the descriptor's number may name another file this process opens: nothing is written to it.
        let closed = false
        const write: AuditLog.Write = (text, done) => {
          if (closed || queuedBytes > AuditLog.maxPending) return false
          queue.push({ text, done })
          queuedBytes += text.length
          if (!writing) next()
          return true
        }
        const close = Effect.callback<void>((resume) => {
          process.off("SIGHUP", reopen)
          const finish = () => {
            onIdle = undefined
            closed = true
            Fs.close(current.fd, () => resume(Effect.void))
          }
          if (writing) onIdle = finish
          else finish()
        }).pipe(Effect.timeout("5 seconds"), Effect.ignore)
        return { write, close }
      },
      catch: (e) => new AuditFileUnusable({ path, reason: (e as Error).message })
    }),
    (file) => file.close
  ).pipe(Effect.map((file) => file.write))
