/**
 * `dpk discover`: the plugins the daemon would find (its enumeration: sockets, then spec files), each activated to
 * show what it implements.
 *
 * @since 0.1.0
 */
import { Discovery, Retry, Target, Timeouts } from "@docker-plugin-kit/client"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"

/**
 * Flags choosing the discovery folders, shared with `dpk probe`.
 *
 * @since 0.1.0
 */
export const folderFlags = {
  socketDir: Flag.String("socket-dir").pipe(
    Flag.withDescription(`Socket folder (default ${Discovery.daemonFolders.socketDir})`),
    Flag.optional
  ),
  specDirs: Flag.String("spec-dir").pipe(
    Flag.withDescription(
      `Spec-file folder, repeatable, in order (default ${Discovery.daemonFolders.specDirs.join(" then ")})`
    ),
    Flag.atLeast(0)
  )
} as const

/**
 * The folders the flags describe.
 *
 * @since 0.1.0
 */
export const foldersOf = (values: {
  readonly socketDir: Option.Option<string>
  readonly specDirs: ReadonlyArray<string>
}): Discovery.Folders =>
  Discovery.folders({
    ...(Option.isSome(values.socketDir) ? { socketDir: values.socketDir.value } : {}),
    ...(values.specDirs.length > 0 ? { specDirs: values.specDirs } : {})
  })

/**
 * One discovered plugin.
 *
 * @since 0.1.0
 */
export interface Entry {
  readonly name: string
  readonly transport: "unix" | "tcp" | "https" | null
  readonly address: string | null
  /** The socket or spec file that announced it. */
  readonly source: string | null
  readonly kind: Discovery.Kind | null
  /** What `/Plugin.Activate` answered; null when it could not be activated. */
  readonly implements: ReadonlyArray<string> | null
  readonly error?: string
}

const activateTimeout = Timeouts.fixed("5 seconds")

/**
 * Finds and activates every plugin in `folders`. Like the daemon's enumeration, nothing is waited for: a dead
 * socket is reported at once instead of retried for 15 s.
 *
 * @since 0.1.0
 */
export const discover = (folders: Discovery.Folders): Effect.Effect<ReadonlyArray<Entry>> =>
  Effect.flatMap(Discovery.all(folders), (found) =>
    Effect.forEach(
      found,
      ({ name, result }): Effect.Effect<Entry> => {
        if (Result.isFailure(result)) {
          const error = result.failure
          return Effect.succeed({
            name,
            transport: null,
            address: null,
            source: error._tag === "BadSpecFile" ? error.path : null,
            kind: null,
            implements: null,
            error: error.message
          })
        }
        const located = result.success
        const base = {
          name: located.name,
          transport: Discovery.transportOf(located.spec.address),
          address: located.spec.url,
          source: located.path,
          kind: located.kind
        }
        const activated = Effect.flatMap(
          Target.connect(Target.name(located.name, { folders, wait: false }), {
            retry: Retry.none,
            timeouts: activateTimeout
          }),
          (client) => client.activate
        )
        return Effect.scoped(activated).pipe(
          Effect.match({
            onSuccess: (m): Entry => ({ ...base, implements: m.Implements ?? [] }),
            onFailure: (e): Entry => ({ ...base, implements: null, error: e.message })
          })
        )
      },
      { concurrency: 8 }
    )
  )

const pad = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n")
}

/**
 * The entries as a table.
 *
 * @since 0.1.0
 */
export const table = (entries: ReadonlyArray<Entry>): string =>
  pad([
    ["NAME", "TRANSPORT", "ADDRESS", "FOUND IN", "IMPLEMENTS"],
    ...entries.map((e) => [
      e.name,
      e.transport ?? "-",
      e.address ?? "-",
      e.source ?? "-",
      e.implements === null ? `(${e.error ?? "unknown error"})` : e.implements.join(", ") || "(nothing)"
    ])
  ])

/**
 * The command.
 *
 * @since 0.1.0
 */
export const command = Command.make(
  "discover",
  {
    ...folderFlags,
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON"), Flag.withDefault(false))
  },
  (values) =>
    Effect.gen(function* () {
      const folders = foldersOf(values)
      const entries = yield* discover(folders)
      if (values.json) return yield* Console.log(JSON.stringify(entries, null, 2))
      if (entries.length === 0) {
        return yield* Console.log(`no plugins found in ${[folders.socketDir, ...folders.specDirs].join(", ")}`)
      }
      yield* Console.log(table(entries))
    })
).pipe(Command.withDescription("List the plugins the daemon would find, with what each implements"))
