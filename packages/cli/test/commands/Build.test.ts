// `dpk build`: one JavaScript file holding the plugin and what it imports, that runs on its own.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { bundle, defaultOut } from "../../src/commands/build.ts"
import { post, tempDir, waitFor } from "../../../server/test/support.ts"
import { dpk } from "../support.ts"

const example = Path.join(import.meta.dirname, "..", "..", "..", "..", "examples", "hello-volume.ts")

describe("dpk build", () => {
  it.live("bundles the example into one file that loads nothing but Node's built-ins, by require, and serves", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      // Outside the repository, so nothing can be resolved from a node_modules beside it.
      const out = Path.join(dir, "hello.js")
      const written = yield* bundle(example, out)
      expect(written.file).toBe(out)
      expect(written.inputs).toBeGreaterThan(100)
      const code = Fs.readFileSync(out, "utf8")
      const imports = [...code.matchAll(/\bfrom\s*"([^"]+)"|\bimport\s*\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1] ?? m[2])
      // The one import is the require shim: built-ins are required, so Node runs none of their lazy getters.
      expect(imports).toEqual(["node:module"])
      expect(code).toContain('("node:http")')
      expect(code).not.toContain("permessage-deflate") // ws is left out
      const socketPath = Path.join(dir, "hello.sock")
      // Writes the built-ins Node loaded when the plugin exits: a Unix-socket plugin needs no TLS.
      const preload = Path.join(dir, "loaded.cjs")
      const loadedList = Path.join(dir, "loaded.json")
      Fs.writeFileSync(
        preload,
        `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(loadedList)}, JSON.stringify(process.moduleLoadList)))`
      )
      const child = yield* Effect.acquireRelease(
        Effect.sync(() => spawn(process.execPath, ["--require", preload, out, socketPath], { cwd: dir })),
        (c) => Effect.sync(() => c.kill("SIGTERM"))
      )
      let output = ""
      child.stdout.on("data", (d) => (output += d))
      yield* waitFor(() => output.includes("listening on"), 60_000)
      expect((yield* post({ socketPath }, "/Plugin.Activate")).body).toEqual({ Implements: ["VolumeDriver"] })
      yield* post({ socketPath }, "/VolumeDriver.Create", { Name: "a" })
      expect((yield* post({ socketPath }, "/VolumeDriver.Get", { Name: "a" })).body).toEqual({
        Volume: { Name: "a", Mountpoint: "/srv/hello/a" }
      })
      const exited = new Promise((resolve) => child.once("exit", resolve))
      child.kill("SIGTERM")
      yield* Effect.promise(() => exited)
      const loaded: ReadonlyArray<string> = JSON.parse(Fs.readFileSync(loadedList, "utf8"))
      expect(loaded).toContain("NativeModule http")
      expect(loaded).not.toContain("NativeModule tls")
    })
  )

  it.effect("loads a costly built-in when one of its exports is first read, and the others as it starts", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const entry = Path.join(dir, "entry.mjs")
      // `process.moduleLoadList` names every built-in Node has loaded so far.
      Fs.writeFileSync(
        entry,
        `import * as Tls from "node:tls"
import Zlib from "node:zlib"
import { EventEmitter } from "node:events"
import Events from "node:events"
import process from "node:process"
const loaded = (name) => process.moduleLoadList.includes("NativeModule " + name)
const tlsBefore = loaded("tls")
const zlibBefore = loaded("zlib")
Zlib.deflateSync = () => "patched"
const connect = typeof Tls.connect
class Emitter extends Events {}
console.log(JSON.stringify({
  tlsBefore, connect, tlsAfter: loaded("tls"),
  zlibBefore, gzip: typeof Zlib.gzipSync, zlibAfter: loaded("zlib"),
  nonEnumerable: Zlib.Z_SYNC_FLUSH, sameEmitter: EventEmitter === Events, emits: new Emitter().emit("x") === false,
  patched: [Zlib.deflateSync(), process.getBuiltinModule("node:zlib").deflateSync()],
  has: "Z_SYNC_FLUSH" in Zlib,
  process: process === globalThis.process
}))
`
      )
      const out = Path.join(dir, "entry.js")
      yield* bundle(entry, out)
      const run = spawnSync(process.execPath, [out], { encoding: "utf8" })
      expect(run.stderr).toBe("")
      expect(JSON.parse(run.stdout)).toEqual({
        tlsBefore: false,
        connect: "function",
        tlsAfter: true,
        zlibBefore: false,
        gzip: "function",
        zlibAfter: true,
        nonEnumerable: 2,
        sameEmitter: true,
        emits: true,
        patched: ["patched", "patched"],
        has: true,
        process: true
      })
    })
  )

  it.effect("split: each lazily imported part is a chunk, read only when used; a rebuild drops the old chunks", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      Fs.writeFileSync(Path.join(dir, "alpha.ts"), 'export const name: string = "first " + "part"\n')
      Fs.writeFileSync(Path.join(dir, "beta.ts"), 'export const name: string = "second " + "part"\n')
      const entry = Path.join(dir, "entry.ts")
      Fs.writeFileSync(
        entry,
        `const parts = { alpha: () => import("./alpha.ts"), beta: () => import("./beta.ts") }
const { name } = await parts[process.argv[2] as "alpha" | "beta"]()
const fs = await import("node:fs")
const loaded = fs.readdirSync(new URL("./out-chunks/", import.meta.url)).length
console.log(name, loaded)
`
      )
      const out = Path.join(dir, "out.js")
      const chunks = Path.join(dir, "out-chunks")
      Fs.mkdirSync(chunks)
      Fs.writeFileSync(Path.join(chunks, "stale-OLD.js"), "")
      const written = yield* bundle(entry, out, { split: true })
      const files = Fs.readdirSync(chunks).sort()
      expect(files.some((f) => f.startsWith("stale"))).toBe(false)
      expect(written.chunks).toBe(files.length)
      expect(files.filter((f) => /^(alpha|beta)-\w+\.js$/.test(f))).toHaveLength(2)
      // The entry holds neither part; each chunk holds its own.
      const code = Fs.readFileSync(out, "utf8")
      expect(code).not.toContain("first part")
      expect(code).not.toContain("second part")
      for (const [part, name] of [
        ["alpha", "first part"],
        ["beta", "second part"]
      ]) {
        const run = spawnSync(process.execPath, [out, part!], { encoding: "utf8" })
        expect(run.stderr).toBe("")
        expect(run.stdout).toBe(`${name} ${files.length}\n`)
      }
    })
  )

  it.effect("names the file and the line of what cannot be bundled", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const missing = yield* Effect.flip(bundle(Path.join(dir, "nope.ts"), Path.join(dir, "out.js")))
      expect(missing.message).toBe(`cannot bundle ${Path.join(dir, "nope.ts")}: no such file`)
      const broken = Path.join(dir, "broken.ts")
      Fs.writeFileSync(broken, "export const x = 1\nconst y = (\n")
      const syntax = yield* Effect.flip(bundle(broken, Path.join(dir, "out.js")))
      expect(syntax._tag).toBe("BuildFailed")
      expect(syntax.reason).toMatch(/broken\.ts:3:0: Unexpected end of file$/)
      const unresolved = Path.join(dir, "unresolved.ts")
      Fs.writeFileSync(unresolved, 'import { x } from "./absent.ts"\nconsole.log(x)\n')
      const missingImport = yield* Effect.flip(bundle(unresolved, Path.join(dir, "out.js")))
      expect(missingImport.reason).toMatch(/unresolved\.ts:1:\d+: Could not resolve "\.\/absent\.ts"$/)
      expect(Fs.existsSync(Path.join(dir, "out.js"))).toBe(false)
    })
  )

  it("defaults to dist/NAME.js and reports what it wrote", () => {
    expect(defaultOut("src/plugin.ts")).toBe(Path.join("dist", "plugin.js"))
    expect(defaultOut("main.mjs")).toBe(Path.join("dist", "main.js"))
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-build-"))
    try {
      const run = dpk("build", example, "--out", Path.join(dir, "h.js"))
      expect(run.status).toBe(0)
      expect(run.stdout).toMatch(/h\.js: \d+ kB from \d+ source files; run it with node /)
      expect(Fs.existsSync(Path.join(dir, "h.js"))).toBe(true)
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
