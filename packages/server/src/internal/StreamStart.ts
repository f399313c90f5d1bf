/**
 * Pulls the first chunk of a streamed answer before the answer is committed.
 *
 * The platform writes a streamed answer's status line before it pulls the stream, so a stream that failed at once
 * (a Diff whose layer folder is gone) could only close the connection: the daemon showed an EOF instead of the
 * driver's message. Pulled as part of the driver call, such a failure is the call's failure, answered `{"Err"}`
 * like any other, under the same deadline. Only that first chunk is held: the rest is pulled as the platform writes.
 */
import type { DriverFailure } from "@docker-plugin-kit/protocol"
import type * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Pull from "effect/Pull"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

type Chunks = Arr.NonEmptyReadonlyArray<Uint8Array>

/** The stream that gives `first`, then what `pull` gives, and closes `scope` (the stream's own) when it ends. */
const resumed = <E>(first: Chunks, pull: Pull.Pull<Chunks, E>, scope: Scope.Closeable): Stream.Stream<Uint8Array, E> =>
  Stream.fromPull(
    Effect.sync(() => {
      // Dropped once handed over: a reusable chunk is then referenced by its writer only.
      let head: Chunks | undefined = first
      return Effect.suspend(() => {
        if (head === undefined) return pull
        const chunks = head
        head = undefined
        return Effect.succeed(chunks)
      })
    })
  ).pipe(Stream.onExit((exit) => Scope.close(scope, exit)))

/**
 * `stream` with its first chunk pulled: fails as the stream fails before that chunk, and gives an empty stream for
 * one that ends without any. The stream runs in a scope of its own, closed when the returned stream ends or when
 * pulling fails or is interrupted; it is a child of the request's scope, so it is closed too when the answer is
 * never written (a client gone before it).
 *
 * @since 0.1.0
 */
export const started = <E>(stream: Stream.Stream<Uint8Array, E>): Effect.Effect<Stream.Stream<Uint8Array, E>, E> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.serviceOption(Scope.Scope), (parent) => {
      const scope = Option.isSome(parent) ? Scope.forkUnsafe(parent.value, "sequential") : Scope.makeUnsafe()
      const first = Effect.flatMap(Scope.provide(Stream.toPull(stream), scope), (pull) =>
        Effect.map(pull, (chunks) => resumed(chunks, pull, scope))
      )
      const ended = () => Effect.as(Scope.close(scope, Exit.void), Stream.empty)
      return Effect.onExit(restore(Pull.catchDone(first, ended)), (exit) =>
        Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void
      )
    })
  )

/**
 * `method`, whose answer, when it is a stream, comes with its first chunk pulled (see `started`). Anything else is
 * left for the handler to refuse.
 *
 * @since 0.1.0
 */
export const firstChunkFirst =
  (method: (input: any) => Effect.Effect<unknown, DriverFailure>) =>
  (input: unknown): Effect.Effect<unknown, DriverFailure> =>
    Effect.flatMap(method(input), (output) =>
      Stream.isStream(output) ? started(output as Stream.Stream<Uint8Array, DriverFailure>) : Effect.succeed(output)
    )
