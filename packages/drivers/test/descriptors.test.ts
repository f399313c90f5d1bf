import { describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"

const descriptors = Path.join(import.meta.dirname, "..", "src", "descriptors.ts")

/**
 * Imports the descriptors in a fresh Node process that records every module it loads, optionally builds the Layer
 * of one descriptor, and answers the URLs of the modules loaded.
 */
const modulesLoaded = (build?: string): ReadonlyArray<string> => {
  const script = `
    import { registerHooks } from "node:module"
    const loaded = []
    registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context) } })
    const { all, byName } = await import(${JSON.stringify(descriptors)})
    const name = process.argv[1]
    if (name) {
      const { Effect, Layer } = await import("effect")
      const d = byName(name)
      await Effect.runPromise(Effect.scoped(Layer.build(d.layer(Object.fromEntries(Object.keys(d.flags).map((k) => [k, undefined]))))).pipe(Effect.ignore))
    }
    process.stdout.write(JSON.stringify({ loaded, names: all.map((d) => d.name) }))
  `
  const out = ChildProcess.execFileSync(
    process.execPath,
    ["--conditions=@docker-plugin-kit/source", "--input-type=module", "-e", script, build ?? ""],
    { encoding: "utf8" }
  )
  return (JSON.parse(out) as { loaded: Array<string> }).loaded
}

describe("descriptors", () => {
  it("lists every driver without loading any driver's module or its libraries", () => {
    const urls = modulesLoaded()
    const loaded = urls.map((url) => Path.basename(url))
    expect(loaded).toContain("descriptor.ts")
    for (const module of [
      "VolumeLocal.ts",
      "VolumeMemory.ts",
      "GraphOverlay.ts",
      "IpamPool.ts",
      "LogFile.ts",
      "SecretFolder.ts"
    ]) {
      expect(loaded).not.toContain(module)
    }
    expect(urls.filter((url) => /tar-stream|ipaddr|protobuf|yaml/.test(url))).toEqual([])
  })

  it("loads a driver's module when its Layer is built", () => {
    const loaded = modulesLoaded("volume-memory").map((url) => Path.basename(url))
    expect(loaded).toContain("VolumeMemory.ts")
    expect(loaded).not.toContain("VolumeLocal.ts")
  })
})
