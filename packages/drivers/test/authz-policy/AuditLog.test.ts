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
})
