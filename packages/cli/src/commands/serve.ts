/**
 * `dpk serve DRIVER...`: serve reference drivers; one subcommand per driver descriptor, and several drivers in one
 * process on one socket (`dpk serve network-bridge ipam-pool --name N`: Activate lists every API they serve, the
 * flags are the union of theirs).
 *
 * @since 0.1.0
 */
import * as Descriptor from "@docker-plugin-kit/drivers/Descriptor"
import * as Descriptors from "@docker-plugin-kit/drivers/descriptors"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as Command from "effect/cli/Command"
import type * as Flag from "effect/cli/Flag"
import { cliName } from "../FlagName.ts"
import * as ServeFlags from "../ServeFlags.ts"

/**
 * The drivers named on the command line cannot be served together; nothing was started.
 *
 * @since 0.1.0
 */
export class ServeConflict extends Data.TaggedError("ServeConflict")<{ readonly reason: string }> {
  // Printed as one line before failing; the runtime need not print it again with a stack.
  override readonly [Runtime.errorReported] = false
  override get message() {
    return this.reason
  }
}

/**
 * The descriptor of several drivers served together: the APIs of all, the union of their flags, and their Layers
 * merged. Two drivers serving the same API, or declaring the same flag (or one of the shared serve flags), cannot
 * be combined.
 *
 * @since 0.1.0
 */
export const combine = (
  descriptors: ReadonlyArray<Descriptor.Descriptor<any, any>>
): Effect.Effect<Descriptor.Descriptor<any, any>, ServeConflict> =>
  Effect.gen(function* () {
    const names = descriptors.map((d) => d.name)
    const conflict = (reason: string) =>
      new ServeConflict({ reason: `cannot serve ${names.join(" and ")} in one process: ${reason}` })
    const seen = new Set<string>()
    for (const name of names) {
      if (seen.has(name)) return yield* conflict(`${name} is named twice`)
      seen.add(name)
    }
    const servedBy = new Map<string, string>()
    for (const d of descriptors) {
      for (const api of d.apis) {
        const other = servedBy.get(api.prefix)
        if (other !== undefined) return yield* conflict(`${other} and ${d.name} both serve ${api.prefix}`)
        servedBy.set(api.prefix, d.name)
      }
    }
    const shared = new Set(Object.values(ServeFlags.flags).map(cliName))
    const flags: Record<string, Flag.Flag<any>> = {}
    const owner = new Map<string, string>()
    for (const d of descriptors) {
      for (const [key, flag] of Object.entries(d.flags as Record<string, Flag.Flag<any>>)) {
        const name = cliName(flag)
        if (shared.has(name)) return yield* conflict(`${d.name} declares --${name}, which every serve command has`)
        const other = owner.get(name) ?? owner.get(`key:${key}`)
        if (other !== undefined) return yield* conflict(`${other} and ${d.name} both declare --${name}`)
        owner.set(name, d.name)
        owner.set(`key:${key}`, d.name)
        flags[key] = flag
      }
    }
    return {
      name: names.join("+"),
      description: `${names.join(" and ")} in one process, on one socket`,
      apis: descriptors.flatMap((d) => d.apis),
      flags,
      // Each driver's Layer reads its own flags from the union (the keys are distinct, checked above).
      layer: (values) => Layer.mergeAll(...(descriptors.map((d) => d.layer(values)) as [Layer.Layer<any, any>])),
      v8Flags: [...new Set(descriptors.flatMap((d) => d.v8Flags ?? []))],
      startFlags: [...new Set(descriptors.flatMap((d) => d.startFlags ?? []))]
    }
  })

const subcommandOf = (d: Descriptor.Descriptor<any, any>) =>
  ServeFlags.command(d.name, d.description, d.flags, d.layer, d.v8Flags, Descriptor.startFlagsOf(d))

const serveWith = (subcommands: ReadonlyArray<ReturnType<typeof subcommandOf>>) =>
  Command.make("serve").pipe(
    Command.withDescription("Serve reference plugins until SIGINT/SIGTERM (several: dpk serve A B --name N)"),
    // The registry is never empty; the tuple type is what withSubcommands asks for.
    Command.withSubcommands(subcommands as [(typeof subcommands)[number], ...typeof subcommands])
  )

/**
 * The command; one subcommand per reference driver.
 *
 * @since 0.1.0
 */
export const command = serveWith(Descriptors.all.map(subcommandOf))

/**
 * The command for `args` (`["serve", ...]`), and the arguments to run it on. When several driver names follow
 * `serve`, they become one combined subcommand (`A+B`, see `combine`), which needs `--name`.
 *
 * @since 0.1.0
 */
export const commandFor = (
  args: ReadonlyArray<string>,
  descriptors: ReadonlyArray<Descriptor.Descriptor<any, any>> = Descriptors.all
) =>
  Effect.gen(function* () {
    const byName = new Map(descriptors.map((d) => [d.name, d] as const))
    let end = 1
    while (end < args.length && byName.has(args[end]!)) end++
    const named = args.slice(1, end).map((n) => byName.get(n)!)
    const subcommands = descriptors.map(subcommandOf)
    if (named.length < 2) return { command: serveWith(subcommands), args }
    const rest = args.slice(end)
    const help = rest.some((a) => a === "--help" || a === "-h")
    if (!help && !rest.some((a) => a === "--name" || a.startsWith("--name="))) {
      return yield* new ServeConflict({
        reason: `serving ${named.map((d) => d.name).join(" and ")} together needs --name NAME (the plugin's name)`
      })
    }
    const combined = yield* combine(named)
    return {
      command: serveWith([...subcommands, subcommandOf(combined)]),
      args: [args[0]!, combined.name, ...rest]
    }
  }).pipe(Effect.tapError((e) => Console.error(`dpk serve: ${e.message}`)))
