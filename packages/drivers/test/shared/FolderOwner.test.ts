/**
 * The owner file of a state folder: its record, the rules deciding whether its owner is live, and the claim on a real
 * folder against real other processes (a live child, an exited one).
 */
import { FolderOwner } from "@docker-plugin-kit/drivers"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { deadPid, liveProcess, zombieProcess } from "../support/processes.ts"
import { canMount, mountTmpfs } from "../support/tmpfs.ts"

const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-folder-owner-"))
afterAll(() => Fs.rmSync(base, { recursive: true, force: true }))
let n = 0
/** A fresh folder (made) for one test. */
const folder = () => {
  const dir = Path.join(base, `d${++n}`)
  Fs.mkdirSync(dir)
  return dir
}
const ownerFile = (dir: string) => Path.join(dir, "owner.pid")
const read = (dir: string) => Fs.readFileSync(ownerFile(dir), "utf8")
const hasProc = Fs.existsSync("/proc/sys/kernel/random/boot_id") && Fs.existsSync(`/proc/${process.pid}/stat`)
/** What this process writes. */
const mine = () => FolderOwner.format(FolderOwner.recordOf(process.pid, FolderOwner.hostFacts()))
const otherBoot = "00000000-0000-4000-8000-000000000000"

/** Facts of a made-up host: `alive` pids, with their start times (`undefined`: unreadable). */
const facts = (bootId: string | undefined, alive: Readonly<Record<number, string | undefined>>): FolderOwner.Facts => ({
  bootId,
  isAlive: (pid) => pid in alive,
  startTimeOf: (pid) => alive[pid]
})

describe("FolderOwner records", () => {
  it("formats PID BOOTID STARTTIME, or the pid alone, and reads both back", () => {
    const full = { pid: 42, bootId: "b00t", startTime: "1234" }
    expect(FolderOwner.format(full)).toBe("42 b00t 1234\n")
    expect(FolderOwner.parse(FolderOwner.format(full))).toEqual(full)
    expect(FolderOwner.format({ pid: 42 })).toBe("42\n")
    // The old format, as StoreFile wrote it.
    expect(FolderOwner.parse("42\n")).toEqual({ pid: 42 })
    expect(FolderOwner.parse("  42  ")).toEqual({ pid: 42 })
  })

  it("reads anything naming no single process as no owner", () => {
    for (const text of ["", "\n", "0\n", "-1\n", "1.5\n", "x\n", "42 b00t\n", "42 b00t x\n", "42 b00t 1 2\n"]) {
      expect(FolderOwner.parse(text)).toBeUndefined()
    }
    // Longer than a record: only its start is read, which must not pass for one.
    expect(FolderOwner.parse(`42${" ".repeat(FolderOwner.maxRecordBytes)}`)).toBeUndefined()
  })

  it("finds the start time after the last parenthesis, whatever the command name holds", () => {
    // Fields 3 to 21, then field 22 (the start time), then more.
    const rest = ["S", ...Array.from({ length: 18 }, (_, i) => String(i + 4)), "987654", "0", "0"].join(" ")
    expect(FolderOwner.parseStartTime(`1234 (node) ${rest}`)).toBe("987654")
    expect(FolderOwner.parseStartTime(`1234 (a) (b c) 5 6) ${rest}\n`)).toBe("987654")
    expect(FolderOwner.parseStartTime("1234 no parenthesis")).toBeUndefined()
    expect(FolderOwner.parseStartTime("1234 (short) S 1 2")).toBeUndefined()
  })
})

describe("FolderOwner.liveOwner", () => {
  const self = 100
  it("no record, this process' pid and a dead pid leave the folder free", () => {
    const host = facts("b", { 7: "70" })
    expect(FolderOwner.liveOwner(undefined, self, host)).toBeUndefined()
    expect(FolderOwner.liveOwner({ pid: self, bootId: "b", startTime: "1" }, self, host)).toBeUndefined()
    expect(FolderOwner.liveOwner({ pid: 8, bootId: "b", startTime: "70" }, self, host)).toBeUndefined()
    expect(FolderOwner.liveOwner({ pid: 8 }, self, host)).toBeUndefined()
  })

  it("a live pid of this boot, started when recorded, is the owner", () => {
    expect(FolderOwner.liveOwner({ pid: 7, bootId: "b", startTime: "70" }, self, facts("b", { 7: "70" }))).toBe(7)
  })

  it("a record of another boot is stale even though its pid is alive now", () => {
    expect(FolderOwner.liveOwner({ pid: 7, bootId: "a", startTime: "70" }, self, facts("b", { 7: "70" }))).toBe(
      undefined
    )
  })

  it("a pid reused by a process started at another time is stale", () => {
    expect(FolderOwner.liveOwner({ pid: 7, bootId: "b", startTime: "70" }, self, facts("b", { 7: "71" }))).toBe(
      undefined
    )
  })

  it("the old pid-only format, and a host without /proc, go by the pid alone", () => {
    expect(FolderOwner.liveOwner({ pid: 7 }, self, facts("b", { 7: "71" }))).toBe(7)
    expect(
      FolderOwner.liveOwner({ pid: 7, bootId: "a", startTime: "70" }, self, facts(undefined, { 7: undefined }))
    ).toBe(7)
  })

  it("a start time that cannot be read is taken for the owner's (refusing is the safe side)", () => {
    expect(FolderOwner.liveOwner({ pid: 7, bootId: "b", startTime: "70" }, self, facts("b", { 7: undefined }))).toBe(7)
  })

  it("records this process completely only when the host tells its boot and start time", () => {
    expect(FolderOwner.recordOf(7, facts("b", { 7: "70" }))).toEqual({ pid: 7, bootId: "b", startTime: "70" })
    expect(FolderOwner.recordOf(7, facts(undefined, { 7: "70" }))).toEqual({ pid: 7 })
    expect(FolderOwner.recordOf(7, facts("b", { 7: undefined }))).toEqual({ pid: 7 })
  })
})

describe("FolderOwner.claim on a real folder", () => {
  it.effect("writes this process' record (nothing else), and removes it at release", () =>
    Effect.gen(function* () {
      const dir = folder()
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* FolderOwner.claimScoped(dir)
          expect(read(dir)).toBe(mine())
          if (hasProc) expect(read(dir)).toMatch(new RegExp(`^${process.pid} \\S+ [0-9]+\\n$`))
          // No temporary file is left beside it.
          expect(Fs.readdirSync(dir)).toEqual(["owner.pid"])
        })
      )
      expect(Fs.readdirSync(dir)).toEqual([])
    })
  )

  it.effect("makes a missing folder", () =>
    Effect.gen(function* () {
      const dir = Path.join(folder(), "deeper", "state")
      yield* FolderOwner.claimScoped(dir)
      expect(read(dir)).toBe(mine())
    })
  )

  it.effect("refuses a folder a live other process owns, naming the folder and the pid, and leaves its file", () =>
    Effect.gen(function* () {
      const dir = folder()
      const pid = yield* liveProcess
      const record = FolderOwner.format(FolderOwner.recordOf(pid, FolderOwner.hostFacts()))
      Fs.writeFileSync(ownerFile(dir), record)
      const error = yield* Effect.flip(FolderOwner.claimScoped(dir))
      expect(error).toMatchObject({ _tag: "FolderInUse", folder: dir, owner: pid, inThisProcess: false })
      expect(error.message).toBe(`${dir} is in use by process ${pid}`)
      expect(read(dir)).toBe(record)
    })
  )

  it.effect("reads the old pid-only format: a live pid there is the owner", () =>
    Effect.gen(function* () {
      const dir = folder()
      const pid = yield* liveProcess
      Fs.writeFileSync(ownerFile(dir), `${pid}\n`)
      const error = yield* Effect.flip(FolderOwner.claimScoped(dir))
      expect(error).toMatchObject({ _tag: "FolderInUse", owner: pid })
      expect(read(dir)).toBe(`${pid}\n`)
    })
  )

  it.effect("takes over a dead owner's file (a crash, kill -9), in either format", () =>
    Effect.gen(function* () {
      for (const record of [(pid: number) => `${pid}\n`, (pid: number) => `${pid} ${otherBoot} 12345\n`]) {
        const dir = folder()
        Fs.writeFileSync(ownerFile(dir), record(deadPid()))
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* FolderOwner.claimScoped(dir)
            expect(read(dir)).toBe(mine())
          })
        )
      }
    })
  )

  it.effect.skipIf(!hasProc)("takes over a record of another boot, though its pid is alive now", () =>
    Effect.gen(function* () {
      const dir = folder()
      const pid = yield* liveProcess
      const startTime = FolderOwner.hostFacts().startTimeOf(pid)
      expect(startTime).toMatch(/^[0-9]+$/)
      Fs.writeFileSync(ownerFile(dir), FolderOwner.format({ pid, bootId: otherBoot, startTime: startTime! }))
      yield* FolderOwner.claimScoped(dir)
      expect(read(dir)).toBe(mine())
    })
  )

  it.effect.skipIf(!hasProc)("takes over a pid of this boot reused by a process started at another time", () =>
    Effect.gen(function* () {
      const dir = folder()
      const pid = yield* liveProcess
      const host = FolderOwner.hostFacts()
      const startTime = host.startTimeOf(pid)!
      const record = FolderOwner.format({ pid, bootId: host.bootId!, startTime: String(BigInt(startTime) + 1n) })
      Fs.writeFileSync(ownerFile(dir), record)
      yield* FolderOwner.claimScoped(dir)
      expect(read(dir)).toBe(mine())
    })
  )

  it.effect.skipIf(!hasProc)("takes over a zombie's record: a process that has exited, not yet reaped", () =>
    Effect.gen(function* () {
      const dir = folder()
      const zombie = yield* zombieProcess
      const host = FolderOwner.hostFacts()
      expect(host.isAlive(zombie)).toBe(false)
      Fs.writeFileSync(ownerFile(dir), FolderOwner.format(FolderOwner.recordOf(zombie, host)))
      yield* FolderOwner.claimScoped(dir)
      expect(read(dir)).toBe(mine())
    })
  )

  it.effect("refuses an owner file that is a symlink, without following it or removing its target", () =>
    Effect.gen(function* () {
      const dir = folder()
      const pid = yield* liveProcess
      // Planted by someone who can write in the folder: it points at a record elsewhere, of a live process.
      const elsewhere = Path.join(folder(), "record")
      const record = FolderOwner.format(FolderOwner.recordOf(pid, FolderOwner.hostFacts()))
      Fs.writeFileSync(elsewhere, record)
      Fs.symlinkSync(elsewhere, ownerFile(dir))
      const error = yield* Effect.flip(FolderOwner.claimScoped(dir))
      expect(error._tag).toBe("FolderOwnerError")
      expect(error.message).toBe(
        `read ${ownerFile(dir)}: it is a symlink, not a regular file; remove it if no plugin is running on ${dir}`
      )
      expect(Fs.lstatSync(ownerFile(dir)).isSymbolicLink()).toBe(true)
      expect(Fs.readFileSync(elsewhere, "utf8")).toBe(record)
    })
  )

  it.effect("refuses an owner file that is a FIFO at once, and a release leaves one planted meanwhile", () =>
    Effect.gen(function* () {
      const dir = folder()
      ChildProcess.execFileSync("mkfifo", [ownerFile(dir)])
      // Read as a file, a FIFO without a writer would block the whole process for good.
      const error = yield* Effect.flip(FolderOwner.claimScoped(dir))
      expect(error.message).toBe(
        `read ${ownerFile(dir)}: it is a FIFO, not a regular file; remove it if no plugin is running on ${dir}`
      )
      Fs.rmSync(ownerFile(dir))
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* FolderOwner.claimScoped(dir)
          Fs.rmSync(ownerFile(dir))
          ChildProcess.execFileSync("mkfifo", [ownerFile(dir)])
        })
      )
      expect(Fs.lstatSync(ownerFile(dir)).isFIFO()).toBe(true)
    })
  )

  it.effect.skipIf(!canMount)("leaves no temporary file when writing it fails (a full disk)", () =>
    Effect.gen(function* () {
      const dir = folder()
      yield* mountTmpfs(dir, "4k")
      // The one page of the file system taken: a new file can be made, not written.
      Fs.writeFileSync(Path.join(dir, "filler"), Buffer.alloc(4096))
      const error = yield* Effect.flip(FolderOwner.claim(dir))
      expect(error.message).toMatch(new RegExp(`^write ${ownerFile(dir)}\\.${process.pid}\\.[0-9a-f]+\\.tmp: ENOSPC`))
      expect(Fs.readdirSync(dir)).toEqual(["filler"])
    }).pipe(Effect.scoped)
  )

  it.effect("refuses a second claim in this process, through a symlink too, until the first is released", () =>
    Effect.gen(function* () {
      const dir = folder()
      const alias = `${dir}-alias`
      Fs.symlinkSync(dir, alias)
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* FolderOwner.claimScoped(dir)
          for (const again of [dir, alias]) {
            const error = yield* Effect.flip(Effect.scoped(FolderOwner.claimScoped(again)))
            expect(error).toMatchObject({
              _tag: "FolderInUse",
              folder: again,
              owner: process.pid,
              inThisProcess: true
            })
          }
          // The refused claims did not remove the first one's file.
          expect(read(dir)).toBe(mine())
        })
      )
      yield* FolderOwner.claimScoped(alias)
      expect(read(dir)).toBe(mine())
    })
  )

  it.effect("release leaves a file that another process has written meanwhile", () =>
    Effect.gen(function* () {
      const dir = folder()
      const pid = yield* liveProcess
      const theirs = `${pid}\n`
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* FolderOwner.claimScoped(dir)
          Fs.writeFileSync(ownerFile(dir), theirs)
        })
      )
      expect(read(dir)).toBe(theirs)
      // ...and this process' claim is over all the same: the folder is refused only for that live owner.
      const exit = yield* Effect.exit(Effect.scoped(FolderOwner.claimScoped(dir)))
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain(`in use by process ${pid}`)
    })
  )

  it.effect("an owner file that cannot be read is an error naming it, not a free folder", () =>
    Effect.gen(function* () {
      const dir = folder()
      // A folder in the file's place: read fails with EISDIR (as root, permissions would not stop the read).
      Fs.mkdirSync(ownerFile(dir))
      const error = yield* Effect.flip(FolderOwner.claimScoped(dir))
      expect(error._tag).toBe("FolderOwnerError")
      expect(error.message).toContain(ownerFile(dir))
    })
  )
})
