import { AuditLog, type AuthzPolicy } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Scope } from "effect"
import * as Exit from "effect/Exit"

const deny: AuthzPolicy.AuditEntry = {
  user: "alice",
  method: "POST",
  route: "containers/create",
  rule: "no-privileged",
  decision: "deny",
  reason: "no privileged containers"
}
const allow: AuthzPolicy.AuditEntry = { user: "-", method: "GET", route: "_ping", rule: "default", decision: "allow" }

const nextTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

describe("AuditLog.format", () => {
  it("writes one logfmt line with the entry's fields, quoting only values that need it", () => {
    const line = AuditLog.format(deny, new Date("2026-01-02T03:04:05.006Z"))
    expect(line).toBe(
      'timestamp=2026-01-02T03:04:05.006Z level=INFO message="authz decision" user=alice method=POST ' +
        'route=containers/create rule=no-privileged decision=deny reason="no privileged containers"\n'
    )
  })

  it("quotes empty values and escapes quotes, `=` and newlines, so one decision stays one line", () => {
    const line = AuditLog.format({ ...allow, user: "", rule: 'a"b', reason: "x=y\nforged=1" })
    expect(line).toContain('user="" ')
    expect(line).toContain('rule="a\\"b" ')
    expect(line).toContain('reason="x=y\\nforged=1"')
    expect(line.indexOf("\n")).toBe(line.length - 1)
  })
})

describe("AuditLog.format, with text from the request", () => {
  it("escapes control, format and separator characters, so no reader sees a second line or a terminal command", () => {
    const line = AuditLog.format({
      ...allow,
      user: "a\u0085timestamp=x level=INFO message=forged",
      route: "x\u001b[2Jy\u2028z\u202eq\u007f"
    })
    expect(line).toContain('user="a\\u0085timestamp=x level=INFO message=forged" ')
    expect(line).toContain('route="x\\u001b[2Jy\\u2028z\\u202eq\\u007f" ')
    expect(line.slice(0, -1)).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u)
    // Printable text other than ASCII stays as it is.
    expect(AuditLog.format({ ...allow, user: "jos\u00e9" })).toContain("user=jos\u00e9 ")
  })
})

describe("AuditLog.make", () => {
  it.effect("queues the lines of one turn and writes them together after it", () =>
    Effect.gen(function* () {
      const writes: Array<string> = []
      const scope = yield* Scope.make()
      const audit = yield* AuditLog.make((text) => void writes.push(text)).pipe(Scope.provide(scope))
      yield* audit(deny)
      yield* audit(allow)
      // Nothing is written while the turn (in the plugin: the answer) is still going on.
      expect(writes).toEqual([])
      yield* nextTurn
      expect(writes).toHaveLength(1)
      const lines = writes[0]!.trimEnd().split("\n")
      expect(lines).toHaveLength(2)
      expect(lines[0]).toContain("rule=no-privileged decision=deny")
      expect(lines[1]).toContain("route=_ping rule=default decision=allow")
      yield* audit(allow)
      yield* nextTurn
      expect(writes).toHaveLength(2)
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.effect("writes what is still queued when its scope closes", () =>
    Effect.gen(function* () {
      const writes: Array<string> = []
      const scope = yield* Scope.make()
      const audit = yield* AuditLog.make((text) => void writes.push(text)).pipe(Scope.provide(scope))
      yield* audit(deny)
      yield* Scope.close(scope, Exit.void)
      expect(writes).toHaveLength(1)
      expect(writes[0]).toContain("decision=deny")
      // The turn's own flush then finds nothing left: no empty or repeated write.
      yield* nextTurn
      expect(writes).toHaveLength(1)
    })
  )

  it.effect("drops and counts the lines an output refuses or fails to take, warns once, and reports the count", () =>
    Effect.gen(function* () {
      const writes: Array<string> = []
      const warnings: Array<string> = []
      let mode: "refuse" | "fail" | "take" = "refuse"
      const scope = yield* Scope.make()
      const audit = yield* AuditLog.make(
        (text, done) => {
          if (mode === "refuse") return false
          if (mode === "fail") return void setImmediate(() => done(new Error("write EPIPE")))
          writes.push(text)
          done()
        },
        (line) => void warnings.push(line)
      ).pipe(Scope.provide(scope))
      yield* audit(deny)
      yield* audit(allow)
      yield* nextTurn
      mode = "fail"
      yield* audit(allow)
      yield* nextTurn
      yield* nextTurn
      // One warning when dropping starts, not one per batch.
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toMatch(
        /level=WARN message="authz-policy: the audit output takes no more lines .*dropping them"/
      )
      mode = "take"
      yield* audit(deny)
      yield* nextTurn
      expect(writes).toHaveLength(1)
      const lines = writes[0]!.trimEnd().split("\n")
      expect(lines[0]).toMatch(/level=WARN message="authz audit lines dropped: the output took no more" dropped=3$/)
      expect(lines[1]).toContain("decision=deny")
      mode = "refuse"
      yield* audit(allow)
      yield* Scope.close(scope, Exit.void)
      expect(warnings).toHaveLength(3)
      expect(warnings[2]).toContain("authz-policy: 1 audit lines were dropped")
    })
  )
})
