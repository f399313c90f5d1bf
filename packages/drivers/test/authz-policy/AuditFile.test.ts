import { AuditFile, AuditLog, type AuthzPolicy } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { canMount, mountTmpfs } from "../support/tmpfs.ts"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-audit-file-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const entry = (rule: string): AuthzPolicy.AuditEntry => ({
  user: "alice",
  method: "POST",
  route: "containers/create",
  rule,
  decision: "deny"
})

/** Waits until `file` holds `count` lines (the audit writes after the turn, the file stream a little later). */
const linesOf = (file: string, count: number) =>
  Effect.gen(function* () {
    const read = () =>
      Fs.existsSync(file)
        ? Fs.readFileSync(file, "utf8")
            .split("\n")
            .filter((l) => l !== "")
        : []
    for (let i = 0; i < 100 && read().length < count; i++) yield* Effect.sleep("20 millis")
    return read()
  })

/**
 * Holds every thread of libuv's pool in a blocking read of a FIFO until `release`: a file write given meanwhile waits
 * in the pool's queue, so what the main thread does first is ordered for sure.
 */
const holdThreadPool = (dir: string) =>
  Effect.sync(() => {
    const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4)
    const fifo = Path.join(dir, "..", `${Path.basename(dir)}-hold.fifo`)
    ChildProcess.execFileSync("mkfifo", [fifo])
    const fd = Fs.openSync(fifo, "r+")
    let released = 0
    for (let i = 0; i < threads; i++) Fs.read(fd, Buffer.alloc(1), 0, 1, null, () => void released++)
    const release = Effect.gen(function* () {
      Fs.writeSync(fd, Buffer.alloc(threads))
      while (released < threads) yield* Effect.sleep("5 millis")
      Fs.closeSync(fd)
      Fs.rmSync(fifo)
    })
    return { release }
  })

describe("AuditFile", () => {
  it.live("appends each decision's line to the file, created readable by its owner only, keeping what it held", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = Path.join(dir, "audit.log")
      yield* Effect.scoped(
        Effect.gen(function* () {
          const audit = yield* AuditLog.make(yield* AuditFile.open(file))
          yield* audit(entry("first"))
          expect(yield* linesOf(file, 1)).toHaveLength(1)
        })
      )
      expect(Fs.statSync(file).mode & 0o777).toBe(0o600)
      // Opened again: appended after the first line, and the scope's close wrote the queued second line.
      yield* Effect.scoped(
        Effect.gen(function* () {
          const audit = yield* AuditLog.make(yield* AuditFile.open(file))
          yield* audit(entry("second"))
        })
      )
      const lines = Fs.readFileSync(file, "utf8").trimEnd().split("\n")
      expect(lines.map((l) => /rule=(\S+)/.exec(l)?.[1])).toEqual(["first", "second"])
    })
  )

  it.live(
    "refuses a symlink, a FIFO, a folder and a hard-linked file, without blocking and leaving them as they were",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const outside = Path.join(dir, "outside.txt")
        Fs.writeFileSync(outside, "untouched\n")
        Fs.symlinkSync(outside, Path.join(dir, "link.log"))
        ChildProcess.execFileSync("mkfifo", [Path.join(dir, "fifo.log")])
        Fs.mkdirSync(Path.join(dir, "folder.log"))
        Fs.linkSync(outside, Path.join(dir, "hard.log"))
        const reasonOf = (name: string) =>
          Effect.map(
            Effect.flip(Effect.scoped(AuditFile.open(Path.join(dir, name)))).pipe(Effect.timeout("3 seconds")),
            (e) => e.message
          )
        expect(yield* reasonOf("link.log")).toBe(
          `cannot write the audit to ${Path.join(dir, "link.log")}: a symlink, not a regular file`
        )
        expect(yield* reasonOf("fifo.log")).toMatch(/fifo\.log: (a FIFO, not a regular file|.*ENXIO.*)$/)
        expect(yield* reasonOf("folder.log")).toMatch(/folder\.log: .*EISDIR/)
        expect(yield* reasonOf("hard.log")).toMatch(/hard\.log: a file with 2 hard links: another name shares it$/)
        expect(Fs.readFileSync(outside, "utf8")).toBe("untouched\n")
      })
  )

  it.live("reopens the path on SIGHUP, as logrotate expects: later lines go to the new file", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = Path.join(dir, "audit.log")
      const audit = yield* AuditLog.make(yield* AuditFile.open(file))
      yield* audit(entry("before"))
      expect(yield* linesOf(file, 1)).toHaveLength(1)
      Fs.renameSync(file, `${file}.1`)
      process.kill(process.pid, "SIGHUP")
      yield* Effect.sleep("100 millis")
      yield* audit(entry("after"))
      expect((yield* linesOf(file, 1))[0]).toContain("rule=after")
      expect(Fs.readFileSync(`${file}.1`, "utf8")).toContain("rule=before")
      expect(Fs.readFileSync(`${file}.1`, "utf8")).not.toContain("rule=after")
    }).pipe(Effect.scoped)
  )

  it.live("keeps writing to the file it has when a reopen is refused, and says why", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = Path.join(dir, "audit.log")
      const warnings: Array<string> = []
      const audit = yield* AuditLog.make(yield* AuditFile.open(file, (line) => warnings.push(line)))
      Fs.renameSync(file, `${file}.1`)
      // Planted where the rotated file was: the reopen must not follow it.
      Fs.symlinkSync(Path.join(dir, "elsewhere.txt"), file)
      process.kill(process.pid, "SIGHUP")
      yield* Effect.sleep("100 millis")
      yield* audit(entry("kept"))
      expect((yield* linesOf(`${file}.1`, 1))[0]).toContain("rule=kept")
      expect(Fs.existsSync(Path.join(dir, "elsewhere.txt"))).toBe(false)
      expect(warnings.join("")).toContain(
        `cannot reopen the audit file ${file} (SIGHUP): a symlink, not a regular file; lines go to the file opened before`
      )
    }).pipe(Effect.scoped)
  )

  it.live(
    "keeps the texts in their order across a SIGHUP that reopens the same file, and writes them all before closing",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const file = Path.join(dir, "audit.log")
        const taken: Array<string> = []
        yield* Effect.scoped(
          Effect.gen(function* () {
            const write = yield* AuditFile.open(file)
            // Settled after the open, so the first text goes to the file at once.
            yield* Effect.sleep("20 millis")
            // A large text still being written when the next ones are given, and the file not rotated: the texts given
            // after the reopen must not overtake the one before it.
            write(`${"A".repeat(900 * 1024 - 1)}\n`, () => taken.push("A"))
            write("B\n", () => taken.push("B"))
            process.emit("SIGHUP", "SIGHUP")
            write("C\n", () => taken.push("C"))
          })
        )
        // The scope closed once every text was in the file.
        const lines = Fs.readFileSync(file, "utf8")
          .split("\n")
          .filter((l) => l !== "")
        expect(lines.map((l) => l[0])).toEqual(["A", "B", "C"])
        expect(taken).toEqual(["A", "B", "C"])
      })
  )

  it.live("starts on a line of its own after a record cut short before it opened the file (a crash mid-write)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = Path.join(dir, "audit.log")
      Fs.writeFileSync(file, 'timestamp=x level=INFO message="authz decision" user=al', { mode: 0o600 })
      yield* Effect.scoped(
        Effect.gen(function* () {
          const audit = yield* AuditLog.make(yield* AuditFile.open(file))
          yield* audit(entry("after"))
        })
      )
      const lines = Fs.readFileSync(file, "utf8").split("\n")
      expect(lines[0]).toBe('timestamp=x level=INFO message="authz decision" user=al')
      expect(lines[1]).toMatch(/^timestamp=\S+ level=INFO .* rule=after decision=deny$/)
      expect(lines).toHaveLength(3)
    })
  )

  it.live("once closed, takes no more text: the descriptor's number may name another file by then", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const other = Path.join(dir, "other.txt")
      const scope = yield* Scope.make()
      const audit = yield* Scope.provide(
        Effect.flatMap(AuditFile.open(Path.join(dir, "audit.log")), (write) => AuditLog.make(write)),
        scope
      )
      const write = yield* Scope.provide(AuditFile.open(Path.join(dir, "second.log")), scope)
      yield* Scope.close(scope, Exit.void)
      // Another part of the process opens files: they take the lowest free numbers, the audit files' old ones.
      const fds = Array.from({ length: 4 }, () => Fs.openSync(other, "a"))
      try {
        expect(write("late line\n", () => {})).toBe(false)
        // A decision audited while the plugin shuts down: its flush comes a turn later.
        yield* audit(entry("late"))
        yield* Effect.sleep("100 millis")
        expect(Fs.readFileSync(other, "utf8")).toBe("")
      } finally {
        for (const fd of fds) Fs.closeSync(fd)
      }
    })
  )

  it.live.skipIf(!canMount)(
    "ends a record cut short by a failed write even when a SIGHUP reopened the same file while it was in flight",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        yield* mountTmpfs(dir, "8k")
        const file = Path.join(dir, "audit.log")
        Fs.writeFileSync(file, "first\n", { mode: 0o600 })
        // The other page taken: the audit file's page has room for about 4 KB more.
        Fs.writeFileSync(Path.join(dir, "filler"), Buffer.alloc(4096))
        const results: Array<string> = []
        yield* Effect.scoped(
          Effect.gen(function* () {
            const write = yield* AuditFile.open(file)
            const pool = yield* holdThreadPool(dir)
            // Longer than the room left: written part-way, then ENOSPC; meanwhile a SIGHUP opens the same file,
            // whose last byte is still the newline of "first".
            write(`${"A".repeat(6000)}\n`, (error) => {
              results.push(error ? "A failed" : "A written")
              Fs.rmSync(Path.join(dir, "filler"))
              write("C\n", (e) => results.push(e ? "C failed" : "C written"))
            })
            process.emit("SIGHUP", "SIGHUP")
            yield* pool.release
            for (let i = 0; i < 100 && results.length < 2; i++) yield* Effect.sleep("10 millis")
          })
        )
        expect(results).toEqual(["A failed", "C written"])
        expect(Fs.readFileSync(file, "utf8").split("\n")).toContain("C")
      })
  )

  it.live("stops listening for SIGHUP once its scope closes", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const before = process.listenerCount("SIGHUP")
      yield* Effect.scoped(AuditFile.open(Path.join(dir, "audit.log")))
      expect(process.listenerCount("SIGHUP")).toBe(before)
    })
  )

  it.live.skipIf(!canMount)(
    "drops and counts lines while the disk is full, leaves no record torn, and writes again once there is room",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        yield* mountTmpfs(dir, "8k")
        const file = Path.join(dir, "audit.log")
        const warnings: Array<string> = []
        const audit = yield* AuditLog.make(yield* AuditFile.open(file), (line) => warnings.push(line))
        yield* audit(entry("first"))
        expect(yield* linesOf(file, 1)).toHaveLength(1)
        // The other page taken: the audit file's page has room for part of the next batch only.
        Fs.writeFileSync(Path.join(dir, "filler"), Buffer.alloc(4096))
        let written = 1
        for (let i = 0; i < 50; i++) yield* audit(entry(`batch-${written++}`))
        for (let i = 0; i < 100 && warnings.length === 0; i++) yield* Effect.sleep("20 millis")
        expect(warnings.join("")).toContain("the audit output takes no more lines")
        Fs.rmSync(Path.join(dir, "filler"))
        yield* audit(entry(`back-${written++}`))
        const read = () =>
          Fs.readFileSync(file, "utf8")
            .split("\n")
            .filter((l) => l !== "")
        for (let i = 0; i < 100 && !read().some((l) => l.includes(`rule=back-${written - 1} `)); i++) {
          yield* Effect.sleep("20 millis")
        }
        const lines = read()
        // One line, one record: the part of the batch that fitted is ended before the next record, not glued to it.
        expect(lines.filter((l) => l.split("timestamp=").length !== 2)).toEqual([])
        const dropped = Number(/ dropped=(\d+)$/.exec(lines.find((l) => l.includes("level=WARN")) ?? "")?.[1])
        const whole = lines.filter((l) => / rule=\S+ decision=deny$/.test(l))
        // Every decision is a whole line of the file or counted as dropped (all of a batch that failed part-way is).
        expect(dropped).toBeGreaterThanOrEqual(1)
        expect(whole.length + dropped).toBeGreaterThanOrEqual(written)
        expect(whole.at(-1)).toContain(`rule=back-${written - 1} `)
        expect(whole[0]).toContain("rule=first ")
      }).pipe(Effect.scoped)
  )
})
