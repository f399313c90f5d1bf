import { AtomicFile } from "@docker-plugin-kit/drivers"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-atomic-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
const run = <A, E>(effect: Effect.Effect<A, E, import("effect").FileSystem.FileSystem>) =>
  effect.pipe(Effect.provide(NodeFileSystem.layer))

describe("AtomicFile", () => {
  it.effect("replaces a file with mode 0600 and leaves no temporary file behind", () =>
    run(
      Effect.gen(function* () {
        const file = Path.join(dir, "a.json")
        const tmp = Path.join(dir, "tmp")
        yield* AtomicFile.write(file, "one", tmp)
        yield* AtomicFile.write(file, new TextEncoder().encode("two"), tmp)
        expect(Fs.readFileSync(file, "utf8")).toBe("two")
        expect(Fs.statSync(file).mode & 0o777).toBe(0o600)
        expect(Fs.readdirSync(tmp)).toEqual([])
      })
    )
  )

  it.effect("keeps the old content and cleans up when the rename fails, naming the step and path", () =>
    run(
      Effect.gen(function* () {
        const target = Path.join(dir, "occupied")
        Fs.mkdirSync(Path.join(target, "child"), { recursive: true }) // a non-empty folder cannot be renamed over
        const tmp = Path.join(dir, "tmp2")
        const exit = yield* Effect.exit(AtomicFile.write(target, "x", tmp))
        expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(/AtomicFileError|rename/)
        const error = Exit.isFailure(exit) ? exit.cause : undefined
        expect(String(error)).toContain(`rename ${target}`)
        expect(Fs.readdirSync(tmp)).toEqual([])
        expect(Fs.existsSync(Path.join(target, "child"))).toBe(true)
      })
    )
  )

  it.effect("removes a file durably; a missing file is fine", () =>
    run(
      Effect.gen(function* () {
        const file = Path.join(dir, "b")
        Fs.writeFileSync(file, "b")
        yield* AtomicFile.remove(file)
        yield* AtomicFile.remove(file)
        expect(Fs.existsSync(file)).toBe(false)
      })
    )
  )

  it.effect("fails with the step and path when the folder is missing", () =>
    run(
      Effect.gen(function* () {
        const error = yield* Effect.flip(AtomicFile.remove(Path.join(dir, "missing-dir", "f")))
        expect(error._tag).toBe("AtomicFileError")
        expect(error.message).toMatch(/^fsync .*missing-dir: ENOENT/)
      })
    )
  )
})
