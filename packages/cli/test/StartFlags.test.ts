import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { post, tempDir, waitFor } from "../../server/test/support.ts"
import * as StartFlags from "../src/StartFlags.ts"
import { nodeArgs, start } from "./support.ts"

describe("StartFlags.restartArgs", () => {
  const argv = ["/bin/node", "/app/dpk.js", "serve", "graph-overlay"]

  it("starts again only when a flag is missing, the flags after node's own so their values win", () => {
    expect(StartFlags.restartArgs("/bin/node", ["--max-semi-space-size=2"], argv, ["--max-semi-space-size=2"])).toBe(
      undefined
    )
    expect(StartFlags.restartArgs("/bin/node", [], argv, [])).toBe(undefined)
    expect(StartFlags.restartArgs("/bin/node", [], argv, ["--max-semi-space-size=2"])).toEqual([
      "/bin/node",
      "--max-semi-space-size=2",
      "/app/dpk.js",
      "serve",
      "graph-overlay"
    ])
    const flags = ["--max-semi-space-size=2", "--max-semi-space-size=1"]
    const again = StartFlags.restartArgs("/bin/node", ["--conditions=x", "--max-semi-space-size=2"], argv, flags)
    expect(again).toEqual([
      "/bin/node",
      "--conditions=x",
      "--max-semi-space-size=2",
      ...flags,
      "/app/dpk.js",
      "serve",
      "graph-overlay"
    ])
    // What the new process sees is complete: it does not start a third time.
    expect(StartFlags.restartArgs("/bin/node", again!.slice(1, 5), argv, flags)).toBe(undefined)
  })

  it("keeps a value node was given by hand; the toolkit's default still gives way to a driver's own", () => {
    const defaults = ["--max-semi-space-size=2"]
    const graph = [...defaults, "--max-semi-space-size=1"]
    // Tuned by whoever started node: no restart, whatever the driver wants.
    expect(StartFlags.restartArgs("/bin/node", ["--max-semi-space-size=16"], argv, defaults, defaults)).toBe(undefined)
    expect(StartFlags.restartArgs("/bin/node", ["--max-semi-space-size=16"], argv, graph, defaults)).toBe(undefined)
    expect(StartFlags.wanted(["--max-semi-space-size=16", "--conditions=x"], graph, defaults)).toEqual([])
    // The default the repository's wrappers pass is not a choice: the driver's value is added after it.
    expect(StartFlags.restartArgs("/bin/node", defaults, argv, graph, defaults)).toEqual([
      "/bin/node",
      ...defaults,
      ...graph,
      "/app/dpk.js",
      "serve",
      "graph-overlay"
    ])
    // Other flags are not choices about these: a missing one is still added.
    expect(StartFlags.wanted(["--max-old-space-size=64"], graph, defaults)).toEqual(graph)
    // Once restarted with the driver's value, the process does not start again.
    expect(StartFlags.restartArgs("/bin/node", [...defaults, ...graph], argv, graph, defaults)).toBe(undefined)
  })
})

/** The command line of process `pid`, as the kernel holds it. */
const commandLine = (pid: number) => Fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean)

describe("dpk serve started without its start-up flags", () => {
  it.live.skipIf(process.platform !== "linux")("runs again under node with them, as the same process, and serves", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socket = Path.join(dir, "flags.sock")
      const run = yield* start(process.execPath, [...nodeArgs, "serve", "volume-memory", "--socket", socket])
      yield* waitFor(() => run.output().includes("listening on"), 30_000)
      const line = commandLine(run.child.pid!)
      expect(line.slice(1, 3)).toEqual(["--conditions=@docker-plugin-kit/source", "--max-semi-space-size=2"])
      expect(line.slice(-4)).toEqual(["serve", "volume-memory", "--socket", socket])
      expect((yield* post({ socketPath: socket }, "/Plugin.Activate")).body).toEqual({ Implements: ["VolumeDriver"] })
      run.child.kill("SIGTERM")
      expect(yield* run.exited).toBe(0)
      expect(Fs.existsSync(socket)).toBe(false)
    })
  )

  it.live.skipIf(process.platform !== "linux")("keeps a young generation size node was given by hand", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socket = Path.join(dir, "tuned.sock")
      const tuned = "--max-semi-space-size=4"
      const run = yield* start(process.execPath, [tuned, ...nodeArgs, "serve", "volume-memory", "--socket", socket])
      yield* waitFor(() => run.output().includes("listening on"), 30_000)
      const line = commandLine(run.child.pid!)
      expect(line.filter((arg) => arg.startsWith("--max-semi-space-size"))).toEqual([tuned])
      run.child.kill("SIGTERM")
      expect(yield* run.exited).toBe(0)
    })
  )
})
