// A Unix socket listener: mode 0660 whatever the umask, and refusals reported as a ListenError naming the path.
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { ListenError, PluginServer, UnixListener } from "@docker-plugin-kit/server"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { post, tempDir } from "./support.ts"

const serve = (path: string) =>
  Layer.build(
    PluginServer.layer({ name: "u", listen: { _tag: "Unix", path } }).pipe(Layer.provide(VolumeMemory.layer()))
  )

describe("UnixListener", () => {
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
})
