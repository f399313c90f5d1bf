/**
 * The policy file of `authz-policy`: a default decision and rules matched top to bottom, as YAML or JSON,
 * validated with a Schema. Unknown keys are errors (a misspelt `privilged: true` must not turn a deny rule into
 * one that matches everything), every problem is reported with its place in the file.
 *
 * ```yaml
 * default: allow
 * rules:
 *   - name: no-privileged
 *     decision: deny
 *     message: privileged containers are not allowed
 *     privileged: true
 * ```
 *
 * @since 0.1.0
 */
import { ContainerSpec, EngineRoute } from "@docker-plugin-kit/helpers"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as Yaml from "yaml"

/**
 * The policy could not be read: the message says where and why.
 *
 * @since 0.1.0
 */
export class PolicyInvalid extends Schema.TaggedError<PolicyInvalid>()("PolicyInvalid", {
  source: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `invalid policy ${this.source}: ${this.reason}`
  }
}

const Decision = Schema.Literals(["allow", "deny"])

const AbsolutePath = Schema.String.check(
  Schema.makeFilter((s: string) => s.startsWith("/") || `expected an absolute host path, got "${s}"`)
)

const Method = Schema.String.check(
  Schema.isPattern(/^[A-Z]+$/, { message: "expected an upper-case HTTP method such as GET or POST" })
)

const RoutePattern = Schema.String.check(
  Schema.makeFilter(
    (s: string) =>
      s.includes("*") ||
      EngineRoute.templates.has(s) ||
      `unknown route "${s}": name a route of the Engine API table (e.g. containers/create, containers/{id}/exec) or use * (e.g. containers/*)`
  )
)

const Namespace = Schema.Literals(ContainerSpec.namespaces)
const Borrowed = Schema.Literals(ContainerSpec.borrowed)

/**
 * One rule: its conditions all hold (a list condition holds when any of its entries does) for the rule to match.
 *
 * @since 0.1.0
 */
export const Rule = Schema.Struct({
  /** Shown in audit lines. */
  name: Schema.NonEmptyString,
  decision: Decision,
  /** What a denied user reads after `authorization denied by plugin NAME: `; defaults to `denied by rule NAME`. */
  message: Schema.optionalKey(Schema.String),
  /** TLS common names; a request without a user never matches a rule that lists users. */
  users: Schema.optionalKey(Schema.Array(Schema.NonEmptyString)),
  methods: Schema.optionalKey(Schema.Array(Method)),
  /** Engine API route templates, `*` matching any text (e.g. `containers/*`, `*`). */
  routes: Schema.optionalKey(Schema.Array(RoutePattern)),
  /** `true`: the request asks for a privileged container or exec. */
  privileged: Schema.optionalKey(Schema.Literal(true)),
  /** Host paths: the request mounts one of them, a path under one, or a folder containing one. */
  hostMounts: Schema.optionalKey(Schema.Array(AbsolutePath)),
  /** Capabilities (with or without `CAP_`); adding `ALL` adds every one. */
  capAdd: Schema.optionalKey(Schema.Array(Schema.NonEmptyString)),
  /** Namespaces shared with the host. */
  hostNamespaces: Schema.optionalKey(Schema.Array(Namespace)),
  /** `true`: any device mapping or device cgroup rule; paths: a device under one of them. */
  devices: Schema.optionalKey(Schema.Union([Schema.Literal(true), Schema.Array(AbsolutePath)])),
  /**
   * Security options as `key=value` (`seccomp=unconfined`, `apparmor=unconfined`; a `:` spelling is read as the daemon
   * reads it), `*` matching any text (`seccomp=*`: any seccomp setting).
   */
  securityOpts: Schema.optionalKey(Schema.Array(Schema.NonEmptyString)),
  /**
   * What the request takes from another container (`volumes`, `network`, `pid`, `ipc`): whatever that container was
   * given comes with it, and the request does not say what that is.
   */
  fromContainers: Schema.optionalKey(Schema.Array(Borrowed)),
  /** Image references, `*` matching any text, compared with the reference as given and fully qualified. */
  images: Schema.optionalKey(Schema.Array(Schema.NonEmptyString))
})

/**
 * @since 0.1.0
 */
export type Rule = typeof Rule.Type

/**
 * A policy: the rules, and what happens when none matches.
 *
 * @since 0.1.0
 */
export const Policy = Schema.Struct({
  default: Decision,
  /** The message of a denial by default. */
  defaultMessage: Schema.optionalKey(Schema.String),
  rules: Schema.Array(Rule)
})

/**
 * @since 0.1.0
 */
export type Policy = typeof Policy.Type

/**
 * Problems named in the reason of an invalid policy; the others are counted. While no policy is loaded the reason is
 * the message of every denial, so a file of a thousand bad rules must not make each answer a thousand lines long.
 *
 * @since 0.1.0
 */
export const maxIssues = 10

/**
 * The aliases (`*name`) a policy may expand, counted as the `yaml` package counts them: a "billion laughs" file of
 * aliases of aliases goes over it long before it fills the memory.
 *
 * @since 0.1.0
 */
export const maxAliasCount = 100

const formatIssues = (error: Schema.SchemaError): string => {
  const issues = SchemaIssue.makeFormatterStandardSchemaV1()(error.issue).issues.map(({ path, message }) => {
    const at = (path ?? []).map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")
    const place = at === "" ? "(top)" : at.replace(/^\./, "")
    return message === "Expected no excess property" ? `${place}: unknown key` : `${place}: ${message}`
  })
  // A problem quotes the value it is about, which may be a whole line of the file.
  const shown = issues
    .slice(0, maxIssues)
    .map((issue) => (issue.length > 300 ? `${issue.slice(0, 300)}…` : issue))
    .join("; ")
  return issues.length > maxIssues ? `${shown}; and ${issues.length - maxIssues} more problems` : shown
}

const ruleNames = (policy: Policy): Result.Result<Policy, string> => {
  const seen = new Set<string>()
  for (const rule of policy.rules) {
    if (seen.has(rule.name)) return Result.fail(`two rules are named "${rule.name}"`)
    seen.add(rule.name)
  }
  return Result.succeed(policy)
}

/**
 * Decodes an already parsed document.
 *
 * @since 0.1.0
 */
export const decode = (document: unknown, source: string): Result.Result<Policy, PolicyInvalid> => {
  const decoded = Schema.decodeUnknownResult(Policy)(document, { onExcessProperty: "error", errors: "all" })
  if (Result.isFailure(decoded))
    return Result.fail(new PolicyInvalid({ source, reason: formatIssues(decoded.failure) }))
  return Result.mapError(ruleNames(decoded.success), (reason) => new PolicyInvalid({ source, reason }))
}

const firstLine = (message: string) => message.split("\n")[0]!

/**
 * Parses the text of a policy file, YAML or JSON (JSON is YAML; duplicate keys are errors in both). It is read
 * strictly: a warning of the YAML parser (an unknown tag such as `!foo` or `!!js/function`, an unsupported `%YAML`
 * version) is an error, as is a second document, so the policy loaded is the one the file says.
 *
 * @since 0.1.0
 */
export const parse = (text: string, source: string): Result.Result<Policy, PolicyInvalid> => {
  const invalid = (reason: string) => Result.fail(new PolicyInvalid({ source, reason }))
  let document: unknown
  try {
    // `logLevel: "error"`: warnings are read from the document, not printed; "silent" would also drop the error of
    // a second document.
    const parsed = Yaml.parseDocument(text, { uniqueKeys: true, prettyErrors: true, logLevel: "error" })
    const error = parsed.errors[0]
    if (error !== undefined) {
      // The parser stops nesting at its stack's end, and says so in its own words.
      return invalid(
        error.code === "RESOURCE_EXHAUSTION"
          ? `collections nested too deeply to read (${firstLine(error.message)})`
          : error.code === "MULTIPLE_DOCS"
            ? "the file holds more than one YAML document (a `---` line starts another); a policy is one"
            : firstLine(error.message)
      )
    }
    const warning = parsed.warnings[0]
    if (warning !== undefined) return invalid(firstLine(warning.message))
    document = parsed.toJS({ maxAliasCount })
  } catch (e) {
    const message = firstLine((e as Error).message)
    return invalid(
      /alias count/i.test(message)
        ? `more than ${maxAliasCount} aliases expanded (Policy.maxAliasCount): ${message}`
        : message
    )
  }
  if (document === null || document === undefined) return invalid("the file is empty")
  return decode(document, source)
}
