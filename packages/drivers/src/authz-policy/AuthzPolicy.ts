/**
 * `authz-policy`: an authorization plugin deciding every Engine API request with the rules of a policy file
 * (`Policy`, evaluated by the pure `PolicyEval`), reloaded on SIGHUP and when the file changes.
 *
 * It fails closed: with no policy loaded (the file is missing or invalid at start), on a body it cannot read, and
 * on any internal error, it denies with a message saying why. A bad new policy never replaces a good one: the old
 * one stays and the log says why. Every decision on a request is one audit line (user, method, route, rule,
 * decision); responses (`AuthZRes`) are always allowed, since only the request can be reliably controlled.
 *
 * @since 0.1.0
 */
import { AuthzAnswer, AuthzRequest } from "@docker-plugin-kit/helpers"
import { Authorization } from "@docker-plugin-kit/protocol"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import type * as Scope from "effect/Scope"
import * as AuditFile from "./AuditFile.ts"
import * as AuditLog from "./AuditLog.ts"
import * as Policy from "./Policy.ts"
import * as PolicyEval from "./PolicyEval.ts"
import { PolicySource } from "./PolicySource.ts"
import * as PolicySourceNode from "./PolicySourceNode.ts"

/**
 * One decision, as audited.
 *
 * @since 0.1.0
 */
export interface AuditEntry {
  /** The TLS user, `-` without one. */
  readonly user: string
  readonly method: string
  /** The route template, or the path for a route outside the table. */
  readonly route: string
  readonly rule: string
  readonly decision: "allow" | "deny"
  readonly reason?: string
}

/**
 * Settings of the driver.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Changes closer together than this are reloaded once (editors write a file in several steps). Default 100 ms. */
  readonly settle?: Duration.Input
  /**
   * Where audit entries go; default: one logfmt line each on standard output (`AuditLog`), written after the answer.
   * `logAudit` sends them through the Effect logger instead.
   */
  readonly audit?: (entry: AuditEntry) => Effect.Effect<void>
}

/**
 * What is loaded.
 *
 * @since 0.1.0
 */
export type Status =
  | { readonly _tag: "Loaded"; readonly policy: Policy.Policy }
  | { readonly _tag: "Missing"; readonly reason: string }

/**
 * What a reload did.
 *
 * @since 0.1.0
 */
export type ReloadOutcome = "loaded" | "kept-previous" | "still-missing"

/**
 * The driver and its controls.
 *
 * @since 0.1.0
 */
export interface Handle {
  readonly driver: Authorization.Driver
  /** Reads and validates the policy again now. */
  readonly reload: (why: string) => Effect.Effect<ReloadOutcome>
  readonly status: Effect.Effect<Status>
}

/**
 * An audit through the Effect logger: one `authz decision` log line per decision, with the entry's fields as
 * annotations (the logger's own format and destination).
 *
 * @since 0.1.0
 */
export const logAudit = (entry: AuditEntry): Effect.Effect<void> =>
  Effect.logInfo("authz decision").pipe(
    Effect.annotateLogs({
      user: entry.user,
      method: entry.method,
      route: entry.route,
      rule: entry.rule,
      decision: entry.decision,
      ...(entry.reason === undefined ? {} : { reason: entry.reason })
    })
  )

const auditOf = (request: AuthzRequest.AuthzRequest, verdict: PolicyEval.Verdict): AuditEntry => ({
  user: request.user ?? "-",
  method: request.method || "-",
  route: request.route.template ?? (request.route.path || "-"),
  rule: verdict.rule,
  decision: verdict.allow ? "allow" : "deny",
  ...(verdict.message === undefined ? {} : { reason: verdict.message })
})

const answerOf = (verdict: PolicyEval.Verdict): AuthzAnswer.Decision =>
  verdict.allow ? AuthzAnswer.allow : AuthzAnswer.deny(verdict.message ?? "")

/**
 * Builds the driver over the `PolicySource`: loads the policy, then watches for changes for the life of the scope.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Handle, never, PolicySource | Scope.Scope> =>
  Effect.gen(function* () {
    const source = yield* PolicySource
    const audit = options.audit ?? (yield* AuditLog.make(AuditLog.stdout))
    const state = yield* Ref.make<Status>({ _tag: "Missing", reason: "not loaded yet" })

    // A defect while loading (a source that dies, a parser that throws) is a policy that did not load, not the end of
    // the plugin: at start it would stop the plugin from starting, later it would end the watch for good.
    const load = Effect.catchDefect(
      Effect.flatMap(source.read, (text) => Effect.fromResult(Policy.parse(text, source.location))),
      (defect) =>
        Effect.fail(
          new Policy.PolicyInvalid({
            source: source.location,
            reason: `internal error while loading: ${defect instanceof Error ? defect.message : String(defect)}`
          })
        )
    )
    // One reload at a time: two that overlap (SIGHUP while the start's load still reads, or `reload` called beside
    // the watch) could otherwise finish in the other order, and the older text would be installed last.
    const oneAtATime = yield* Semaphore.make(1)

    const reload = (why: string): Effect.Effect<ReloadOutcome> =>
      Semaphore.withPermit(
        oneAtATime,
        Effect.matchEffect(load, {
          onSuccess: (policy) =>
            Effect.as(
              Effect.andThen(
                Ref.set(state, { _tag: "Loaded", policy }),
                Effect.logInfo(`authz-policy: loaded ${policy.rules.length} rules from ${source.location} (${why})`)
              ),
              "loaded" as const
            ),
          onFailure: (error) =>
            Effect.flatMap(Ref.get(state), (current) =>
              current._tag === "Loaded"
                ? Effect.as(
                    Effect.logWarning(`authz-policy: kept the previous policy (${why}): ${error.message}`),
                    "kept-previous" as const
                  )
                : Effect.as(
                    Effect.andThen(
                      Ref.set(state, { _tag: "Missing", reason: error.message }),
                      Effect.logError(`authz-policy: no policy loaded, every request is denied: ${error.message}`)
                    ),
                    "still-missing" as const
                  )
            )
        })
      )

    const settle = Duration.fromInputUnsafe(options.settle ?? "100 millis")
    const changes = Duration.toMillis(settle) > 0 ? Stream.debounce(source.changes, settle) : source.changes
    yield* Effect.forkScoped(Stream.runForEach(changes, (why) => Effect.asVoid(reload(why))))
    yield* reload("start")

    const decide = (raw: Authorization.AuthZRequest): Effect.Effect<AuthzAnswer.Decision> =>
      Effect.flatMap(Ref.get(state), (status) => {
        const request = AuthzRequest.fromRequest(raw)
        const verdict: PolicyEval.Verdict =
          status._tag === "Loaded"
            ? PolicyEval.decide(status.policy, request)
            : { allow: false, rule: "no-policy", message: `authz-policy: no policy loaded: ${status.reason}` }
        return Effect.as(audit(auditOf(request, verdict)), answerOf(verdict))
      })

    // Fail closed: whatever goes wrong while deciding denies, with the reason, and is audited.
    const failClosed = (raw: Authorization.AuthZRequest, cause: Cause.Cause<unknown>) => {
      const squashed = Cause.squash(cause)
      const reason = `authz-policy: internal error: ${squashed instanceof Error ? squashed.message : String(squashed)}`
      const request = Result.try(() => AuthzRequest.fromRequest(raw))
      const entry: AuditEntry = {
        user: raw.User ?? "-",
        method: raw.RequestMethod ?? "-",
        route: Result.isSuccess(request) ? (request.success.route.template ?? request.success.route.path) : "-",
        rule: "internal-error",
        decision: "deny",
        reason
      }
      return Effect.as(
        Effect.andThen(Effect.logError(reason, cause), Effect.exit(audit(entry))),
        AuthzAnswer.deny(reason)
      )
    }

    const driver = AuthzAnswer.guard(
      Authorization.Authorization.of({
        authZReq: (raw) =>
          Effect.catchCause(
            Effect.suspend(() => decide(raw)),
            (cause) => failClosed(raw, cause)
          ),
        authZRes: () => Effect.succeed(AuthzAnswer.allow)
      })
    )
    return { driver, reload, status: Ref.get(state) }
  })

/**
 * The driver as a Layer over any `PolicySource`.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<Authorization.Authorization, never, PolicySource> =>
  Layer.effect(
    Authorization.Authorization,
    Effect.map(make(options), (handle) => handle.driver)
  )

/**
 * Settings of the driver reading a policy file.
 *
 * @since 0.1.0
 */
export interface NodeOptions extends Options {
  /** Reload when the file changes, as well as on SIGHUP (default `true`); `false`: on SIGHUP only. */
  readonly watch?: boolean
  /** Append the audit to this file (`AuditFile`, reopened on SIGHUP) instead of standard output; ignored with `audit`. */
  readonly auditFile?: string | undefined
}

/**
 * The driver reading the policy file `file` (reloaded on SIGHUP and, unless `watch` is off, when the file changes;
 * a file changed less than `settle` ago is read once it has been left alone that long). Fails to build when
 * `auditFile` cannot be opened.
 *
 * @since 0.1.0
 */
export const layerNode = (
  file: string,
  options: NodeOptions = {}
): Layer.Layer<Authorization.Authorization, AuditFile.AuditFileUnusable> => {
  const source = PolicySourceNode.layer(file, {
    ...(options.settle === undefined ? {} : { quiet: options.settle }),
    ...(options.watch === undefined ? {} : { watch: options.watch })
  })
  const { auditFile } = options
  const driver =
    auditFile === undefined || options.audit !== undefined
      ? layer(options)
      : Layer.unwrap(
          Effect.map(Effect.flatMap(AuditFile.open(auditFile), AuditLog.make), (audit) => layer({ ...options, audit }))
        )
  return driver.pipe(Layer.provide(source))
}
