// The fake daemon replays dockerd's call sequences against the memory driver over a real socket, and reads
// broken answers the way the daemon does.
import { Retry, Target } from "@docker-plugin-kit/client"
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { FakeDaemon, SocketHarness } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import { fixture, nodeProcess, tempDir } from "../support.ts"

const steps = (action: FakeDaemon.Action) => action.calls.map((c) => c.step)

describe("FakeDaemon", () => {
  it.live("replays create, ls, inspect, run/stop and rm like dockerd 20.10.24", () =>
    Effect.gen(function* () {
      const { client } = yield* SocketHarness.make(VolumeMemory.layer({ mountRoot: "/m" }), { name: "mem" })
      const daemon = yield* FakeDaemon.make(client)

      const create = yield* daemon.volumeCreate("v1")
      expect(steps(create)).toEqual(["Activate", "Capabilities", "Get", "Create"])
      expect(create.calls[0]?.request.body).toBe("")
      expect(create.calls[3]?.request.body).toBe('{"Name":"v1","Opts":null}\n')
      expect(create.error).toBeUndefined()

      // Activation and the scope are cached: the second create is Get → Create only; with -o the options go along.
      const withOpts = yield* daemon.volumeCreate("v2", { foo: "bar" })
      expect(steps(withOpts)).toEqual(["Get", "Create"])
      expect(withOpts.calls[1]?.request.body).toBe('{"Name":"v2","Opts":{"foo":"bar"}}\n')
      // Creating an existing volume stops after Get.
      expect(steps(yield* daemon.volumeCreate("v1"))).toEqual(["Get"])

      const ls = yield* daemon.volumeLs
      expect([steps(ls), ls.volumes]).toEqual([["List"], ["v1", "v2"]])

      const inspect = yield* daemon.volumeInspect("v1")
      expect(steps(inspect)).toEqual(["Get"])
      expect(inspect.volume).toMatchObject({ Name: "v1", Mountpoint: "/m/v1" })

      const container = yield* daemon.run("v1")
      expect(steps(container.start)).toEqual(["Get", "Mount"])
      expect(container.mountId).toMatch(/^[0-9a-f]{64}$/)
      expect(JSON.parse(container.start.calls[1]!.request.body)).toEqual({ Name: "v1", ID: container.mountId })
      expect(container.mountpoint).toBe("/m/v1")
      const stop = yield* container.stop
      expect(steps(stop)).toEqual(["Get", "Unmount"])
      expect(JSON.parse(stop.calls[1]!.request.body)).toEqual({ Name: "v1", ID: container.mountId })
      expect(stop.error).toBeUndefined()

      const rm = yield* daemon.volumeRm("v1")
      expect(steps(rm)).toEqual(["Get", "Get", "Remove"])
      expect(rm.error).toBeUndefined()
      expect((yield* daemon.volumeInspect("v1")).error).toBe("no such volume: v1")
      expect((yield* daemon.history).map((a) => a.command)).toEqual([
        "docker volume create -d mem v1",
        "docker volume create -d mem -o foo=bar v2",
        "docker volume create -d mem v1",
        "docker volume ls",
        "docker volume inspect v1",
        "docker run -v v1:/data",
        "docker stop (volume v1)",
        "docker volume rm v1",
        "docker volume inspect v1"
      ])
    })
  )

  it.live("reports a broken plugin's answers as the daemon reads them", () =>
    Effect.gen(function* () {
      const socket = Path.join(yield* tempDir, "broken.sock")
      yield* nodeProcess(fixture("broken-volume-plugin.ts"), [socket], "listening on")
      const client = yield* Target.connect(Target.socket(socket), { retry: Retry.none })
      const daemon = yield* FakeDaemon.make(client, "broken")

      // Get of a new name hangs up: the daemon cannot tell whether the volume exists, so create fails.
      const create = yield* daemon.volumeCreate("v1")
      expect(steps(create)).toEqual(["Activate", "Capabilities", "Get"])
      expect(create.error).toMatch(/^error while checking if volume "v1" exists in driver "broken": /)

      // The misspelt Mountpoint reads as "" (Go zero value): the container would get an empty bind source.
      const created = yield* client.exchange("/VolumeDriver.Create", { Name: "v2", Opts: null })
      expect(created.response.status).toBe(200)
      const container = yield* daemon.run("v2")
      expect(container.start.error).toBeUndefined()
      expect(container.mountpoint).toBe("")
      expect(FakeDaemon.describeCalls(container.start)[1]).toMatch(
        /^Mount \{"Name":"v2","ID":"[0-9a-f]{64}"\} → 200 \{"MountPath":"\/srv\/v2"\}$/
      )
    })
  )
})
