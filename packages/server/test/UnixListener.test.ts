// A Unix socket listener: mode 0660 whatever the umask (and never a wider one at its path, not even between bind and
// chmod), and refusals reported as a ListenError naming the path.
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { ListenError, PluginServer, UnixListener } from "@docker-plugin-kit/server"
import { afterEach, describe, expect, it, vi } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { post, tempDir } from "./support.ts"

const serve = (path: string) =>
  Layer.build(
    PluginServer.layer({ name: "u", listen: { _tag: "Unix", path } }).pipe(Layer.provide(VolumeMemory.layer()))
  )

/** Runs `observe` right after every bind(2) of a server (Node binds a Unix socket synchronously in `listen`). */
const afterBind = (observe: () => void) => {
  const listen = Net.Server.prototype.listen as (this: Net.Server, ...args: Array<unknown>) => Net.Server
  const spied = function (this: Net.Server, ...args: Array<unknown>) {
    const result = listen.apply(this, args)
    observe()
    return result
  }
  vi.spyOn(Net.Server.prototype, "listen").mockImplementation(spied as typeof Net.Server.prototype.listen)
}

const withUmask = <A, E, R>(mask: number, effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const umask = process.umask(mask)
    return Effect.ensuring(
      effect,
      Effect.sync(() => process.umask(umask))
    )
  })

describe("UnixListener", () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it.live("gives the socket mode 0660 even under a umask that lets everyone in", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "open", "u.sock")
      const umask = process.umask(0)
      yield* Effect.ensuring(
        serve(path),
        Effect.sync(() => process.umask(umask))
      )
      expect(Fs.statSync(path).mode & 0o777).toBe(UnixListener.socketMode)
      expect((yield* post({ socketPath: path }, "/Plugin.Activate")).status).toBe(200)
    })
  )

  it.live("the socket does not exist at its path until it has mode 0660, even under umask 000", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "u.sock")
      const seen: Array<number | "absent"> = []
      afterBind(() => seen.push(Fs.existsSync(path) ? Fs.lstatSync(path).mode & 0o777 : "absent"))
      yield* withUmask(0, serve(path))
      expect(seen).toEqual(["absent"])
      expect(Fs.lstatSync(path).mode & 0o777).toBe(UnixListener.socketMode)
      // Only the socket is left in the folder: its private bind folder is gone.
      expect(Fs.readdirSync(Path.dirname(path))).toEqual(["u.sock"])
      expect((yield* post({ socketPath: path }, "/Plugin.Activate")).status).toBe(200)
    })
  )

  it.live("shutdown removes the socket and leaves nothing behind", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = Path.join(dir, "u.sock")
      const scope = yield* Scope.make()
      yield* serve(path).pipe(Scope.provide(scope))
      expect(Fs.readdirSync(dir)).toEqual(["u.sock"])
      yield* Scope.close(scope, Exit.void)
      expect(Fs.readdirSync(dir)).toEqual([])
    })
  )

  it.live("what a start killed between bind and publishing left does not block the next start, and is removed", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = Path.join(dir, "u.sock")
      // A killed start leaves its private folder, maybe with the socket in it (nobody answers on it any more).
      Fs.mkdirSync(Path.join(dir, ".u.sock.bind-AbC123"), { mode: 0o700 })
      Fs.writeFileSync(Path.join(dir, ".u.sock.bind-AbC123", "s"), "")
      // Another socket's private folder is not this start's business.
      Fs.mkdirSync(Path.join(dir, ".other.sock.bind-XyZ789"), { mode: 0o700 })
      yield* serve(path)
      expect(Fs.readdirSync(dir).sort()).toEqual([".other.sock.bind-XyZ789", "u.sock"])
      expect((yield* post({ socketPath: path }, "/Plugin.Activate")).status).toBe(200)
    })
  )

  it.live("a path as long as a socket path may be is still bound through a private folder", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      // 107 bytes: the longest a Unix socket path may be; too long for a private folder named after the socket.
      const path = Path.join(dir, `${"l".repeat(107 - dir.length - 6)}.sock`)
      expect(Buffer.byteLength(path)).toBe(107)
      const seen: Array<number | "absent"> = []
      afterBind(() => seen.push(Fs.existsSync(path) ? Fs.lstatSync(path).mode & 0o777 : "absent"))
      yield* withUmask(0, serve(path))
      expect(seen).toEqual(["absent"])
      expect(Fs.lstatSync(path).mode & 0o777).toBe(UnixListener.socketMode)
      expect(Fs.readdirSync(dir)).toEqual([Path.basename(path)])
      expect((yield* post({ socketPath: path }, "/Plugin.Activate")).status).toBe(200)
      const tooLong = Path.join(dir, `${"l".repeat(108 - dir.length - 6)}.sock`)
      const exit = yield* Effect.exit(serve(tooLong))
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain(
        `${tooLong}: is too long: a Unix socket path has at most 107 bytes`
      )
      const deep = Path.join(dir, "d".repeat(98 - dir.length - 1), "u.sock")
      const refused = yield* Effect.exit(serve(deep))
      expect(Exit.isFailure(refused) && String(refused.cause)).toContain(
        `${deep}: is in a folder whose path is too long: binding the socket through a private folder next to it needs 113 bytes`
      )
    })
  )

  it.live("a socket another process creates at the path while this one binds is not replaced", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "u.sock")
      afterBind(() => Fs.writeFileSync(path, "theirs"))
      const exit = yield* Effect.exit(serve(path))
      expect(exit).toEqual(
        Exit.fail(
          new ListenError.ListenError({
            address: path,
            reason: "was created by another process while this one was binding; refusing to replace it"
          })
        )
      )
      expect(Fs.readFileSync(path, "utf8")).toBe("theirs")
    })
  )

  it.live("a path that is not a socket is refused with a ListenError naming the path and the reason", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "file.sock")
      Fs.writeFileSync(path, "mine")
      const exit = yield* Effect.exit(serve(path))
      expect(exit).toEqual(
        Exit.fail(
          new ListenError.ListenError({ address: path, reason: "exists and is not a socket; refusing to replace it" })
        )
      )
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain(`${path}: exists and is not a socket`)
    })
  )

  it.live("a live process too busy to accept (its backlog full) keeps its socket: the start is refused", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "busy.sock")
      // A plugin whose event loop is blocked: the kernel queues one connection, then refuses with EAGAIN.
      const busy = yield* Effect.acquireRelease(
        Effect.callback<ReturnType<typeof spawn>>((resume) => {
          const child = spawn(
            process.execPath,
            [
              "-e",
              `require("net").createServer().listen({ path: ${JSON.stringify(path)}, backlog: 1 }, () => {
                 console.log("up")
                 Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000)
               })`
            ],
            { stdio: ["ignore", "pipe", "inherit"] }
          )
          child.stdout!.once("data", () => resume(Effect.succeed(child)))
        }),
        (child) => Effect.sync(() => child.kill("SIGKILL"))
      )
      const queued = yield* Effect.acquireRelease(
        Effect.sync(() => [Net.connect({ path }), Net.connect({ path })]),
        (sockets) =>
          Effect.sync(() => {
            for (const socket of sockets) socket.destroy()
          })
      )
      for (const socket of queued) socket.on("error", () => {})
      yield* Effect.sleep("100 millis")
      const exit = yield* Effect.exit(serve(path))
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain(
        `${path}: may be served by another live process (connecting failed: connect EAGAIN`
      )
      // Still the busy process's socket.
      expect(Fs.lstatSync(path).isSocket()).toBe(true)
      expect(busy.exitCode).toBe(null)
    })
  )
})
