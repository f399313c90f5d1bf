import { KeyedLocks } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"

describe("KeyedLocks", () => {
  it.effect("serialises calls on one name, lets other names through, and forgets idle names", () =>
    Effect.gen(function* () {
      const locks = yield* KeyedLocks.make
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const holder = yield* Deferred.await(gate).pipe(
        Effect.andThen(Effect.sync(() => log.push("a1 done"))),
        locks.withLock("a"),
        Effect.forkChild
      )
      const waiter = yield* Effect.sync(() => log.push("a2 ran")).pipe(locks.withLock("a"), Effect.forkChild)
      yield* Effect.sync(() => log.push("b ran")).pipe(locks.withLock("b"))
      yield* Effect.yieldNow
      expect(log).toEqual(["b ran"])
      expect(locks.size()).toBe(1)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.join(waiter)
      expect(log).toEqual(["b ran", "a1 done", "a2 ran"])
      expect(locks.size()).toBe(0)
    })
  )

  it.effect("releases the lock when the effect fails", () =>
    Effect.gen(function* () {
      const locks = yield* KeyedLocks.make
      yield* Effect.flip(Effect.fail("boom").pipe(locks.withLock("x")))
      expect(yield* Effect.succeed("next").pipe(locks.withLock("x"))).toBe("next")
      expect(locks.size()).toBe(0)
    })
  )
})
