// The daemon's retry window: the schedule in virtual time, then real plugins that come up late or never.
import { Discovery, Retry, Target } from "@docker-plugin-kit/client"
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { GraphDriver } from "@docker-plugin-kit/protocol"
import { Clock, Duration, Effect, Fiber, Logger, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Path from "node:path"
import { rawPlugin, serve, tempDir } from "./support.ts"

describe("Retry.daemon", () => {
  it("sleeps 1, 2, 4, 8 s, doubling up to the cap", () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => Retry.backoff(Retry.daemon, n))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000
    ])
  })

  it.effect("attempts at 0, 1, 3, 7 and 15 s, then gives up with the last error", () =>
    Effect.gen(function* () {
      const times: Array<number> = []
      const attempt = Effect.flatMap(Clock.currentTimeMillis, (now) => {
        times.push(now)
        return Effect.fail(`refused #${times.length}`)
      })
      const fiber = yield* Effect.forkChild(Effect.flip(Retry.retry(attempt, Retry.daemon, () => true)))
      yield* TestClock.adjust("5 minutes")
      const failure = yield* Fiber.join(fiber)
      expect(times).toEqual([0, 1000, 3000, 7000, 15000])
      expect(failure).toEqual({ error: "refused #5", attempts: 5, elapsedMs: 15000 })
    })
  )

  it.effect("a zero or negative delay still waits from 1 ms and doubles, so it gives up within its budget", () =>
    Effect.gen(function* () {
      for (const initial of [Duration.zero, Duration.millis(-1000)]) {
        const times: Array<number> = []
        const attempt = Effect.flatMap(Clock.currentTimeMillis, (now) => {
          times.push(now)
          return Effect.fail("refused")
        })
        const policy = { initial, cap: Duration.millis(100), budget: Duration.millis(300) }
        const fiber = yield* Effect.forkChild(Effect.flip(Retry.retry(attempt, policy, () => true)))
        yield* TestClock.adjust("1 second")
        const failure = yield* Fiber.join(fiber)
        const start = times[0]!
        expect(times.map((t) => t - start)).toEqual([0, 1, 3, 7, 15, 31, 63, 127, 227])
        expect(failure.attempts).toBe(9)
      }
    })
  )

  it.effect("does not retry errors the caller rejects", () =>
    Effect.gen(function* () {
      let calls = 0
      const failure = yield* Effect.flip(
        Retry.retry(
          Effect.suspend(() => {
            calls++
            return Effect.fail("answered 500")
          }),
          Retry.daemon,
          () => false
        )
      )
      expect([calls, failure.attempts]).toEqual([1, 1])
    })
  )
})

/** The client's retry warnings, captured instead of printed. */
const capturedWarnings = () => {
  const lines: Array<string> = []
  const layer = Logger.layer([Logger.make(({ message }) => void lines.push(String(message)))])
  return { lines, layer }
}

/** Waits, in real time, for a condition that socket I/O makes true (a failed connect, a listening server). */
const until = (condition: () => boolean): Effect.Effect<void> =>
  Effect.suspend(() =>
    condition() ? Effect.void : Effect.andThen(TestClock.withLive(Effect.sleep("2 millis")), until(condition))
  )

/** Lets forked fibers run up to their next sleep (discovery attempts are synchronous). */
const settle = Effect.repeat(Effect.yieldNow, { times: 20 })

// The schedule runs on the TestClock; only the sockets are real.
describe("the retry window against real sockets, in virtual time", () => {
  it.effect("reaches a plugin whose socket appears after the first attempt (by socket path), at 1 s", () => {
    const warnings = capturedWarnings()
    return Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "late.sock")
      const client = yield* Target.connect(Target.socket(path))
      const started = yield* Clock.currentTimeMillis
      const activation = yield* Effect.forkChild(client.activate)
      yield* until(() => warnings.lines.length === 1)
      yield* serve(path, VolumeMemory.layer())
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(activation)).toEqual({ Implements: ["VolumeDriver"] })
      expect((yield* Clock.currentTimeMillis) - started).toBe(1000)
      expect(warnings.lines).toEqual([
        expect.stringMatching(
          new RegExp(
            `^Unable to connect to plugin: unix://${path}/Plugin\\.Activate: connect ENOENT .*, retrying in 1s$`
          )
        )
      ])
    }).pipe(Effect.provide(warnings.layer))
  })

  it.effect("finds a plugin by name whose socket appears after the first look (discovery waits too)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const folders = Discovery.folders({ socketDir: dir, specDirs: [] })
      const connecting = yield* Effect.forkChild(Target.connect(Target.name("late", { folders })))
      yield* settle
      yield* serve(Path.join(dir, "late.sock"), VolumeMemory.layer())
      yield* TestClock.adjust("1 second")
      const client = yield* Fiber.join(connecting)
      expect(yield* client.activate).toEqual({ Implements: ["VolumeDriver"] })
    })
  )

  it.effect("gives up on a plugin that never comes up after the window, with a clear error", () => {
    const warnings = capturedWarnings()
    return Effect.gen(function* () {
      const dir = yield* tempDir
      const path = Path.join(dir, "never.sock")
      const folders = Discovery.folders({ socketDir: dir, specDirs: [] })
      const bySocket = yield* Effect.forkChild(
        Effect.flip(Effect.flatMap(Target.connect(Target.socket(path)), (c) => c.activate))
      )
      const byName = yield* Effect.forkChild(Effect.flip(Target.connect(Target.name("never", { folders }))))
      // Attempts at 0, 1, 3, 7 and 15 s: after each failed connect, move the clock to the next one.
      for (const [n, sleep] of [1, 2, 4, 8].entries()) {
        yield* until(() => warnings.lines.length === n + 1)
        yield* TestClock.adjust(`${sleep} seconds`)
      }
      const unreachable = yield* Fiber.join(bySocket)
      expect(unreachable._tag).toBe("PluginUnreachable")
      expect(unreachable.message).toMatch(
        new RegExp(
          `^Plugin\\.Activate: cannot reach the plugin at unix://${path}: connect ENOENT .* \\(5 attempts over 15s\\)$`
        )
      )
      expect(warnings.lines.map((l) => l.replace(/.*, /, ""))).toEqual([
        "retrying in 1s",
        "retrying in 2s",
        "retrying in 4s",
        "retrying in 8s"
      ])
      const notFound = yield* Fiber.join(byName)
      expect(notFound._tag).toBe("PluginNotFound")
      expect(notFound.message).toContain(`plugin "never" not found: no socket or spec file at ${path}`)
      expect(yield* Clock.currentTimeMillis).toBe(15_000)
    }).pipe(Effect.provide(warnings.layer))
  })
})

describe("a streamed request body and the retry window", () => {
  it.effect("retries a streamed ApplyDiff while the socket is missing: nothing of the stream was sent yet", () => {
    const warnings = capturedWarnings()
    return Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "graph.sock")
      const client = yield* Target.connect(Target.socket(path))
      const body = Stream.make(new TextEncoder().encode("abc"), new TextEncoder().encode("def"))
      let settled = false
      const applying = yield* Effect.forkChild(
        client
          .call(GraphDriver.Api.endpoints.applyDiff, { id: "a", parent: "", body })
          .pipe(Effect.ensuring(Effect.sync(() => (settled = true))))
      )
      yield* until(() => warnings.lines.length === 1 || settled)
      const { seen } = yield* rawPlugin(path, () => ({ status: 200, body: '{"Size":6}' }))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(applying)).toEqual({ Size: 6 })
      expect(seen.map((s) => [s.url, s.body])).toEqual([["/GraphDriver.ApplyDiff?id=a&parent=", "abcdef"]])
    }).pipe(Effect.provide(warnings.layer))
  })
})
