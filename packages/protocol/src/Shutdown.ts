/**
 * The start of a plugin server's shutdown, as a driver sees it.
 *
 * A server stopping (SIGTERM, `docker plugin disable`) stops taking calls and waits for the ones in flight before it
 * closes their connections. A streamed answer that never ends by itself, `ReadLogs` following a container for
 * `docker logs -f`, would hold that wait to its limit and then be cut mid-stream. Drivers end such answers at
 * `Started` instead (`endsAtShutdown`): the client sees a complete answer, and the server stops at once. The server
 * (`PluginServer.layer`) provides the signal to its calls; anywhere else it never fires.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

/**
 * Completes when the server serving this call starts to shut down; never, outside a server.
 *
 * @since 0.1.0
 */
export const Started = Context.Reference<Effect.Effect<void>>("@docker-plugin-kit/protocol/Shutdown/Started", {
  defaultValue: () => Effect.never
})

/**
 * `stream`, ended once the server starts to shut down: for answers that would go on until the client leaves (a
 * follower of new log lines). What it has emitted is sent, the element it is waiting for is not; a stream whose
 * elements are whole (sets of log frames) so ends on a boundary the client can read.
 *
 * @since 0.1.0
 */
export const endsAtShutdown = <A, E, R>(stream: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> =>
  Stream.unwrap(
    Effect.gen(function* () {
      return Stream.interruptWhen(stream, yield* Started)
    })
  )
