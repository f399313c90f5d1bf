/**
 * A plugin listening on a Unix socket, by default in the daemon's discovery folder. The socket is made free to bind
 * (a stale one left by a crash is replaced, a live one or a file that is not a socket is refused), gets mode 0660
 * and an optional group, and is removed on shutdown.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as HttpServer from "effect/http/HttpServer"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Path from "node:path"
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

const tryConnect = (path: string): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = Net.connect({ path })
    const done = (alive: boolean) => {
      socket.destroy()
      resolve(alive)
    }
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
    socket.setTimeout(1000, () => done(false))
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
      if (await tryConnect(path)) throw new Error("is served by another live process; refusing to steal it")
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

const socketPermissions = (path: string, group: number | string | undefined) =>
  Effect.try({
    try: () => {
      Fs.chmodSync(path, socketMode)
      if (group !== undefined) Fs.chownSync(path, -1, groupId(group))
    },
    catch: (e) => new ListenError({ address: path, reason: `could not set permissions: ${(e as Error).message}` })
  })

/**
 * The HttpServer layer of a Unix socket, with its preparation and clean-up.
 *
 * @since 0.1.0
 */
export const layer = (listen: Options): Layer.Layer<HttpServer.HttpServer, ListenError> => {
  const prepare = Layer.effectDiscard(
    Effect.acquireRelease(prepareSocketPath(listen.path), () =>
      Effect.sync(() => Fs.rmSync(listen.path, { force: true }))
    )
  )
  const permissions = Layer.effectDiscard(socketPermissions(listen.path, listen.group))
  const server = NodeServer.layer(listen.path, (options) => Http.createServer(options), { path: listen.path })
  return permissions.pipe(Layer.provideMerge(server), Layer.provide(prepare))
}
