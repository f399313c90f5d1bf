// The daemon's retry window: the schedule in virtual time, then real plugins that come up late or never.
import { Discovery, Retry, Target } from "@docker-plugin-kit/client"
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as Path from "node:path"
import { serve, tempDir } from "./support.ts"

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

describe("the retry window in real time", () => {
  const late = (path: string) =>
    Effect.forkChild(Effect.andThen(Effect.sleep("3 seconds"), serve(path, VolumeMemory.layer())))

  it.live("reaches a plugin whose socket appears 3 s late (by socket path)", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "late.sock")
      yield* late(path)
      const started = Date.now()
      const client = yield* Target.connect(Target.socket(path))
      expect(yield* client.activate).toEqual({ Implements: ["VolumeDriver"] })
      const elapsed = Date.now() - started
      // Attempts at 0, 1, 3 (and 7) s: the one at 3 s or 7 s gets through.
      expect(elapsed).toBeGreaterThanOrEqual(2_900)
      expect(elapsed).toBeLessThan(8_000)
    })
  )

  it.live("finds a plugin by name whose socket appears 3 s late (discovery waits too)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* late(Path.join(dir, "late.sock"))
      const folders = Discovery.folders({ socketDir: dir, specDirs: [] })
      const started = Date.now()
      const client = yield* Target.connect(Target.name("late", { folders }))
      expect(yield* client.activate).toEqual({ Implements: ["VolumeDriver"] })
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_900)
    })
  )

  it.live(
    "gives up on a plugin that never comes up after the window, with a clear error",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const path = Path.join(dir, "never.sock")
        const folders = Discovery.folders({ socketDir: dir, specDirs: [] })
        const started = Date.now()
        const [bySocket, byName] = yield* Effect.all(
          [
            Effect.flip(Effect.flatMap(Target.connect(Target.socket(path)), (c) => c.activate)),
            Effect.flip(Target.connect(Target.name("never", { folders })))
          ],
          { concurrency: 2 }
        )
        const elapsed = Date.now() - started
        expect(bySocket._tag).toBe("PluginUnreachable")
        expect(bySocket.message).toMatch(
          new RegExp(
            `^Plugin\\.Activate: cannot reach the plugin at unix://${path}: connect ENOENT .* \\(5 attempts over 1[45](\\.\\d)?s\\)$`
          )
        )
        expect(byName._tag).toBe("PluginNotFound")
        expect(byName.message).toContain(`plugin "never" not found: no socket or spec file at ${path}`)
        expect(elapsed).toBeGreaterThanOrEqual(14_900)
        expect(elapsed).toBeLessThan(20_000)
      }),
    40_000
  )
})
