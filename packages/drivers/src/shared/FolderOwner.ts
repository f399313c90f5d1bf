/**
 * One owner process per state folder: `DIR/owner.pid` names the process that has the folder, and a second process
 * (or a second driver in the same process) on it is refused. Two drivers on one folder would each keep their own
 * copy of the state in memory and overwrite each other's files, and both manage the same host objects.
 *
 * The file holds `PID BOOTID STARTTIME`: the kernel's boot id (`/proc/sys/kernel/random/boot_id`) and the process'
 * start time (field 22 of `/proc/PID/stat`). A pid alone is not enough: after a reboot (or long enough) the pid of
 * a dead owner names some unrelated live process, and the folder would be refused for ever. The owner is live only
 * when the boot id is this boot's, the pid is alive and its start time is the one recorded. Without /proc (not
 * Linux) only the pid is written and checked; a file holding just a pid (written before the boot id was recorded)
 * is still read, with the pid check alone.
 *
 * The rules (reading and writing a record, deciding whether its owner is live from facts about the host) are pure
 * functions; `hostFacts` reads the facts from /proc and `claim` does the file work. A zombie (an owner that has
 * exited, not yet reaped by its parent) is not live. Whoever can write in the folder can plant something else than
 * a file as `owner.pid`: a symlink, a FIFO, a folder is refused (not followed, not waited on, not removed), and only
 * the first `maxRecordBytes` of a file are read.
 *
 * Limits. Pids are judged in this process' pid namespace: a process in another one (a managed plugin has its own,
 * where it is often pid 1 at every start) is not seen, so its record reads as a dead pid or as this process' own and
 * is taken over; the claim protects a folder only among processes of one pid namespace. Taking over a dead owner's
 * file reads it again just before removing it, but two processes taking over the same file at the same instant can
 * still, in the window of a few system calls, both end up claiming the folder.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as FileKind from "./FileKind.ts"

/**
 * The owner file's name in a claimed folder.
 *
 * @since 0.1.0
 */
export const fileName = "owner.pid"

/**
 * The owner file of a folder.
 *
 * @since 0.1.0
 */
export const fileOf = (dir: string): string => Path.join(dir, fileName)

/**
 * What an owner file says: the pid, and (where /proc exists) the boot and the start time that make it one process.
 *
 * @since 0.1.0
 */
export interface OwnerRecord {
  readonly pid: number
  /** `/proc/sys/kernel/random/boot_id` when the file was written; absent in the old pid-only format. */
  readonly bootId?: string | undefined
  /** Field 22 of `/proc/PID/stat` (clock ticks since boot), as text; absent in the old pid-only format. */
  readonly startTime?: string | undefined
}

/**
 * The text of an owner file: `PID BOOTID STARTTIME`, or `PID` alone when the boot or the start time is unknown.
 *
 * @since 0.1.0
 */
export const format = (record: OwnerRecord): string =>
  record.bootId === undefined || record.startTime === undefined
    ? `${record.pid}\n`
    : `${record.pid} ${record.bootId} ${record.startTime}\n`

/**
 * The most bytes of an owner file read: a record is a few dozen; a longer file names no process.
 *
 * @since 0.1.0
 */
export const maxRecordBytes = 4096

/**
 * Reads an owner file; `undefined` for anything that names no single process. A file emptied by a crash (written
 * without fsync, then the power went) reads as no owner: `0` would be this process group for `kill`, `-1` every
 * process, so only a positive pid counts. So does a text longer than `maxRecordBytes` (of which only the start is
 * read).
 *
 * @since 0.1.0
 */
export const parse = (text: string): OwnerRecord | undefined => {
  if (Buffer.byteLength(text) > maxRecordBytes) return undefined
  const fields = text.trim().split(/\s+/)
  const [pidText, bootId, startTime] = fields
  if (pidText === undefined || !/^[0-9]+$/.test(pidText)) return undefined
  const pid = Number(pidText)
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined
  if (fields.length === 1) return { pid }
  // Anything else than the two formats this module writes is not trusted to name a process.
  if (fields.length !== 3 || bootId === undefined || startTime === undefined || !/^[0-9]+$/.test(startTime)) {
    return undefined
  }
  return { pid, bootId, startTime }
}

/**
 * The fields of the text of `/proc/PID/stat` from field 3 on. The second field is the command name in parentheses,
 * which may itself hold spaces and parentheses: the fields are counted from after the last `)`.
 */
const fieldsAfterName = (stat: string): ReadonlyArray<string> | undefined => {
  const end = stat.lastIndexOf(")")
  return end < 0
    ? undefined
    : stat
        .slice(end + 1)
        .trim()
        .split(/\s+/)
}

/**
 * The start time (field 22) in the text of `/proc/PID/stat`.
 *
 * @since 0.1.0
 */
export const parseStartTime = (stat: string): string | undefined => {
  const value = fieldsAfterName(stat)?.[22 - 3]
  return value !== undefined && /^[0-9]+$/.test(value) ? value : undefined
}

/** The state (field 3 of `/proc/PID/stat`: `R`, `S`, `Z`...). */
const parseState = (stat: string): string | undefined => fieldsAfterName(stat)?.[0]

/**
 * What the host tells about processes, to judge an owner record.
 *
 * @since 0.1.0
 */
export interface Facts {
  /** This boot's id; `undefined` where there is no /proc (the pid is then all there is to go on). */
  readonly bootId: string | undefined
  /**
   * Whether a process of that pid is running (one of another user's counts; a zombie, exited but not yet reaped by
   * its parent, does not: it holds nothing any more).
   */
  readonly isAlive: (pid: number) => boolean
  /** A live process' start time; `undefined` when it cannot be read. */
  readonly startTimeOf: (pid: number) => string | undefined
}

/**
 * The live process, other than `self`, that a record names; `undefined` when the folder is free to take: no record,
 * this process' own pid (an earlier life of it, in a pid namespace), a dead pid, a previous boot's record, or a pid
 * reused by a process started at another time.
 *
 * @since 0.1.0
 */
export const liveOwner = (record: OwnerRecord | undefined, self: number, facts: Facts): number | undefined => {
  if (record === undefined || record.pid === self || !facts.isAlive(record.pid)) return undefined
  // The old pid-only format, or no /proc here: the live pid is all there is, and it may be the owner.
  if (record.bootId === undefined || record.startTime === undefined || facts.bootId === undefined) return record.pid
  // Written before a reboot: every process of that boot is gone, whatever holds the pid now.
  if (record.bootId !== facts.bootId) return undefined
  const startTime = facts.startTimeOf(record.pid)
  // A start time that cannot be read (another user's process behind `hidepid`) could be the owner's: refusing is
  // the safe side, since taking over a live owner's folder is what the claim is there to prevent.
  if (startTime === undefined) return record.pid
  return startTime === record.startTime ? record.pid : undefined
}

/**
 * The record of process `pid`, as complete as the facts allow.
 *
 * @since 0.1.0
 */
export const recordOf = (pid: number, facts: Facts): OwnerRecord => {
  const startTime = facts.bootId === undefined ? undefined : facts.startTimeOf(pid)
  return startTime === undefined ? { pid } : { pid, bootId: facts.bootId, startTime }
}

const readText = (path: string): string | undefined => {
  try {
    return Fs.readFileSync(path, "utf8")
  } catch {
    return undefined
  }
}

/**
 * The facts of this host, read from /proc now (`bootId` once per call; the rest when asked).
 *
 * @since 0.1.0
 */
export const hostFacts = (): Facts => ({
  bootId: readText("/proc/sys/kernel/random/boot_id")?.trim() || undefined,
  isAlive: (pid) => {
    try {
      process.kill(pid, 0)
    } catch (e) {
      // EPERM: it exists, as another user's.
      if ((e as NodeJS.ErrnoException).code !== "EPERM") return false
    }
    // `kill` finds a zombie too: an owner that has exited, whose parent has not waited for it yet.
    const stat = readText(`/proc/${pid}/stat`)
    const state = stat === undefined ? undefined : parseState(stat)
    return state !== "Z" && state !== "X"
  },
  startTimeOf: (pid) => {
    const stat = readText(`/proc/${pid}/stat`)
    return stat === undefined ? undefined : parseStartTime(stat)
  }
})

/**
 * The folder is claimed by another live process, or already by this process (a second driver on it).
 *
 * @since 0.1.0
 */
export class FolderInUse extends Schema.TaggedError<FolderInUse>()("FolderInUse", {
  folder: Schema.String,
  owner: Schema.Number,
  inThisProcess: Schema.Boolean
}) {
  override get message() {
    return this.inThisProcess
      ? `${this.folder} is already claimed in this process (process ${this.owner})`
      : `${this.folder} is in use by process ${this.owner}`
  }
}

/**
 * A file operation of the claim failed; the message names the operation and the path.
 *
 * @since 0.1.0
 */
export class FolderOwnerError extends Schema.TaggedError<FolderOwnerError>()("FolderOwnerError", {
  operation: Schema.String,
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.operation} ${this.path}: ${this.reason}`
  }
}

/**
 * A claim held by this process, to release.
 *
 * @since 0.1.0
 */
export interface Claim {
  /** The folder as given. */
  readonly dir: string
  /** Its real path: the key of the claims of this process. */
  readonly real: string
  readonly file: string
  /** What this process wrote: the file is removed at release only if it still holds exactly this. */
  readonly text: string
}

/**
 * The folders this process has claimed, by real path. The owner file tells processes apart only: a second driver on
 * the same folder in this process (reached through a symlink, say) finds its own pid there.
 */
const claimedHere = new Set<string>()

const errnoOf = (e: unknown) => (e as NodeJS.ErrnoException).code

/** Runs a file operation, failing with the operation and the path. */
const fileOp = <A>(operation: string, path: string, f: () => A): A => {
  try {
    return f()
  } catch (e) {
    throw new FolderOwnerError({ operation, path, reason: (e as Error).message })
  }
}

/**
 * Creates `file` holding `text` only if there is no file of that name; `false` when there is one.
 *
 * Why a hard link of a complete temporary file rather than a write then a rename: a rename replaces whatever is
 * there, so two processes starting together on a free folder would both write, both rename, and both believe they
 * own it. `link(2)` creates the name only if it is free (as `O_EXCL` does), and the file appears with its whole
 * content, so a process starting at that moment never reads an empty file and takes it for a crash's leftover (which
 * an `O_EXCL` create followed by a write would show it). No fsync: after a power loss the record, whatever is left of
 * it, is of a previous boot and is taken over anyway. On file systems without hard links, `O_EXCL` is the fallback.
 */
const createExclusive = (file: string, text: string): boolean => {
  const tmp = `${file}.${process.pid}.${Crypto.randomBytes(4).toString("hex")}.tmp`
  try {
    // Inside the `try`: a write that fails once the file is made (a full disk) leaves it to the `finally` too.
    fileOp("write", tmp, () => Fs.writeFileSync(tmp, text, { flag: "wx", mode: 0o644 }))
    try {
      Fs.linkSync(tmp, file)
      return true
    } catch (e) {
      const code = errnoOf(e)
      if (code === "EEXIST") return false
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") {
        throw new FolderOwnerError({ operation: "link", path: file, reason: (e as Error).message })
      }
    }
    try {
      Fs.writeFileSync(file, text, { flag: "wx", mode: 0o644 })
      return true
    } catch (e) {
      if (errnoOf(e) === "EEXIST") return false
      throw new FolderOwnerError({ operation: "write", path: file, reason: (e as Error).message })
    }
  } finally {
    Fs.rmSync(tmp, { force: true })
  }
}

/** Attempts at taking a stale file over before giving up (each lost only to another process changing the file). */
const attempts = 5

/** Something other than a regular file where the owner file of `dir` should be. */
const notAFile = (file: string, dir: string, kind: string) =>
  new FolderOwnerError({
    operation: "read",
    path: file,
    reason: `it is ${kind}, not a regular file; remove it if no plugin is running on ${dir}`
  })

/**
 * The owner file's text (its first `maxRecordBytes` and one); `undefined` when there is none. Whoever can write in
 * the folder can plant something else there, so it is opened without following a symlink (which could name any
 * file, `/dev/zero` included) and without waiting (a FIFO would hold the process for good), and only a regular file
 * is read. Anything else, or an unreadable file, is an error naming it, not a free folder.
 */
const readOwnerFile = (file: string, dir: string): string | undefined => {
  let fd: number
  try {
    fd = Fs.openSync(file, Fs.constants.O_RDONLY | Fs.constants.O_NOFOLLOW | Fs.constants.O_NONBLOCK)
  } catch (e) {
    if (errnoOf(e) === "ENOENT") return undefined
    if (errnoOf(e) === "ELOOP") throw notAFile(file, dir, "a symlink")
    throw new FolderOwnerError({ operation: "read", path: file, reason: (e as Error).message })
  }
  try {
    const stats = fileOp("read", file, () => Fs.fstatSync(fd))
    if (!stats.isFile()) throw notAFile(file, dir, FileKind.of(stats))
    const buffer = Buffer.alloc(maxRecordBytes + 1)
    const length = fileOp("read", file, () => Fs.readSync(fd, buffer, 0, buffer.length, 0))
    return buffer.toString("utf8", 0, length)
  } finally {
    Fs.closeSync(fd)
  }
}

const claimSync = (dir: string, facts: Facts): Claim => {
  fileOp("mkdir", dir, () => Fs.mkdirSync(dir, { recursive: true }))
  const real = fileOp("realpath", dir, () => Fs.realpathSync(dir))
  if (claimedHere.has(real)) throw new FolderInUse({ folder: dir, owner: process.pid, inThisProcess: true })
  const file = fileOf(real)
  const text = format(recordOf(process.pid, facts))
  for (let i = 0; i < attempts; i++) {
    if (createExclusive(file, text)) {
      claimedHere.add(real)
      return { dir, real, file, text }
    }
    const found = readOwnerFile(file, dir)
    // Removed between the two steps (its owner released it): try again.
    if (found === undefined) continue
    const owner = liveOwner(parse(found), process.pid, facts)
    if (owner !== undefined) throw new FolderInUse({ folder: dir, owner, inThisProcess: false })
    // A dead owner's file (a crash, `kill -9`, a reboot): removed, unless another process starting now has just
    // replaced it with its own record, which is then judged at the next turn.
    if (readOwnerFile(file, dir) === found) fileOp("remove", file, () => Fs.rmSync(file, { force: true }))
  }
  throw new FolderOwnerError({
    operation: "claim",
    path: file,
    reason: "the owner file kept changing (other processes are starting on this folder); try again"
  })
}

/**
 * Claims `dir` (made if missing) for this process: refused when another live process owns it, or when this process
 * has claimed it already (by its real path); a dead owner's file, or one from a previous boot, is taken over.
 * Release it with `release`, or use `claimScoped`.
 *
 * @since 0.1.0
 */
export const claim = (dir: string, facts?: Facts): Effect.Effect<Claim, FolderInUse | FolderOwnerError> =>
  Effect.try({
    try: () => claimSync(Path.resolve(dir), facts ?? hostFacts()),
    catch: (e) =>
      e instanceof FolderInUse || e instanceof FolderOwnerError
        ? e
        : new FolderOwnerError({ operation: "claim", path: dir, reason: String(e) })
  })

/**
 * Gives a claim up: the owner file is removed only if it still holds this process' record (another process may
 * have taken a folder over that was removed and made again meanwhile).
 *
 * @since 0.1.0
 */
export const release = (claim: Claim): Effect.Effect<void> =>
  Effect.sync(() => {
    claimedHere.delete(claim.real)
    try {
      if (readOwnerFile(claim.file, claim.dir) === claim.text) Fs.rmSync(claim.file, { force: true })
    } catch {
      // Already gone (the folder removed, say), or something planted there that is not this claim's file: left.
    }
  })

/**
 * `claim` for the life of the scope: released when the scope closes, a failed start included.
 *
 * @since 0.1.0
 */
export const claimScoped = (
  dir: string,
  facts?: Facts
): Effect.Effect<Claim, FolderInUse | FolderOwnerError, Scope.Scope> =>
  Effect.acquireRelease(claim(dir, facts), release)
