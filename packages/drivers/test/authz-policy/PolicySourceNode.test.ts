import { type PolicySource, PolicySourceNode } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Stream } from "effect"
import * as ChildProcess from "node:child_process"
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

  it.live("reports a Kubernetes-style swap of a `..data` link, which changes no entry named like the file", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      // The layout of a ConfigMap volume: the file is a link through `..data`, itself a link to a dated folder.
      const version = (tag: string, policy: string) => {
        Fs.mkdirSync(Path.join(dir, tag))
        Fs.writeFileSync(Path.join(dir, tag, "policy.yaml"), policy)
      }
      version("..2026_01", "default: allow\nrules: []\n")
      Fs.symlinkSync("..2026_01", Path.join(dir, "..data"))
      Fs.symlinkSync("..data/policy.yaml", Path.join(dir, "policy.yaml"))
      const source = PolicySourceNode.make(Path.join(dir, "policy.yaml"), { quiet: 0 })
      const why = yield* firstChangeAfter(source, () => {
        version("..2026_02", "default: deny\nrules: []\n")
        Fs.symlinkSync("..2026_02", Path.join(dir, "..data_tmp"))
        Fs.renameSync(Path.join(dir, "..data_tmp"), Path.join(dir, "..data"))
        Fs.rmSync(Path.join(dir, "..2026_01"), { recursive: true })
      })
      expect(why._tag === "Some" && why.value).toBe("file changed")
      expect(yield* source.read).toBe("default: deny\nrules: []\n")
    })
  )

  it.live(
    "reports an edit of a link's target in another folder, and follows the link when it is pointed elsewhere",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        for (const folder of ["etc", "first", "second"]) Fs.mkdirSync(Path.join(dir, folder))
        const file = Path.join(dir, "etc", "policy.yaml")
        Fs.writeFileSync(Path.join(dir, "first", "real.yaml"), "default: allow\nrules: []\n")
        Fs.writeFileSync(Path.join(dir, "second", "real.yaml"), "default: allow\nrules: []\n")
        Fs.symlinkSync(Path.join(dir, "first", "real.yaml"), file)
        const source = PolicySourceNode.make(file)
        const edited = yield* firstChangeAfter(source, () =>
          Fs.writeFileSync(Path.join(dir, "first", "real.yaml"), "default: deny\nrules: []\n")
        )
        expect(edited._tag === "Some" && edited.value).toBe("file changed")
        // Pointed at another folder (replaced by rename, as `ln -sfn` does not): that folder's edits are seen now.
        const changes = yield* Stream.take(source.changes, 2).pipe(
          Stream.runCollect,
          Effect.timeout("5 seconds"),
          Effect.forkChild
        )
        yield* Effect.sleep("100 millis")
        Fs.symlinkSync(Path.join(dir, "second", "real.yaml"), Path.join(dir, "etc", "link.tmp"))
        Fs.renameSync(Path.join(dir, "etc", "link.tmp"), file)
        yield* Effect.sleep("300 millis")
        Fs.writeFileSync(Path.join(dir, "second", "real.yaml"), "default: deny\nrules: []\n")
        expect(yield* Fiber.join(changes)).toEqual(["file changed", "file changed"])
      })
  )

  it.live("reports, within its poll, what no folder watch sees: a folder created later, a link swapped above it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      // The policy's folder does not exist yet when the plugin starts.
      const later = Path.join(dir, "conf", "policy.yaml")
      const created = yield* firstChangeAfter(PolicySourceNode.make(later), () => {
        Fs.mkdirSync(Path.join(dir, "conf"))
        Fs.writeFileSync(later, "default: allow\nrules: []\n")
      })
      expect(created._tag === "Some" && created.value).toBe("file changed")
      // A release switch (`current -> releases/v2`, renamed over) in a folder above the policy's.
      for (const release of ["v1", "v2"]) {
        Fs.mkdirSync(Path.join(dir, "releases", release), { recursive: true })
        Fs.writeFileSync(Path.join(dir, "releases", release, "policy.yaml"), `default: allow\nrules: [] # ${release}\n`)
      }
      Fs.symlinkSync(Path.join("releases", "v1"), Path.join(dir, "current"))
      const switched = yield* firstChangeAfter(PolicySourceNode.make(Path.join(dir, "current", "policy.yaml")), () => {
        Fs.symlinkSync(Path.join("releases", "v2"), Path.join(dir, "current.tmp"))
        Fs.renameSync(Path.join(dir, "current.tmp"), Path.join(dir, "current"))
      })
      expect(switched._tag === "Some" && switched.value).toBe("file changed")
    })
  )

  it.live("watches the link's target folder again once it is replaced, or deleted and made again, at its path", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      for (const folder of ["etc", "srv"]) Fs.mkdirSync(Path.join(dir, folder))
      const target = Path.join(dir, "srv", "policy.yaml")
      Fs.writeFileSync(target, "default: allow\nrules: []\n")
      const file = Path.join(dir, "etc", "policy.yaml")
      Fs.symlinkSync(target, file)
      const source = PolicySourceNode.make(file, { quiet: 0 })
      // The folder swapped by rename (the link's text stays the same), then, after the poll, an edit in place.
      const swapped = yield* firstChangeAfter(source, () => {
        Fs.mkdirSync(Path.join(dir, "srv.new"))
        Fs.writeFileSync(Path.join(dir, "srv.new", "policy.yaml"), "default: deny\nrules: []\n")
        Fs.renameSync(Path.join(dir, "srv"), Path.join(dir, "srv.old"))
        Fs.renameSync(Path.join(dir, "srv.new"), Path.join(dir, "srv"))
      })
      expect(swapped._tag).toBe("Some")
      yield* Effect.sleep(Duration.millis(Duration.toMillis(PolicySourceNode.pollInterval) + 200))
      const edited = yield* firstChangeAfter(source, () => Fs.appendFileSync(target, "# edited\n"))
      expect(edited._tag).toBe("Some")
      // Deleted (the link dangles), then made again.
      const gone = yield* firstChangeAfter(source, () => Fs.rmSync(Path.join(dir, "srv"), { recursive: true }))
      expect(gone._tag).toBe("Some")
      const back = yield* firstChangeAfter(source, () => {
        Fs.mkdirSync(Path.join(dir, "srv"))
        Fs.writeFileSync(target, "default: allow\nrules: []\n")
      })
      expect(back._tag).toBe("Some")
    })
  )

  it.live("does not report a change of another file in the folder", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = Path.join(dir, "policy.yaml")
      Fs.writeFileSync(file, "default: allow\nrules: []\n")
      const source = PolicySourceNode.make(file)
      const quiet = yield* firstChangeAfter(source, () => Fs.writeFileSync(Path.join(dir, "notes.txt"), "x")).pipe(
        Effect.timeoutOption("600 millis")
      )
      expect(quiet._tag).toBe("None")
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

  it.live("reads only a regular file of at most maxBytes, and says what else it found", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      // Without the check a FIFO waited for a writer for ever (holding the plugin's start), /dev/zero filled the memory.
      const reasonOf = (name: string) =>
        Effect.map(
          Effect.flip(PolicySourceNode.make(Path.join(dir, name)).read.pipe(Effect.timeout("3 seconds"))),
          (e) => e.message
        )
      ChildProcess.execFileSync("mkfifo", [Path.join(dir, "fifo.yaml")])
      Fs.symlinkSync("/dev/zero", Path.join(dir, "zero.yaml"))
      Fs.mkdirSync(Path.join(dir, "folder.yaml"))
      Fs.writeFileSync(Path.join(dir, "big.yaml"), Buffer.alloc(PolicySourceNode.maxBytes + 1, "#"))
      expect(yield* reasonOf("fifo.yaml")).toMatch(/fifo\.yaml: a FIFO, not a regular file$/)
      expect(yield* reasonOf("zero.yaml")).toMatch(/zero\.yaml: a character device, not a regular file$/)
      expect(yield* reasonOf("folder.yaml")).toMatch(/folder\.yaml: a folder, not a regular file$/)
      expect(yield* reasonOf("big.yaml")).toContain(
        `big.yaml: ${PolicySourceNode.maxBytes + 1} bytes, more than the limit of ${PolicySourceNode.maxBytes} bytes`
      )
      Fs.writeFileSync(Path.join(dir, "big.yaml"), Buffer.alloc(PolicySourceNode.maxBytes, "#"))
      const whole = yield* PolicySourceNode.make(Path.join(dir, "big.yaml"), { quiet: 0 }).read
      expect(whole.length).toBe(PolicySourceNode.maxBytes)
    })
  )

  it.live("reads a file still being written only once it has been left alone for the quiet time", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = Path.join(dir, "policy.yaml")
      // A valid prefix of the policy: read as it stands, it would allow what the second rule denies.
      const prefix = "default: allow\nrules:\n  - { name: a, decision: deny, privileged: true }\n"
      const rest = "  - { name: b, decision: deny, hostMounts: [/etc] }\n"
      Fs.writeFileSync(file, prefix)
      const reading = yield* Effect.forkChild(PolicySourceNode.make(file, { quiet: "400 millis" }).read)
      yield* Effect.sleep("150 millis")
      Fs.appendFileSync(file, rest)
      expect(yield* Fiber.join(reading)).toBe(prefix + rest)
    })
  )
})
