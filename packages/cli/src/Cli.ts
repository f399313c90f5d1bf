/**
 * The `dpk` command line. Each command's module is imported only when that command runs (the first argument names
 * it), so `dpk serve` does not load the client, the JSON Schema export or the bundler, and `dpk schema` no driver.
 * Help, version, and anything else load every command, so `dpk --help` lists them all.
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import * as Stdio from "effect/Stdio"
import * as Command from "effect/cli/Command"
import type { ServeConflict } from "./commands/serve.ts"

/**
 * The version `dpk --version` prints.
 *
 * @since 0.1.0
 */
export const version = "0.1.0"

const plain =
  <C>(load: () => Promise<{ readonly command: C }>) =>
  (args: ReadonlyArray<string>): Effect.Effect<{ readonly command: C; readonly args: ReadonlyArray<string> }> =>
    Effect.promise(() => load().then(({ command }) => ({ command, args })))

/**
 * The commands, in the order `dpk --help` lists them, each loaded on demand. A loader gets the arguments (`serve`
 * turns `serve A B` into one combined subcommand) and returns the command with the arguments to run it on.
 *
 * @since 0.1.0
 */
export const commands = {
  /** `dpk serve`: one or more drivers on one socket. */
  serve: (args: ReadonlyArray<string>) =>
    Effect.flatMap(
      Effect.promise(() => import("./commands/serve.ts")),
      (m) => m.commandFor(args)
    ),
  /** `dpk schema`: the JSON Schema documents of the APIs. */
  schema: plain(() => import("./commands/schema.ts")),
  /** `dpk discover`: the plugins the daemon would find. */
  discover: plain(() => import("./commands/discover.ts")),
  /** `dpk probe`: the conformance suites against a running plugin. */
  probe: plain(() => import("./commands/probe.ts")),
  /** `dpk build`: a plugin bundled into one file. */
  build: plain(() => import("./commands/build.ts")),
  /** `dpk package`: a managed (v2) plugin folder. */
  package: plain(() => import("./commands/package.ts")),
  /** `dpk init`: a new plugin project from a template. */
  init: plain(() => import("./commands/init.ts")),
  /** `dpk policy`: authz-policy policy files checked and tried without a daemon. */
  policy: plain(() => import("./commands/policy.ts"))
} as const

/**
 * The command names.
 *
 * @since 0.1.0
 */
export type Name = keyof typeof commands

type Subcommand = Effect.Success<ReturnType<(typeof commands)[Name]>>["command"]
type Loaded = { readonly command: Subcommand; readonly args: ReadonlyArray<string> }

const isName = (word: string | undefined): word is Name => word !== undefined && Object.hasOwn(commands, word)

/**
 * The root command with the commands `args` may need (only the named one when the first argument names one, else
 * all of them), and the arguments to run it on.
 *
 * @since 0.1.0
 */
export const rootFor = (args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const first = args[0]
    const loaders: ReadonlyArray<(args: ReadonlyArray<string>) => Effect.Effect<Loaded, ServeConflict>> = isName(first)
      ? [commands[first]]
      : Object.values(commands)
    const loaded = yield* Effect.forEach(loaders, (load) => load(args), { concurrency: "unbounded" })
    const root = Command.make("dpk").pipe(
      Command.withDescription("docker-plugin-kit: write, serve, test and ship Docker Engine plugins"),
      // Never empty; the tuple type is what withSubcommands asks for.
      Command.withSubcommands(loaded.map((l) => l.command) as [Subcommand, ...Array<Subcommand>])
    )
    return { root, args: isName(first) ? loaded[0]!.args : args }
  })

/**
 * Runs the command line on explicit arguments (without the program name).
 *
 * @since 0.1.0
 */
export const runWith = (args: ReadonlyArray<string>) =>
  Effect.flatMap(rootFor(args), ({ root, args }) => Command.runWith(root, { version })(args)).pipe(
    Effect.tapError((error) => reportOnce(isName(args[0]) ? `dpk ${args[0]}` : "dpk", error))
  )

/**
 * Prints a command's failure as one line on stderr (`dpk package: cannot package ...`) and marks it reported, so
 * `runMain` does not log it again with a timestamp and a stack trace on stdout. Failures already shown (usage errors
 * with the help, a probe's report, a serve conflict) are marked so and left alone.
 */
const reportOnce = (prefix: string, error: unknown): Effect.Effect<void> => {
  if (typeof error !== "object" || error === null) return Console.error(`${prefix}: ${String(error)}`)
  if ((error as Error)[Runtime.errorReported] === false) return Effect.void
  return Console.error(`${prefix}: ${(error as Error).message}`).pipe(
    Effect.andThen(Effect.sync(() => Object.assign(error, { [Runtime.errorReported]: false })))
  )
}

/**
 * Runs the command line on `process.argv`.
 *
 * @since 0.1.0
 */
export const run = Stdio.Stdio.use(({ args }) => Effect.flatMap(args, runWith))
