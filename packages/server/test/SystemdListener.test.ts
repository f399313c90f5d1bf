// Socket activation: which processes were given a socket, and the error of one that was not.
import { ListenError, SystemdListener } from "@docker-plugin-kit/server"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"

describe("SystemdListener", () => {
  it("takes fd 3 when LISTEN_FDS is set for this process, and nothing otherwise", () => {
    expect(SystemdListener.systemdFd({ LISTEN_FDS: "1", LISTEN_PID: String(process.pid) })).toBe(3)
    expect(SystemdListener.systemdFd({ LISTEN_FDS: "1" })).toBe(3)
    expect(SystemdListener.systemdFd({ LISTEN_FDS: "1", LISTEN_PID: String(process.pid + 1) })).toBeUndefined()
    expect(SystemdListener.systemdFd({ LISTEN_FDS: "0" })).toBeUndefined()
    expect(SystemdListener.systemdFd({})).toBeUndefined()
  })

  it.effect("a process that was not socket-activated gets a ListenError saying so", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Layer.build(SystemdListener.layer({})))
      expect(exit).toEqual(
        Exit.fail(
          new ListenError.ListenError({
            address: "LISTEN_FDS",
            reason: "not set for this process: it was not socket-activated by systemd"
          })
        )
      )
    })
  )
})
