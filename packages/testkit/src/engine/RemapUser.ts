/**
 * A user to remap containers to (`dockerd --userns-remap NAME`, `DockerEngine.make({ usernsRemap })`): a system
 * user of its own with a range of 65 536 subordinate user and group IDs in `/etc/subuid` and `/etc/subgid`, placed
 * after every range those files already hold. Both are host-wide, so the user and exactly the lines added for it are
 * removed when the scope closes. Needs root and `useradd`.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"

/**
 * The user could not be made.
 *
 * @since 0.1.0
 */
export class RemapUserError extends Data.TaggedError("RemapUserError")<{ readonly reason: string }> {
  override get message() {
    return `cannot make a user to remap containers to: ${this.reason}`
  }
}

/**
 * The user: its name and the first host ID of its ranges (the containers' root on the host).
 *
 * @since 0.1.0
 */
export interface RemapUser {
  readonly name: string
  readonly start: number
  readonly size: number
}

const files = ["/etc/subuid", "/etc/subgid"] as const
const size = 65_536

const read = (file: string) => (Fs.existsSync(file) ? Fs.readFileSync(file, "utf8") : "")

/** The first ID after every range in the files, rounded up to a whole range (at least 1 000 000). */
const freeStart = (): number => {
  let end = 1_000_000
  for (const file of files) {
    for (const line of read(file).split("\n")) {
      const [, first, count] = line.split(":")
      const stop = Number(first) + Number(count)
      if (Number.isSafeInteger(stop) && stop > end) end = stop
    }
  }
  return Math.ceil(end / size) * size
}

const removeLine = (file: string, line: string) => {
  const lines = read(file).split("\n")
  const at = lines.indexOf(line)
  if (at >= 0) {
    lines.splice(at, 1)
    Fs.writeFileSync(file, lines.join("\n"))
  }
}

/**
 * Makes the user for the life of the scope.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<RemapUser, RemapUserError, Scope.Scope> = Effect.acquireRelease(
  Effect.try({
    try: () => {
      const name = `dpkremap${process.pid}${Math.random().toString(36).slice(2, 6)}`
      const made = ChildProcess.spawnSync(
        "useradd",
        ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        {
          encoding: "utf8"
        }
      )
      if (made.status !== 0) throw new Error(made.stderr.trim() || made.error?.message || "useradd failed")
      const start = freeStart()
      const line = `${name}:${start}:${size}`
      for (const file of files) {
        // On a line of its own, whether or not the file ends with a newline.
        const text = read(file)
        Fs.appendFileSync(file, `${text === "" || text.endsWith("\n") ? "" : "\n"}${line}\n`)
      }
      return { name, start, size, line }
    },
    catch: (error) => new RemapUserError({ reason: error instanceof Error ? error.message : String(error) })
  }),
  ({ name, line }) =>
    Effect.sync(() => {
      for (const file of files) removeLine(file, line)
      ChildProcess.spawnSync("userdel", [name], { stdio: "ignore" })
    })
).pipe(Effect.map(({ name, start }) => ({ name, start, size })))
