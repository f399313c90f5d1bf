/**
 * Pulls the first chunk of a streamed answer before the answer is committed.
 *
 * The platform writes a streamed answer's status line before it pulls the stream, so a stream that failed at once
 * (a Diff whose layer folder is gone) could only close the connection: the daemon showed an EOF instead of the
 * driver's message. Pulled right after the driver call, such a failure is the call's failure, answered `{"Err"}`
 * like any other. Only that first chunk is held: the rest is pulled as the platform writes.
 */
import type { DriverFailure } from "@docker-plugin-kit/protocol"
import type * as Arr from "effect/Array"
import type * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Pull from "effect/Pull"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

type Chunks = Arr.NonEmptyReadonlyArray<Uint8Array>

/** The stream that gives `first`, then what `pull` gives, and closes `scope` (the stream's own) when it ends. */
const resumed = <E>(
  first: Chunks,
  pull: Pull.Pull<Chunks, E>,
  scope: Scope.Closeable
): Stream.Stream<Uint8Array, E> => {
  // Dropped once handed over: a reusable chunk is then referenced by its writer only. Only `head` is read by the
  // closures below: were `first` read there, it would live (and hold its chunk) as long as the stream.
  let head: Chunks | undefined = first
  return Stream.fromPull(
    Effect.sync(() =>
      Effect.suspend(() => {
        if (head === undefined) return pull
        const chunks = head
        head = undefined
        return Effect.succeed(chunks)
      })
    )
  ).pipe(Stream.onExit((exit) => Scope.close(scope, exit)))
}

/**
 * `stream` with its first chunk pulled: fails as the stream fails before that chunk, and gives an empty stream for
 * one that ends without any. The stream runs in a scope of its own, closed when the returned stream ends or when
 * pulling fails or is interrupted; it is a child of the request's scope, so it is closed too when the answer is
 * never written (a client gone before it).
 *
 * The first chunk is pulled by a fiber of that scope, which waits there until the scope is closed: what the stream
 * starts as it is first pulled (`Stream.unwrap`, a fiber forked with `Effect.forkChild`) then lives as long as the
 * stream, not only as long as the fiber that waited for the first chunk (a request of the in-process harness ends
 * once its answer is handed over, before the body is read). When the scope closes, that fiber is
 * interrupted before the stream's resources are released, as a stream interrupted while it is pulled is.
 *
 * @since 0.1.0
 */
export const started = <E>(stream: Stream.Stream<Uint8Array, E>): Effect.Effect<Stream.Stream<Uint8Array, E>, E> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.serviceOption(Scope.Scope), (parent) => {
      const scope = Option.isSome(parent) ? Scope.forkUnsafe(parent.value, "sequential") : Scope.makeUnsafe()
      // Made before the fiber is forked into `scope`: closed after it, in the reverse order.
      const resources = Scope.forkUnsafe(scope, "sequential")
      const first = Effect.flatMap(Scope.provide(Stream.toPull(stream), resources), (pull) =>
        Effect.map(pull, (chunks) => resumed(chunks, pull, scope))
      )
      const handed = Deferred.makeUnsafe<Stream.Stream<Uint8Array, E>, E | Cause.Done>()
      const starter = Effect.andThen(Deferred.into(first, handed), Effect.never)
      const ended = () => Effect.as(Scope.close(scope, Exit.void), Stream.empty)
      return Effect.andThen(
        Effect.forkIn(Effect.interruptible(starter), scope, { startImmediately: true }),
        Effect.onExit(restore(Pull.catchDone(Deferred.await(handed), ended)), (exit) =>
          Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void
        )
      )
    })
  )

/**
 * A driver's answer, with its first chunk pulled when it is a stream (see `started`). Anything else is left for the
 * handler to refuse.
 *
 * @since 0.1.0
 */
export const startedAnswer = (output: unknown): Effect.Effect<unknown, DriverFailure> =>
  Stream.isStream(output) ? started(output as Stream.Stream<Uint8Array, DriverFailure>) : Effect.succeed(output)
