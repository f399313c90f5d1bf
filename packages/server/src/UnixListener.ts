/**
 * A plugin listening on a Unix socket, by default in the daemon's discovery folder. The socket is made free to bind
 * (a stale one left by a crash is replaced, a live one or a file that is not a socket is refused), gets mode 0660
 * and an optional group, and is removed on shutdown.
 *
 * The socket never appears at its path with a wider mode: bind(2) gives it the mode the umask leaves (0777 under
 * umask 000), so it is bound inside a private folder (mode 0700, next to the path so both are on one file system),
 * given its mode and group there, and only then linked to its path (link(2) fails rather than replace a socket
 * another process put there meanwhile). The same socket keeps serving under its new name. Changing the umask
 * instead would affect the whole process.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as HttpServer from "effect/http/HttpServer"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Path from "node:path"
import * as ConnectAttempt from "./internal/ConnectAttempt.ts"
import * as NodeServer from "./internal/NodeServer.ts"
import { ListenError } from "./ListenError.ts"

/**
 * The daemon's socket discovery folder.
 *
 * @since 0.1.0
 */
export const defaultSocketDir = "/run/docker/plugins"

/**
 * A Unix socket listener.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly path: string
  /** Group (name or GID) given the socket, so its members (and root) may call the plugin. */
  readonly group?: number | string
}

/**
 * The socket's mode: the owner and its group may connect, nobody else.
 *
 * @since 0.1.0
 */
export const socketMode = 0o660

/**
 * The default Unix socket of a plugin: `/run/docker/plugins/NAME.sock`.
 *
 * @since 0.1.0
 */
export const options = (
  name: string,
  given: { readonly path?: string | undefined; readonly group?: number | string | undefined } = {}
): Options => ({
  path: given.path ?? Path.join(defaultSocketDir, `${name}.sock`),
  ...(given.group === undefined ? {} : { group: given.group })
})

/** The connect errors that say nobody listens on a socket: a stale one left by a crash, or none at all. */
const nobodyListens: ReadonlySet<string | undefined> = new Set(["ECONNREFUSED", "ENOENT"])

/**
 * Why the socket at `path` may still be in use, or `undefined` when nobody listens on it. Only a refused connection
 * proves it stale: a live process whose backlog is full (its event loop busy) answers `EAGAIN`, and one whose socket
 * this process may not open answers `EACCES`; replacing theirs would cut them off from the daemon.
 */
const inUse = (path: string): Promise<string | undefined> =>
  ConnectAttempt.attempt({ path }).then((outcome) => {
    switch (outcome._tag) {
      case "Connected":
        return "is served by another live process"
      case "TimedOut":
        return "may be served by another live process (connecting to it timed out)"
      case "Failed":
        return nobodyListens.has(outcome.error.code)
          ? undefined
          : `may be served by another live process (connecting failed: ${outcome.error.message})`
    }
  })

/**
 * Makes the socket path free to bind: creates the folder, refuses a socket that a live process answers on,
 * removes a stale one left by a crash, and refuses to touch anything that is not a socket.
 *
 * @since 0.1.0
 */
export const prepareSocketPath = (path: string): Effect.Effect<void, ListenError> =>
  Effect.tryPromise({
    try: async () => {
      Fs.mkdirSync(Path.dirname(path), { recursive: true })
      let stat: Fs.Stats
      try {
        stat = Fs.lstatSync(path)
      } catch {
        return
      }
      if (!stat.isSocket()) throw new Error("exists and is not a socket; refusing to replace it")
      const used = await inUse(path)
      if (used !== undefined) throw new Error(`${used}; refusing to steal it`)
      Fs.rmSync(path, { force: true })
    },
    catch: (e) => new ListenError({ address: path, reason: (e as Error).message })
  })

const groupId = (group: number | string): number => {
  if (typeof group === "number") return group
  if (/^\d+$/.test(group)) return Number(group)
  const line = Fs.readFileSync("/etc/group", "utf8")
    .split("\n")
    .find((l) => l.split(":")[0] === group)
  const gid = line?.split(":")[2]
  if (gid === undefined) throw new Error(`unknown group ${group}`)
  return Number(gid)
}

const socketPermissions = (path: string, group: number | string | undefined) => {
  Fs.chmodSync(path, socketMode)
  if (group !== undefined) Fs.chownSync(path, -1, groupId(group))
}

/** The longest path a Unix socket can be bound at (`sun_path` holds 108 bytes with the final NUL). */
const maxSocketPath = 107

/** The name of the socket inside its private folder: short, so that the longer path still fits in `sun_path`. */
const stagedName = "s"

/** What `mkdtemp` appends to a prefix. */
const randomPart = "XXXXXX"

const fits = (prefix: string): boolean =>
  Buffer.byteLength(Path.join(`${prefix}${randomPart}`, stagedName)) <= maxSocketPath

/**
 * The prefix of the socket's private folder: one naming the socket (`.NAME.sock.bind-`), so that a later start can
 * tell and remove what a killed one left; for a path too long for that, a short anonymous one (`.bind-`, whose
 * leftovers cannot be told from another socket's and stay; they block nothing).
 */
const stagingPrefix = (path: string): { readonly prefix: string; readonly owned: boolean } | undefined => {
  const dir = Path.dirname(path)
  const owned = Path.join(dir, `.${Path.basename(path)}.bind-`)
  if (fits(owned)) return { prefix: owned, owned: true }
  const short = Path.join(dir, ".bind-")
  return fits(short) ? { prefix: short, owned: false } : undefined
}

/**
 * Removes the private folders a process killed between bind and link left for this socket (those whose socket, if
 * any, nobody answers on), then makes a fresh one.
 */
const makeStagingDir = (path: string): Effect.Effect<string, ListenError> =>
  Effect.tryPromise({
    try: async () => {
      // Checked here: the socket is bound at a shorter path, and link(2) has no such limit.
      if (Buffer.byteLength(path) > maxSocketPath)
        throw new Error(`is too long: a Unix socket path has at most ${maxSocketPath} bytes`)
      const staging = stagingPrefix(path)
      if (staging === undefined)
        throw new Error(
          `is in a folder whose path is too long: binding the socket through a private folder next to it needs ` +
            `${Buffer.byteLength(Path.join(Path.dirname(path), ".bind-XXXXXX", stagedName))} bytes, a Unix socket ` +
            `path has at most ${maxSocketPath}`
        )
      const { prefix, owned } = staging
      const dir = Path.dirname(prefix)
      for (const entry of owned ? Fs.readdirSync(dir) : []) {
        const leftover = Path.join(dir, entry)
        if (!leftover.startsWith(prefix)) continue
        if (
          Fs.existsSync(Path.join(leftover, stagedName)) &&
          (await inUse(Path.join(leftover, stagedName))) !== undefined
        )
          continue
        Fs.rmSync(leftover, { recursive: true, force: true })
      }
      // mkdtemp creates the folder with mode 0700 whatever the umask.
      return Fs.mkdtempSync(prefix)
    },
    catch: (e) => new ListenError({ address: path, reason: (e as Error).message })
  })

/** Gives the bound socket its mode and group, then its path, and drops its private name. */
const publish = (staged: string, listen: Options) =>
  Effect.try({
    try: () => {
      try {
        socketPermissions(staged, listen.group)
      } catch (e) {
        throw new Error(`could not set permissions: ${(e as Error).message}`)
      }
      try {
        Fs.linkSync(staged, listen.path)
      } catch (e) {
        throw new Error(
          (e as NodeJS.ErrnoException).code === "EEXIST"
            ? "was created by another process while this one was binding; refusing to replace it"
            : `could not move the socket into place: ${(e as Error).message}`
        )
      }
      Fs.rmSync(Path.dirname(staged), { recursive: true, force: true })
      return Fs.lstatSync(listen.path).ino
    },
    catch: (e) => new ListenError({ address: listen.path, reason: (e as Error).message })
  })

/** Removes the socket from its path on shutdown, unless something else has replaced it there since. */
const unpublish = (path: string, ino: number) =>
  Effect.sync(() => {
    try {
      if (Fs.lstatSync(path).ino === ino) Fs.rmSync(path, { force: true })
    } catch {
      // Already gone.
    }
  })

/**
 * The HttpServer layer of a Unix socket, with its preparation and clean-up.
 *
 * @since 0.1.0
 */
export const layer = (listen: Options): Layer.Layer<HttpServer.HttpServer, ListenError> =>
  Layer.unwrap(
    Effect.gen(function* () {
      yield* prepareSocketPath(listen.path)
      const staging = yield* Effect.acquireRelease(makeStagingDir(listen.path), (dir) =>
        Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
      )
      const staged = Path.join(staging, stagedName)
      // The server names the socket by its final path (Node would name the private one it was bound to).
      const create = (options: Http.ServerOptions) => {
        const server = Http.createServer(options)
        server.address = () => listen.path
        return server
      }
      const server = NodeServer.layer(listen.path, create, { path: staged })
      const published = Effect.acquireRelease(publish(staged, listen), (ino) => unpublish(listen.path, ino))
      return Layer.effectDiscard(published).pipe(Layer.provideMerge(server))
    })
  )
