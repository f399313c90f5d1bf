/**
 * The exit code of a plugin process. Kept apart from the server so that a command line can use it without loading
 * the server.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"

/**
 * A `runMain` teardown for a process that serves until it is stopped: 0 when it was stopped (SIGINT/SIGTERM
 * interrupt it) and shut down cleanly, 1 when it failed, to start or while shutting down (Effect's default gives
 * 130 for a stop).
 *
 * @since 0.1.0
 */
export const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause) ? Runtime.defaultTeardown(exit, onExit) : onExit(0)
