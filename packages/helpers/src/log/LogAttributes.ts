/**
 * The attributes the engine's own log drivers attach to a container's entries, from its `--log-opt` values:
 * `labels` and `labels-regex` pick container labels, `env` and `env-regex` environment variables, and `tag` is a
 * template over the container (`{{.Name}}/{{.ID}}`). A plugin gets the same options and the container's labels and
 * environment in `StartLogging`'s `Info`; this computes what json-file would store in each record's `attrs`, so a
 * log plugin can keep them the same way (or send them on as labels).
 *
 * As in the daemon: a key named in `labels` (or `env`) that the container does not have is left out, later sources
 * override earlier ones (labels, labels-regex, env, env-regex, then tag), and the regular expressions match anywhere
 * in the name. They are JavaScript's, run by V8's linear-time engine as Go's RE2 runs them (a container's creator
 * cannot stall the plugin with `^(a+)+$`); they agree with RE2 on the usual patterns (`^com\.example\.`), and one
 * that engine cannot compile (a backreference, a lookaround, a repetition past `{16}`) fails with its reason. `tag`
 * takes the template's placeholders (`{{.Name}}`, `{{ .ID }}`, ...) but no functions or pipelines: a template with
 * any is refused with a message that says so, not half-rendered.
 *
 * @since 0.1.0
 */
import type { LogDriver } from "@docker-plugin-kit/protocol"
import * as Data from "effect/Data"
import * as Result from "effect/Result"
import * as Os from "node:os"
import * as V8 from "node:v8"

/**
 * A `--log-opt` that is unknown or has a value that cannot be used: the message names both (a driver's own options
 * fail with it too).
 *
 * @since 0.1.0
 */
export class LogOptionInvalid extends Data.TaggedError("LogOptionInvalid")<{
  readonly option: string
  readonly value: string
  readonly reason: string
}> {
  override get message() {
    return `log-opt ${this.option}=${this.value}: ${this.reason}`
  }
}

/**
 * The options read here.
 *
 * @since 0.1.0
 */
export const options: ReadonlyArray<string> = ["labels", "labels-regex", "env", "env-regex", "tag"]

/**
 * What a `tag` template can name, as the daemon's `logger.Info` answers it.
 *
 * @since 0.1.0
 */
export const placeholders: Readonly<Record<string, (info: LogDriver.Info) => string>> = {
  ID: (info) => info.ContainerID.slice(0, 12),
  FullID: (info) => info.ContainerID,
  Name: (info) => info.ContainerName.replace(/^\//, ""),
  // The daemon shortens the image ID with its `sha256:` prefix, so this is `sha256:` and five digits.
  ImageID: (info) => info.ContainerImageID.slice(0, 12),
  ImageFullID: (info) => info.ContainerImageID,
  ImageName: (info) => info.ContainerImageName,
  Command: (info) => [info.ContainerEntrypoint, ...(info.ContainerArgs ?? [])].join(" "),
  Hostname: () => Os.hostname(),
  DaemonName: (info) => info.DaemonName,
  ContainerID: (info) => info.ContainerID,
  ContainerName: (info) => info.ContainerName,
  ContainerEntrypoint: (info) => info.ContainerEntrypoint,
  ContainerImageID: (info) => info.ContainerImageID,
  ContainerImageName: (info) => info.ContainerImageName
}

const placeholder = /\{\{-?\s*\.([A-Za-z]+)\s*-?\}\}/g

/**
 * Renders a `tag` template for a container.
 *
 * @since 0.1.0
 */
export const renderTag = (info: LogDriver.Info, template: string): Result.Result<string, LogOptionInvalid> => {
  const invalid = (reason: string) => Result.fail(new LogOptionInvalid({ option: "tag", value: template, reason }))
  let unknown: string | undefined
  const rendered = template.replace(placeholder, (_, name: string) => {
    const field = Object.hasOwn(placeholders, name) ? placeholders[name] : undefined
    if (field === undefined) {
      unknown ??= name
      return ""
    }
    return field(info)
  })
  if (unknown !== undefined) {
    return invalid(`unknown placeholder {{.${unknown}}} (known: ${Object.keys(placeholders).join(", ")})`)
  }
  if (rendered.includes("{{") || rendered.includes("}}")) {
    return invalid("only placeholders such as {{.Name}} and {{.ID}} are supported, not functions or pipelines")
  }
  return Result.succeed(rendered)
}

/**
 * Whether `new RegExp(pattern, "l")` works: V8's linear-time engine, which only parses the `l` flag once its
 * `--enable-experimental-regexp-engine` flag is set. Set here, right before the first expression is compiled, rather
 * than asking every plugin to start Node with it; the flag only makes the parser accept `l`, so setting it while
 * running changes nothing else.
 */
let linearEngine: boolean | undefined
const hasLinearEngine = (): boolean => {
  if (linearEngine === undefined) {
    V8.setFlagsFromString("--enable-experimental-regexp-engine")
    try {
      // biome-ignore lint/complexity/useRegexLiterals: a literal with `l` would fail to parse before the flag is set
      new RegExp("", "l")
      linearEngine = true
    } catch {
      linearEngine = false
    }
  }
  return linearEngine
}

/**
 * Where `pattern` has a lookbehind (`(?<=`, `(?<!`), which V8's linear engine runs but Go's RE2 refuses: refused
 * here too, so an expression is taken exactly when json-file takes it. Escapes and character classes are skipped
 * (`\(?<=` and `[(?<=]` are plain characters).
 */
const hasLookbehind = (pattern: string): boolean => {
  let inClass = false
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === "\\") i++
    else if (inClass) inClass = c !== "]"
    else if (c === "[") inClass = true
    else if (pattern.startsWith("(?<=", i) || pattern.startsWith("(?<!", i)) return true
  }
  return false
}

const refusedByRe2 = "Go's RE2, which json-file uses, refuses it too"

/**
 * Compiles a `labels-regex` or `env-regex` for V8's linear-time engine (`l`), as Go's RE2 runs it: the pattern comes
 * from whoever creates the container, and a backtracking expression such as `^(a+)+$` would otherwise block the
 * plugin's event loop, and so every container's logging, for seconds per label. What that engine cannot run in linear
 * time (backreferences, lookarounds) is refused, as RE2 refuses it.
 */
const compile = (option: string, value: string): Result.Result<RegExp, LogOptionInvalid> => {
  const invalid = (reason: string) => Result.fail(new LogOptionInvalid({ option, value, reason }))
  if (!hasLinearEngine()) {
    return invalid(
      "this runtime has no linear-time regular expression engine (V8's --enable-experimental-regexp-engine)"
    )
  }
  if (hasLookbehind(value)) return invalid(`lookbehind is not supported: ${refusedByRe2}`)
  try {
    return Result.succeed(new RegExp(value, "l"))
  } catch (error) {
    const message = (error as Error).message
    if (!message.endsWith("Cannot be executed in linear time")) return invalid(message)
    // V8 also refuses counted repetitions past 16 (`a{17}`), which RE2 takes up to 1000.
    return invalid(
      `${message} (backreferences and lookarounds are refused, as ${refusedByRe2}; so are repetitions such as a{17} and above)`
    )
  }
}

/** `NAME=VALUE` entries as a map; one without `=` is left out, as the daemon leaves it. */
const environment = (entries: ReadonlyArray<string> | null): Map<string, string> => {
  const map = new Map<string, string>()
  for (const entry of entries ?? []) {
    const at = entry.indexOf("=")
    if (at >= 0) map.set(entry.slice(0, at), entry.slice(at + 1))
  }
  return map
}

/** Copies into `into` the entries of `from` named in the comma-separated `names`. */
const pick = (into: Record<string, string>, from: ReadonlyMap<string, string>, names: string | undefined) => {
  if (names === undefined || names === "") return
  for (const name of names.split(",")) {
    const value = from.get(name)
    if (value !== undefined) into[name] = value
  }
}

/** Copies into `into` the entries of `from` whose names `pattern` matches. */
const matching = (
  into: Record<string, string>,
  from: ReadonlyMap<string, string>,
  option: string,
  pattern: string | undefined
): Result.Result<void, LogOptionInvalid> => {
  if (pattern === undefined || pattern === "") return Result.void
  return Result.map(compile(option, pattern), (re) => {
    for (const [name, value] of from) if (re.test(name)) into[name] = value
  })
}

/**
 * The attributes of a container's entries (an empty object when its options ask for none). `defaultTag` is the
 * template used when `tag` is not set: json-file has none (no `tag` attribute), other drivers use `{{.ID}}`.
 *
 * @since 0.1.0
 */
export const of = (
  info: LogDriver.Info,
  settings: { readonly defaultTag?: string } = {}
): Result.Result<Readonly<Record<string, string>>, LogOptionInvalid> => {
  const config = info.Config ?? {}
  const labels = new Map(Object.entries(info.ContainerLabels ?? {}))
  const env = environment(info.ContainerEnv)
  // No prototype: a label or variable named `__proto__` is kept as any other name, not taken for the prototype.
  const attributes: Record<string, string> = Object.create(null)
  pick(attributes, labels, config.labels)
  const byLabel = matching(attributes, labels, "labels-regex", config["labels-regex"])
  if (Result.isFailure(byLabel)) return Result.fail(byLabel.failure)
  pick(attributes, env, config.env)
  const byEnv = matching(attributes, env, "env-regex", config["env-regex"])
  if (Result.isFailure(byEnv)) return Result.fail(byEnv.failure)
  const template = config.tag === undefined || config.tag === "" ? settings.defaultTag : config.tag
  if (template === undefined || template === "") return Result.succeed(attributes)
  return Result.map(renderTag(info, template), (tag) => {
    if (tag !== "") attributes.tag = tag
    return attributes
  })
}

const htmlUnsafe = /[<>&\u2028\u2029]/g
// In JSON.stringify's text: an escaped backslash (kept, so that the `b` of `\\b` is not taken for an escape), or the
// short escapes of backspace and form feed, which Go's encoder before Go 1.22 (Engine 20.10's) writes as \u0008 and
// \u000c.
const shortEscapes = /\\[\\bf]/g
const goEscape = (sequence: string) => (sequence === "\\b" ? "\\u0008" : sequence === "\\f" ? "\\u000c" : sequence)

/**
 * The attributes as Go's `json.Marshal` writes a `map[string]string`: keys sorted, `<`, `>`, `&`, U+2028 and
 * U+2029 escaped as `\u003c` and so on, and backspace and form feed as `\u0008` and `\u000c` (what json-file stores
 * in `attrs`).
 *
 * @since 0.1.0
 */
export const toGoJson = (attributes: Readonly<Record<string, string>>): string => {
  // Written key by key: an object would put keys that look like integers first, in numeric order.
  const members = Object.keys(attributes)
    .sort(compareBytes)
    .map((key) => `${JSON.stringify(key)}:${JSON.stringify(attributes[key])}`)
  return `{${members.join(",")}}`
    .replace(shortEscapes, goEscape)
    .replace(htmlUnsafe, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
}

const encoder = new TextEncoder()
// Go sorts map keys as byte strings: UTF-8 order, which differs from JavaScript's UTF-16 order past U+FFFF.
const compareBytes = (a: string, b: string): number => Buffer.compare(encoder.encode(a), encoder.encode(b))
