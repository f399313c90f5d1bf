/**
 * `dpk init DIR --api volume|network|ipam|authz|log|graph|secret [--name NAME]`: a plugin project that works as
 * written: a driver, its tests with the testkit (in-process and over a socket, with the API's conformance suite), a
 * README, and scripts to serve, test, build and package it. The templates are real projects in this package's
 * `templates/` folder (one per API, named after it), type-checked, linted and tested with the kit.
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Fs from "node:fs"
import * as Path from "node:path"

/**
 * The project could not be written.
 *
 * @since 0.1.0
 */
export class InitFailed extends Data.TaggedError("InitFailed")<{
  readonly dir: string
  readonly reason: string
}> {
  override get message() {
    return `cannot create a plugin project in ${this.dir}: ${this.reason}`
  }
}

/** The templates folder: beside `src/` in the package, or beside the bundled `dist/dpk.js` once installed. */
const templatesDir = (): string | undefined => {
  for (let dir = import.meta.dirname; dir !== Path.dirname(dir); dir = Path.dirname(dir)) {
    const candidate = Path.join(dir, "templates")
    if (Fs.existsSync(Path.join(candidate, "volume", "package.json"))) return candidate
  }
  return undefined
}

/**
 * The APIs a project can be started for: each has a template folder of that name.
 *
 * @since 0.1.0
 */
export const apis = ["volume", "network", "ipam", "authz", "log", "graph", "secret"] as const

/**
 * @since 0.1.0
 */
export type Api = (typeof apis)[number]

const isApi = (api: string): api is Api => (apis as ReadonlyArray<string>).includes(api)

/** A name Docker accepts for a plugin: lower case letters, digits, `.`, `_` and `-`. */
const validName = (name: string) => /^[a-z0-9][a-z0-9._-]*$/.test(name)

/**
 * Writes the project for `api` into `dir` (absent or empty), naming the plugin `name`.
 *
 * @since 0.1.0
 */
export const write = (dir: string, api: string, name: string): Effect.Effect<ReadonlyArray<string>, InitFailed> =>
  Effect.gen(function* () {
    if (!isApi(api)) {
      return yield* new InitFailed({ dir, reason: `unknown --api ${JSON.stringify(api)}: one of ${apis.join(", ")}` })
    }
    const templates = templatesDir()
    if (templates === undefined || !Fs.existsSync(Path.join(templates, api, "package.json"))) {
      return yield* new InitFailed({ dir, reason: `the ${api} template is missing from this installation of dpk` })
    }
    if (!validName(name)) {
      return yield* new InitFailed({
        dir,
        reason: `plugin name ${JSON.stringify(name)} must match [a-z0-9][a-z0-9._-]*`
      })
    }
    // Checked before listing it: reading a file as a folder would throw instead of failing with InitFailed.
    if (Fs.existsSync(dir) && !Fs.statSync(dir).isDirectory()) {
      return yield* new InitFailed({ dir, reason: "not a folder" })
    }
    if (Fs.existsSync(dir) && Fs.readdirSync(dir).length > 0) {
      return yield* new InitFailed({ dir, reason: "the folder is not empty" })
    }
    return yield* Effect.try({
      try: () => {
        const written: Array<string> = []
        const copy = (from: string, to: string) => {
          Fs.mkdirSync(to, { recursive: true })
          for (const entry of Fs.readdirSync(from, { withFileTypes: true })) {
            if (entry.name === "node_modules" || entry.name === "dist") continue
            const source = Path.join(from, entry.name)
            const target = Path.join(to, entry.name)
            if (entry.isDirectory()) copy(source, target)
            else {
              Fs.writeFileSync(target, Fs.readFileSync(source, "utf8").replaceAll("__NAME__", name))
              written.push(Path.relative(dir, target))
            }
          }
        }
        copy(Path.join(templates, api), dir)
        return written
      },
      catch: (e) => new InitFailed({ dir, reason: (e as Error).message })
    })
  })

/**
 * The command.
 *
 * @since 0.1.0
 */
export const command = Command.make(
  "init",
  {
    dir: Argument.String("dir").pipe(Argument.withDescription("The project folder (created; must be empty)")),
    api: Flag.String("api").pipe(Flag.withDescription(`The plugin API: ${apis.join(", ")}`)),
    name: Flag.String("name").pipe(
      Flag.withDescription("The plugin's name (default: the folder's name)"),
      Flag.optional
    )
  },
  ({ dir, api, name }) =>
    Effect.gen(function* () {
      const plugin = Option.getOrElse(name, () => Path.basename(Path.resolve(dir)))
      const written = yield* write(dir, api, plugin)
      // "an ipam plugin", "an authz plugin": the article follows the sound of the API's name.
      const article = /^[aeiou]/.test(api) ? "an" : "a"
      yield* Console.log(
        `${dir}: ${article} ${api} plugin named ${plugin} (${written.length} files). Next: cd ${dir} && npm install && npm test`
      )
    })
).pipe(Command.withDescription("Start a plugin project: a working driver, its tests, and scripts to serve and ship it"))
