import { type PolicySource, PolicySourceNode } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-policy-source-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** Collects the first change the source reports after `act`, within 5 s. */
const firstChangeAfter = (source: PolicySource.Service, act: () => void) =>
  Effect.gen(function* () {
    const fiber = yield* Stream.runHead(source.changes).pipe(Effect.timeout("5 seconds"), Effect.forkChild)
    // Let the watcher and the signal listener start before acting.
    yield* Effect.sleep("100 millis")
    act()
    return yield* Fiber.join(fiber)
  })

describe("PolicySourceNode", () => {
  it.live("reads the file, and says why it cannot", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = Path.join(dir, "policy.yaml")
      Fs.writeFileSync(file, "default: allow\nrules: []\n")
      const source = PolicySourceNode.make(file)
      expect(source.location).toBe(file)
      expect(yield* source.read).toBe("default: allow\nrules: []\n")
      const missing = yield* Effect.flip(PolicySourceNode.make(Path.join(dir, "nope.yaml")).read)
      expect(missing.message).toMatch(/^cannot read the policy .*nope\.yaml: ENOENT/)
    })
  )

  it.live("reports a file replaced by rename, as editors and deployment tools do", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = Path.join(dir, "policy.yaml")
      Fs.writeFileSync(file, "default: allow\nrules: []\n")
      Fs.writeFileSync(Path.join(dir, "other.txt"), "x")
      const why = yield* firstChangeAfter(PolicySourceNode.make(file), () => {
        Fs.writeFileSync(Path.join(dir, "policy.yaml.tmp"), "default: deny\nrules: []\n")
        Fs.renameSync(Path.join(dir, "policy.yaml.tmp"), file)
      })
      expect(why._tag === "Some" && why.value).toBe("file changed")
    })
  )

  it.live("reports SIGHUP, and the process survives it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = Path.join(dir, "policy.yaml")
      Fs.writeFileSync(file, "default: allow\nrules: []\n")
      const why = yield* firstChangeAfter(PolicySourceNode.make(file), () => process.kill(process.pid, "SIGHUP"))
      expect(why._tag === "Some" && why.value).toBe("SIGHUP")
      expect(process.listenerCount("SIGHUP")).toBe(0)
    })
  )
})
