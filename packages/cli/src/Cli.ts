/**
 * The `dpk` command line. Each command's module is imported only when that command runs (the first argument names
 * it), so `dpk serve` does not load the client, the JSON Schema export or the bundler, and `dpk schema` no driver.
 * Help, version, and anything else load every command, so `dpk --help` lists them all.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Stdio from "effect/Stdio"
import * as Command from "effect/cli/Command"

/**
 * The version `dpk --version` prints.
 *
 * @since 0.1.0
 */
export const version = "0.1.0"

/**
 * The commands, in the order `dpk --help` lists them, each loaded on demand.
 *
 * @since 0.1.0
 */
export const commands = {
  serve: () => import("./commands/serve.ts").then((m) => m.command),
  schema: () => import("./commands/schema.ts").then((m) => m.command),
  discover: () => import("./commands/discover.ts").then((m) => m.command),
  probe: () => import("./commands/probe.ts").then((m) => m.command),
  build: () => import("./commands/build.ts").then((m) => m.command)
} as const

/**
 * The command names.
 *
 * @since 0.1.0
 */
export type Name = keyof typeof commands

const isName = (word: string | undefined): word is Name => word !== undefined && Object.hasOwn(commands, word)

/**
 * The root command with the commands `args` may need: only the named one when the first argument names one, else
 * all of them.
 *
 * @since 0.1.0
 */
export const rootFor = (args: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const first = args[0]
    const loaded = await Promise.all(isName(first) ? [commands[first]()] : Object.values(commands).map((l) => l()))
    return Command.make("dpk").pipe(
      Command.withDescription("docker-plugin-kit: write, serve, test and ship Docker Engine plugins"),
      // Never empty; the tuple type is what withSubcommands asks for.
      Command.withSubcommands(loaded as unknown as [(typeof loaded)[number], ...typeof loaded])
    )
  })

/**
 * Runs the command line on explicit arguments (without the program name).
 *
 * @since 0.1.0
 */
export const runWith = (args: ReadonlyArray<string>) =>
  Effect.flatMap(rootFor(args), (root) => Command.runWith(root, { version })(args))

/**
 * Runs the command line on `process.argv`.
 *
 * @since 0.1.0
 */
export const run = Stdio.Stdio.use(({ args }) => Effect.flatMap(args, runWith))
