// `dpk serve A B --name N`: several drivers in one process on one socket, and the combinations that are refused.
import { Cli } from "@docker-plugin-kit/cli"
import { Descriptor, Descriptors } from "@docker-plugin-kit/drivers"
import { Authorization } from "@docker-plugin-kit/protocol"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { combine, commandFor } from "../../src/commands/serve.ts"
import { post, tempDir, waitFor } from "../../../server/test/support.ts"
import { dpk, nodeArgs, start } from "../support.ts"

// A test-only descriptor serving another API than VolumeDriver, with a flag of its own.
const authzAllow = Descriptor.make({
  name: "authz-allow",
  description: "Allows every request, saying so with --message",
  apis: [Authorization.Api],
  flags: { message: Flag.String("message").pipe(Flag.withDefault("allowed")) },
  layer: ({ message }) =>
    Layer.succeed(Authorization.Authorization, {
      authZReq: () => Effect.succeed({ Allow: true, Msg: message }),
      authZRes: () => Effect.succeed({ Allow: true })
    })
})
const volumeMemory = Descriptors.byName("volume-memory")!
const volumeLocal = Descriptors.byName("volume-local")!
const registry = [volumeMemory, volumeLocal, authzAllow]

const conflictOf = (args: ReadonlyArray<string>, descriptors = registry) =>
  Effect.map(Effect.flip(commandFor(args, descriptors)), (e) => e.message)

describe("dpk serve with several drivers", () => {
  it.live("serves both APIs on one socket, each driver with its own flags", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socket = Path.join(dir, "both.sock")
      const { command, args } = yield* commandFor(
        ["serve", "volume-memory", "authz-allow", "--name", "both", "--socket", socket, "--message", "hi"],
        registry
      )
      expect(args.slice(0, 2)).toEqual(["serve", "volume-memory+authz-allow"])
      const root = Command.make("dpk").pipe(Command.withSubcommands([command]))
      const served = yield* Command.runWith(root, { version: Cli.version })(args).pipe(
        Effect.provide(NodeServices.layer),
        Effect.forkChild
      )
      yield* waitFor(() => Fs.existsSync(socket))
      const activate = yield* post({ socketPath: socket }, "/Plugin.Activate")
      expect(activate.body).toEqual({ Implements: ["VolumeDriver", "authz"] })
      const allowed = yield* post({ socketPath: socket }, "/AuthZPlugin.AuthZReq", {
        User: "u",
        RequestMethod: "GET",
        RequestURI: "/v1.41/info"
      })
      expect(allowed.body).toEqual({ Allow: true, Msg: "hi" })
      expect((yield* post({ socketPath: socket }, "/VolumeDriver.Create", { Name: "v" })).body).toEqual({})
      expect((yield* post({ socketPath: socket }, "/VolumeDriver.List", {})).body).toMatchObject({
        Volumes: [{ Name: "v" }]
      })
      yield* Fiber.interrupt(served)
      expect(Fs.existsSync(socket)).toBe(false)
    })
  )

  it.effect("runs with the V8 and start-up flags of every driver, each once", () =>
    Effect.gen(function* () {
      const withFlags = (name: string, v8Flags: ReadonlyArray<string>) => ({ ...authzAllow, name, flags: {}, v8Flags })
      const combined = yield* combine([
        withFlags("a", ["--heap-growing-percent=10", "--stack-size=2000"]),
        { ...volumeMemory, v8Flags: ["--stack-size=2000"] }
      ])
      expect(combined.v8Flags).toEqual(["--heap-growing-percent=10", "--stack-size=2000"])
      expect((yield* combine([volumeMemory, authzAllow])).v8Flags).toEqual([])
      const started = yield* combine([{ ...volumeMemory, startFlags: ["--max-semi-space-size=1"] }, authzAllow])
      expect(started.startFlags).toEqual(["--max-semi-space-size=1"])
    })
  )

  it.effect("keeps a single driver as it was", () =>
    Effect.gen(function* () {
      const { args } = yield* commandFor(["serve", "volume-memory", "--socket", "/x.sock"], registry)
      expect(args).toEqual(["serve", "volume-memory", "--socket", "/x.sock"])
    })
  )

  it.effect("refuses two drivers of the same API, a driver named twice, and a missing --name", () =>
    Effect.gen(function* () {
      expect(yield* conflictOf(["serve", "volume-memory", "volume-local", "--name", "n"])).toBe(
        "cannot serve volume-memory and volume-local in one process: volume-memory and volume-local both serve VolumeDriver"
      )
      expect(yield* conflictOf(["serve", "authz-allow", "authz-allow", "--name", "n"])).toBe(
        "cannot serve authz-allow and authz-allow in one process: authz-allow is named twice"
      )
      expect(yield* conflictOf(["serve", "volume-memory", "authz-allow"])).toBe(
        "serving volume-memory and authz-allow together needs --name NAME (the plugin's name)"
      )
    })
  )

  it.effect("refuses drivers declaring the same flag, or a flag every serve command has", () =>
    Effect.gen(function* () {
      const rooted = Descriptor.make({
        ...authzAllow,
        name: "authz-rooted",
        flags: { root: Flag.String("root") },
        layer: authzAllow.layer as never
      })
      expect(yield* conflictOf(["serve", "volume-local", "authz-rooted", "--name", "n"], [volumeLocal, rooted])).toBe(
        "cannot serve volume-local and authz-rooted in one process: volume-local and authz-rooted both declare --root"
      )
      const socketed = Descriptor.make({
        ...authzAllow,
        name: "authz-socket",
        flags: { path: Flag.String("socket") },
        layer: authzAllow.layer as never
      })
      expect(
        yield* conflictOf(["serve", "volume-memory", "authz-socket", "--name", "n"], [volumeMemory, socketed])
      ).toBe(
        "cannot serve volume-memory and authz-socket in one process: authz-socket declares --socket, which every serve command has"
      )
    })
  )

  it.live("serves two reference drivers of different APIs as a process: volume-memory and ipam-pool", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socket = Path.join(dir, "combo.sock")
      const run = yield* start(process.execPath, [
        ...nodeArgs,
        ...["serve", "volume-memory", "ipam-pool", "--name", "combo", "--socket", socket],
        ...["--store", Path.join(dir, "ipam"), "--mount-root", "/srv/combo"]
      ])
      yield* waitFor(() => run.output().includes("listening on"), 60_000)
      expect(run.output()).toContain("combo: serving volume-memory+ipam-pool")
      expect((yield* post({ socketPath: socket }, "/Plugin.Activate")).body).toEqual({
        Implements: ["VolumeDriver", "IpamDriver"]
      })
      expect((yield* post({ socketPath: socket }, "/IpamDriver.GetDefaultAddressSpaces", {})).status).toBe(200)
      yield* post({ socketPath: socket }, "/VolumeDriver.Create", { Name: "v" })
      expect((yield* post({ socketPath: socket }, "/VolumeDriver.Path", { Name: "v" })).body).toEqual({
        Mountpoint: "/srv/combo/v"
      })
      run.child.kill("SIGTERM")
      yield* run.exited
      expect(Fs.existsSync(socket)).toBe(false)
    })
  )

  it("says why on the command line and exits non-zero", () => {
    const run = dpk("serve", "volume-memory", "volume-local", "--name", "n")
    expect(run.status).not.toBe(0)
    expect(run.stderr.trim()).toBe(
      "dpk serve: cannot serve volume-memory and volume-local in one process: volume-memory and volume-local both serve VolumeDriver"
    )
  })
})
