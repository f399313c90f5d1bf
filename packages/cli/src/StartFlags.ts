/**
 * Start-up flags of a served driver (`Descriptor.startFlags`): V8 fixes heap sizes when the process starts, so
 * `v8.setFlagsFromString` cannot set them later. `dpk serve`, started without them (the installed `dpk` runs
 * under a plain `node`), replaces itself with the same command under node with the flags, keeping its process ID,
 * so a service manager or a pid file still follows it. A value someone gave node for such a flag stays theirs.
 *
 * @since 0.1.0
 */
import * as Descriptor from "@docker-plugin-kit/drivers/Descriptor"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"

/** A flag's name: `--max-semi-space-size` of `--max-semi-space-size=2`. */
const nameOf = (flag: string) => flag.split("=", 1)[0]!

/**
 * The start-up flags this process still needs: `flags` less those whose name node was already given with a value of
 * its own, one that is not among `defaults` (someone tuned it: theirs wins). The toolkit's defaults
 * (`Descriptor.defaultStartFlags`), which the repository's wrappers pass, still give way to a driver's own value.
 *
 * @since 0.1.0
 */
export const wanted = (
  execArgv: ReadonlyArray<string>,
  flags: ReadonlyArray<string>,
  defaults: ReadonlyArray<string>
): ReadonlyArray<string> => {
  const chosen = new Set(execArgv.filter((flag) => !defaults.includes(flag)).map(nameOf))
  return flags.filter((flag) => !chosen.has(nameOf(flag)))
}

/**
 * The arguments to start this command again with (for `execve`, the first being node itself), or `undefined` when
 * node already runs with every flag it still needs (`wanted`). The flags go after node's own, so their values win
 * over earlier ones.
 *
 * @since 0.1.0
 */
export const restartArgs = (
  execPath: string,
  execArgv: ReadonlyArray<string>,
  argv: ReadonlyArray<string>,
  flags: ReadonlyArray<string>,
  defaults: ReadonlyArray<string> = Descriptor.defaultStartFlags
): ReadonlyArray<string> | undefined => {
  const needed = wanted(execArgv, flags, defaults)
  return needed.every((flag) => execArgv.includes(flag))
    ? undefined
    : [execPath, ...execArgv, ...needed, ...argv.slice(1)]
}

/**
 * Whether this process is the `dpk` command itself, which may replace itself (default `false`: a command run
 * inside another program, a test runner's worker, never does). `bin.ts` sets it.
 *
 * @since 0.1.0
 */
export const Restartable = Context.Reference<boolean>("@docker-plugin-kit/cli/StartFlags/Restartable", {
  defaultValue: () => false
})

/**
 * Starts this process again under node with `flags` when it lacks one (it does not return then); a flag node was
 * given with a value other than `defaults`' is left as it is (`wanted`). It stays as it is, saying which flags to
 * give node, under systemd socket activation (Node closes the passed sockets on exec) and on a Node without
 * `process.execve` (before 22.15); it does nothing unless `Restartable`.
 *
 * @since 0.1.0
 */
export const ensure = (
  flags: ReadonlyArray<string>,
  defaults: ReadonlyArray<string> = Descriptor.defaultStartFlags
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const args = restartArgs(process.execPath, process.execArgv, process.argv, flags, defaults)
    if (args === undefined || !(yield* Restartable)) return
    if (process.env.LISTEN_FDS === undefined && typeof process.execve === "function") {
      return process.execve(process.execPath, [...args], process.env)
    }
    const missing = wanted(process.execArgv, flags, defaults).filter((flag) => !process.execArgv.includes(flag))
    yield* Effect.logWarning(`node was started without ${missing.join(" ")}: give them to node for a lower RSS`)
  })
