// The README's example plugin, run as a process and called like the daemon would.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Path from "node:path"
import { post, tempDir, waitFor } from "./support.ts"

const example = Path.join(import.meta.dirname, "..", "..", "..", "examples", "hello-volume.ts")

describe("examples/hello-volume.ts", () => {
  it.live("serves create, get, mount, list and remove", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socketPath = Path.join(dir, "hello.sock")
      let out = ""
      const child = yield* Effect.acquireRelease(
        Effect.sync(() => spawn(process.execPath, ["--conditions=@docker-plugin-kit/source", example, socketPath])),
        (c) => Effect.sync(() => c.kill("SIGTERM"))
      )
      child.stdout.on("data", (d) => (out += d))
      yield* waitFor(() => out.includes("listening on"), 30_000)
      const call = (path: string, body?: unknown) => Effect.map(post({ socketPath }, path, body), (r) => r.body)
      expect(yield* call("/Plugin.Activate")).toEqual({ Implements: ["VolumeDriver"] })
      expect(yield* call("/VolumeDriver.Create", { Name: "a", Opts: null })).toEqual({})
      expect(yield* call("/VolumeDriver.Get", { Name: "a" })).toEqual({
        Volume: { Name: "a", Mountpoint: "/srv/hello/a" }
      })
      expect(yield* call("/VolumeDriver.Mount", { Name: "a", ID: "m1" })).toEqual({ Mountpoint: "/srv/hello/a" })
      expect(yield* call("/VolumeDriver.Capabilities", {})).toEqual({ Capabilities: { Scope: "local" } })
      expect(yield* call("/VolumeDriver.List", {})).toEqual({ Volumes: [{ Name: "a", Mountpoint: "/srv/hello/a" }] })
      expect(yield* call("/VolumeDriver.Remove", { Name: "a" })).toEqual({})
      expect(yield* call("/VolumeDriver.Get", { Name: "a" })).toEqual({ Err: "no such volume: a" })
      // A name with / would put a volume inside another's folder.
      expect(yield* call("/VolumeDriver.Create", { Name: "a/b", Opts: null })).toEqual({
        Err: 'invalid volume name "a/b"'
      })
    })
  )
})
