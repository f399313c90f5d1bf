import { type PolicySource, PolicySourceNode } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-review-policy-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** Starts collecting the source's changes; returns a function giving what was collected so far. */
const collect = (source: PolicySource.Service) =>
  Effect.gen(function* () {
    const seen: Array<string> = []
    yield* Stream.runForEach(source.changes, (why) => Effect.sync(() => seen.push(why))).pipe(Effect.forkScoped)
    yield* Effect.sleep("150 millis")
    return seen
  })

describe("PolicySourceNode (review)", () => {
  it.live("sees an edit of the link's target after the target's folder was replaced under the same path", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      Fs.mkdirSync(Path.join(dir, "etc"))
      Fs.mkdirSync(Path.join(dir, "srv"))
      const file = Path.join(dir, "etc", "policy.yaml")
      Fs.writeFileSync(Path.join(dir, "srv", "policy.yaml"), "default: allow\nrules: []\n")
      Fs.symlinkSync(Path.join(dir, "srv", "policy.yaml"), file)
      const seen = yield* collect(PolicySourceNode.make(file, { quiet: 0 }))
      // A deployment tool swaps the whole folder by rename (the link's path stays the same string).
      Fs.mkdirSync(Path.join(dir, "srv.new"))
      Fs.writeFileSync(Path.join(dir, "srv.new", "policy.yaml"), "default: deny\nrules: []\n")
      Fs.renameSync(Path.join(dir, "srv"), Path.join(dir, "srv.old"))
      Fs.renameSync(Path.join(dir, "srv.new"), Path.join(dir, "srv"))
      yield* Effect.sleep("300 millis")
      expect(seen.length).toBeGreaterThan(0)
      const before = seen.length
      // Now an edit in place of the file the link leads to.
      Fs.writeFileSync(Path.join(dir, "srv", "policy.yaml"), "default: allow\nrules: [] # edited\n")
      yield* Effect.sleep("500 millis")
      expect(seen.length, "an edit of the current target after the folder swap").toBeGreaterThan(before)
    }).pipe(Effect.scoped)
  )

  it.live("sees the link's target folder coming back after it was deleted (link dangling for a while)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      Fs.mkdirSync(Path.join(dir, "etc"))
      Fs.mkdirSync(Path.join(dir, "srv"))
      const file = Path.join(dir, "etc", "policy.yaml")
      Fs.writeFileSync(Path.join(dir, "srv", "policy.yaml"), "default: allow\nrules: []\n")
      Fs.symlinkSync(Path.join(dir, "srv", "policy.yaml"), file)
      const source = PolicySourceNode.make(file, { quiet: 0 })
      const seen = yield* collect(source)
      Fs.rmSync(Path.join(dir, "srv"), { recursive: true })
      yield* Effect.sleep("300 millis")
      const before = seen.length
      Fs.mkdirSync(Path.join(dir, "srv"))
      Fs.writeFileSync(Path.join(dir, "srv", "policy.yaml"), "default: deny\nrules: []\n")
      yield* Effect.sleep("500 millis")
      expect(seen.length, "the target reappearing").toBeGreaterThan(before)
    }).pipe(Effect.scoped)
  )

  it.live("sees a swap of a link that is a folder of the path (a `current -> releases/N` deploy)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      for (const release of ["v1", "v2"]) {
        Fs.mkdirSync(Path.join(dir, "releases", release), { recursive: true })
        Fs.writeFileSync(Path.join(dir, "releases", release, "policy.yaml"), `default: allow\nrules: [] # ${release}\n`)
      }
      Fs.symlinkSync(Path.join("releases", "v1"), Path.join(dir, "current"))
      const file = Path.join(dir, "current", "policy.yaml")
      const why = yield* Effect.gen(function* () {
        const fiber = yield* Stream.runHead(PolicySourceNode.make(file).changes).pipe(
          Effect.timeoutOption("1500 millis"),
          Effect.forkChild
        )
        yield* Effect.sleep("150 millis")
        // Atomic switch to the new release, as Capistrano and similar tools do it.
        Fs.symlinkSync(Path.join("releases", "v2"), Path.join(dir, "current.tmp"))
        Fs.renameSync(Path.join(dir, "current.tmp"), Path.join(dir, "current"))
        return yield* Fiber.join(fiber)
      })
      expect(why._tag, "a link swapped in the path").toBe("Some")
    })
  )

  it.live("sees the policy once its folder, missing at start, is created", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = Path.join(dir, "conf", "policy.yaml")
      const seen = yield* collect(PolicySourceNode.make(file, { quiet: 0 }))
      Fs.mkdirSync(Path.join(dir, "conf"))
      Fs.writeFileSync(file, "default: allow\nrules: []\n")
      yield* Effect.sleep("500 millis")
      expect(seen, "the file appearing in a folder created after the start").not.toEqual([])
    }).pipe(Effect.scoped)
  )
})
