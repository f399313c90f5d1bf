/**
 * `PolicySource` on the host: the policy is a file; it may have changed when the process gets SIGHUP or when the
 * file's folder reports a change for its name (unless `watch` is off). The folder is watched, not the file, so an
 * editor or a deployment tool that replaces the file by renaming a new one over it is noticed too; so is an edit of
 * a link's target in another folder, and a swap of a link in the path (a Kubernetes ConfigMap's `..data`).
 *
 * Reading is bounded: only a regular file of at most `maxBytes` is read (a FIFO, a device such as `/dev/zero`, or a
 * huge file would otherwise hang the load or fill the memory, and the load at start holds the plugin's start), and
 * a file changed less than `quiet` ago is read once it has been left alone that long, so a reload does not take a
 * file that is still being written (a valid prefix of a policy is a policy with fewer rules).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as BoundedRead from "../shared/BoundedRead.ts"
import * as FileKind from "../shared/FileKind.ts"
import { PolicySource, PolicyUnreadable, type Service } from "./PolicySource.ts"

/**
 * The largest policy file read, in bytes (1 MiB: the baseline is 1.5 KB, and parsing a megabyte of YAML already
 * holds the event loop, and with it every API call waiting for the plugin, for about a second).
 *
 * @since 0.1.0
 */
export const maxBytes = 1024 * 1024

/**
 * How long a file that keeps changing is waited for before the read gives up (the previous policy then stays).
 *
 * @since 0.1.0
 */
export const maxWait = Duration.seconds(5)

/**
 * Settings of the file source.
 *
 * @since 0.1.0
 */
export interface Options {
  /** A file changed more recently than this is read only once it has been left alone this long. Default 100 ms. */
  readonly quiet?: Duration.Input
  /**
   * Whether a change of the file is reported (default `true`). With `false` only SIGHUP is: for operators who write
   * the file first and decide when it applies, as they reload nginx or HAProxy.
   */
  readonly watch?: boolean
}

const signals = Stream.callback<string>((queue) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const onHangup = () => Queue.offerUnsafe(queue, "SIGHUP")
      // A listener also stops Node's default SIGHUP action (exit).
      process.on("SIGHUP", onHangup)
      return onHangup
    }),
    (onHangup) => Effect.sync(() => process.off("SIGHUP", onHangup))
  )
)

/** The identity of a `stat` (links followed): device, inode, size and times. Two equal ones are the same content. */
const identityOf = (s: Fs.BigIntStats): string => `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`

/** What the file is as its path resolves now, or the error that stops `stat`. */
const identityNow = (file: string): string => {
  try {
    return identityOf(Fs.statSync(file, { bigint: true }))
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? "unreadable"
  }
}

/**
 * What the watch needs to know of the path, read off the event loop (a network mount that stops answering holds a
 * thread of libuv's pool, not the plugin's answers): the file's identity, the file its path resolves to when links
 * lead into another folder, and the inodes of both folders (`undefined` where there is none).
 */
interface PathFacts {
  readonly identity: string
  readonly target: string | undefined
  readonly ownFolder: bigint | undefined
  readonly targetFolder: bigint | undefined
}

const inodeOf = (folder: string): Promise<bigint | undefined> =>
  Fs.promises.stat(folder, { bigint: true }).then(
    (s) => s.ino,
    () => undefined
  )

const factsOf = async (file: string): Promise<PathFacts> => {
  const [identity, real, ownFolder] = await Promise.all([
    Fs.promises.stat(file, { bigint: true }).then(identityOf, (e: NodeJS.ErrnoException) => e.code ?? "unreadable"),
    Fs.promises.realpath(file).catch(() => undefined),
    inodeOf(Path.dirname(file))
  ])
  const target = real !== undefined && Path.dirname(real) !== Path.dirname(file) ? real : undefined
  return {
    identity,
    target,
    ownFolder,
    targetFolder: target === undefined ? undefined : await inodeOf(Path.dirname(target))
  }
}

/** A watch of one folder for the entry `name`, and the folder it was made on (a path names another once replaced). */
interface FolderWatch {
  readonly folder: string
  readonly name: string
  readonly inode: bigint | undefined
  readonly watcher: Fs.FSWatcher | undefined
  /** Set once the watcher closed (its folder went away, or it was replaced). */
  readonly closed: { value: boolean }
}

const closeWatch = (watch: FolderWatch | undefined) => watch?.watcher?.close()

/**
 * The watch of `name` in `folder`, whose inode is now `inode`: `previous` while it still watches that folder, else a
 * new one (none when the folder cannot be watched: missing, or gone since). A folder that goes away ends its watch.
 */
const rewatch = (
  previous: FolderWatch | undefined,
  folder: string,
  name: string,
  inode: bigint | undefined,
  onEvent: (entry: string | null, name: string) => void
): FolderWatch => {
  if (previous !== undefined && previous.folder === folder && previous.name === name && previous.inode === inode) {
    if (!previous.closed.value || inode === undefined) return previous
  }
  closeWatch(previous)
  const closed = { value: true }
  if (inode === undefined) return { folder, name, inode, watcher: undefined, closed }
  try {
    const watcher = Fs.watch(folder, { persistent: false }, (_event, entry) => onEvent(entry, name))
    closed.value = false
    watcher.on("close", () => {
      closed.value = true
    })
    watcher.on("error", () => watcher.close())
    return { folder, name, inode, watcher, closed }
  } catch {
    return { folder, name, inode, watcher: undefined, closed }
  }
}

/**
 * How often the file is looked at besides the watches: the safety net for what a folder watch cannot see (a link
 * swapped in a folder above the file's, a watched folder replaced or created later, a network file system).
 *
 * @since 0.1.0
 */
export const pollInterval = Duration.seconds(1)

/**
 * Changes of the file, from watching its folder and, when the path is a link into another folder, that folder too
 * (an edit in place of the link's target). An event for the file's own name is a change. Any other event in either
 * folder is one when the file's identity moved: that is how a link swapped in the file's folder is seen, such as
 * the `..data` link a Kubernetes ConfigMap or Secret volume renames over on each update, which changes no entry
 * named like the file. Every `pollInterval` the identity is compared too, and the watches made again where the
 * folders they watched are no longer at their paths. One look at a time; what comes during one runs another after.
 */
const fileChanges = (file: string) =>
  Stream.callback<string>((queue) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        // Read now, so a change made while the watches are being set up is seen by the first look.
        let seen = identityNow(file)
        let own: FolderWatch | undefined
        let target: FolderWatch | undefined
        let closed = false
        let looking = false
        let again = false
        let forced = false
        const look = async () => {
          looking = true
          try {
            do {
              again = false
              const facts = await factsOf(file)
              if (closed) return
              own = rewatch(own, Path.dirname(file), Path.basename(file), facts.ownFolder, onEvent)
              if (facts.target === undefined) {
                closeWatch(target)
                target = undefined
              } else {
                const folder = Path.dirname(facts.target)
                target = rewatch(target, folder, Path.basename(facts.target), facts.targetFolder, onEvent)
              }
              if (forced || facts.identity !== seen) {
                forced = false
                seen = facts.identity
                Queue.offerUnsafe(queue, "file changed")
              }
            } while (again && !closed)
          } finally {
            looking = false
          }
        }
        const check = (force: boolean) => {
          if (force) forced = true
          if (looking) again = true
          else void look()
        }
        function onEvent(entry: string | null, name: string) {
          check(entry === null || entry === name)
        }
        check(false)
        const poll = setInterval(() => check(false), Duration.toMillis(pollInterval))
        poll.unref()
        return () => {
          closed = true
          clearInterval(poll)
          closeWatch(own)
          closeWatch(target)
        }
      }),
      (close) => Effect.sync(close)
    )
  )

interface Snapshot {
  readonly text: string
  /** Whether the file was the same before and after the read (no write went on during it). */
  readonly steady: boolean
  readonly ctimeMs: number
}

const readOnce = async (location: string): Promise<Snapshot> => {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever, in a thread of libuv's pool.
  const handle = await Fs.promises.open(location, Fs.constants.O_RDONLY | Fs.constants.O_NONBLOCK)
  try {
    const before = await handle.stat()
    if (!before.isFile()) throw new Error(`${FileKind.of(before)}, not a regular file`)
    if (before.size > maxBytes) {
      throw new Error(`${before.size} bytes, more than the limit of ${maxBytes} bytes (PolicySourceNode.maxBytes)`)
    }
    // A file grown past the limit since the stat is caught too; one grown within it fails the steadiness below.
    const outcome = await BoundedRead.read(handle, maxBytes, before.size)
    if (outcome._tag === "OverLimit") {
      throw new Error(`more than the limit of ${maxBytes} bytes (PolicySourceNode.maxBytes)`)
    }
    const after = await handle.stat()
    const steady =
      after.size === before.size &&
      after.size === outcome.bytes.length &&
      after.mtimeMs === before.mtimeMs &&
      after.ctimeMs === before.ctimeMs
    return { text: outcome.bytes.toString("utf8"), steady, ctimeMs: after.ctimeMs }
  } finally {
    await handle.close()
  }
}

const read = (location: string, quietMillis: number): Effect.Effect<string, PolicyUnreadable> => {
  const attempt = (since: number): Effect.Effect<string, PolicyUnreadable> =>
    Effect.flatMap(
      Effect.tryPromise({
        try: () => readOnce(location),
        catch: (e) => new PolicyUnreadable({ source: location, reason: (e as Error).message })
      }),
      (snapshot) => {
        // A change time ahead of the clock (the clock was set back) says nothing about writers: only steadiness counts.
        const age = Date.now() - snapshot.ctimeMs
        const fresh = age >= 0 && age < quietMillis
        if (snapshot.steady && !fresh) return Effect.succeed(snapshot.text)
        if (Date.now() - since >= Duration.toMillis(maxWait)) {
          return Effect.fail(
            new PolicyUnreadable({
              source: location,
              reason: `the file is still being written: it kept changing for ${Duration.format(maxWait)}`
            })
          )
        }
        return Effect.andThen(Effect.sleep(Math.max(quietMillis - Math.max(age, 0), 10)), attempt(since))
      }
    )
  return Effect.suspend(() => attempt(Date.now()))
}

/**
 * The service for a policy file.
 *
 * @since 0.1.0
 */
export const make = (file: string, options: Options = {}): Service => {
  const location = Path.resolve(file)
  const quiet = Duration.toMillis(Duration.fromInputUnsafe(options.quiet ?? "100 millis"))
  return {
    location,
    read: read(location, quiet),
    changes: options.watch === false ? signals : Stream.merge(signals, fileChanges(location))
  }
}

/**
 * The service for a policy file, as a Layer.
 *
 * @since 0.1.0
 */
export const layer = (file: string, options: Options = {}): Layer.Layer<PolicySource> =>
  Layer.succeed(PolicySource, make(file, options))
