/**
 * An audit output that appends to a file (`dpk serve authz-policy --audit-file PATH`), for operators who keep the
 * decisions apart from the plugin's other output, ship them with a log agent, and rotate them.
 *
 * The plugin runs as root, so the file is opened as a careful root program opens one in a folder others may write:
 * never through a symbolic link (`O_NOFOLLOW`), never a FIFO or a device (opened without blocking, then checked),
 * never a file with a second hard link (one planted there would have audit lines appended to whatever it links), and
 * created readable by its owner only. A file that cannot be opened so at start stops the start.
 *
 * SIGHUP reopens the path, as `logrotate`'s `postrotate` expects: lines queued before go to the file opened before,
 * later ones to the new file. A reopen that fails keeps the old file and says why on standard error. After a write
 * fails (a full disk), lines are dropped and counted (`AuditLog`) and the path is opened again, at most once a second,
 * until a write succeeds.
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

const flags =
  Fs.constants.O_WRONLY |
  Fs.constants.O_APPEND |
  Fs.constants.O_CREAT |
  Fs.constants.O_NOFOLLOW |
  Fs.constants.O_NONBLOCK

/** Opens `path` for appending, or throws an Error saying why it is not a file to append audit lines to. */
const openFile = (path: string): Fs.WriteStream => {
  let fd: number
  try {
    fd = Fs.openSync(path, flags, 0o600)
  } catch (e) {
    const error = e as NodeJS.ErrnoException
    // O_NOFOLLOW's refusal of a link reads ELOOP: name the cause.
    throw new Error(error.code === "ELOOP" ? "a symlink, not a regular file" : error.message)
  }
  const stats = Fs.fstatSync(fd)
  const refusal = !stats.isFile()
    ? `${FileKind.of(stats)}, not a regular file`
    : stats.nlink > 1
      ? `a file with ${stats.nlink} hard links: another name shares it`
      : undefined
  if (refusal !== undefined) {
    Fs.closeSync(fd)
    throw new Error(refusal)
  }
  const stream = Fs.createWriteStream(path, { fd, autoClose: true })
  // A failed write destroys the stream; `write` below sees it and its callback gets the error.
  stream.on("error", () => {})
  return stream
}

/** How long after a failed write the path may be opened again. */
const retryMillis = 1000

/**
 * The `AuditLog.Write` appending to `path`, reopened on SIGHUP; the file is closed, after its queued lines are
 * written, when the scope closes. `warn` hears about reopens that fail.
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
        let failedAt = 0
        const reopen = (why: string) => {
          try {
            const previous = current
            current = openFile(path)
            previous.end()
          } catch (e) {
            warn(
              `${new Date().toISOString()} authz-policy: cannot reopen the audit file ${path} (${why}): ${(e as Error).message}; lines go to the file opened before\n`
            )
          }
        }
        const onHangup = () => reopen("SIGHUP")
        process.on("SIGHUP", onHangup)
        const write: AuditLog.Write = (text, done) => {
          if (current.destroyed && Date.now() - failedAt >= retryMillis) {
            failedAt = Date.now()
            reopen("after a failed write")
          }
          if (current.destroyed || current.writableLength > AuditLog.maxPending) return false
          current.write(text, (error) => {
            if (error) failedAt = Date.now()
            done(error)
          })
          return true
        }
        // A file system that stops answering (a dead NFS server) holds the shutdown 5 seconds at most.
        const close = () =>
          Effect.callback<void>((resume) => {
            process.off("SIGHUP", onHangup)
            const last = current
            if (last.closed) return resume(Effect.void)
            last.once("close", () => resume(Effect.void))
            last.end()
          }).pipe(Effect.timeout("5 seconds"), Effect.ignore)
        return { write, close }
      },
      catch: (e) => new AuditFileUnusable({ path, reason: (e as Error).message })
    }),
    (file) => file.close()
  ).pipe(Effect.map((file) => file.write))
