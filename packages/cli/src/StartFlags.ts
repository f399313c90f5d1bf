/**
 * Start-up flags of a served driver (`Descriptor.startFlags`): V8 fixes heap sizes when the process starts, so
 * `v8.setFlagsFromString` cannot set them later. `dpk serve`, started without them (the installed `dpk` runs
 * under a plain `node`), replaces itself with the same command under node with the flags, keeping its process ID,
 * so a service manager or a pid file still follows it.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"

/**
 * The arguments to start this command again with (for `execve`, the first being node itself), or `undefined` when
 * node already runs with every flag. The flags go after node's own, so their values win over earlier ones.
 *
 * @since 0.1.0
 */
export const restartArgs = (
  execPath: string,
  execArgv: ReadonlyArray<string>,
  argv: ReadonlyArray<string>,
  flags: ReadonlyArray<string>
): ReadonlyArray<string> | undefined =>
  flags.every((flag) => execArgv.includes(flag)) ? undefined : [execPath, ...execArgv, ...flags, ...argv.slice(1)]

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
 * Starts this process again under node with `flags` when it lacks one (it does not return then). It stays as it
 * is, saying which flags to give node, under systemd socket activation (Node closes the passed sockets on exec)
 * and on a Node without `process.execve` (before 22.15); it does nothing unless `Restartable`.
 *
 * @since 0.1.0
 */
export const ensure = (flags: ReadonlyArray<string>): Effect.Effect<void> =>
  Effect.gen(function* () {
    const args = restartArgs(process.execPath, process.execArgv, process.argv, flags)
    if (args === undefined || !(yield* Restartable)) return
    if (process.env.LISTEN_FDS === undefined && typeof process.execve === "function") {
      return process.execve(process.execPath, [...args], process.env)
    }
    yield* Effect.logWarning(`node was started without ${flags.join(" ")}: give them to node for a lower RSS`)
  })
