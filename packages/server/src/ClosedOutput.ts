/**
 * What a process does when the reader of its output goes away (`dpk serve | head -1`, a log collector that
 * restarts): it drops the output it can no longer write and carries on. A served plugin must not stop serving the
 * daemon because nobody reads its logs any more; a one-shot command finishes its work (and its clean-up) and exits
 * with its own status, 0 when it succeeded, so a `set -o pipefail` script piping it into `head` does not fail.
 * Node ignores SIGPIPE, so a write to a closed pipe fails with EPIPE instead, which `console` reports as an
 * unhandled `error` event on the stream: a stack trace and exit 1 without this. Kept apart from the server so that
 * a command line can use it without loading the server.
 *
 * @since 0.1.0
 */

/** The codes of a write to an output nobody reads any more (and of the writes after it). */
const closedCodes: ReadonlySet<string | undefined> = new Set(["EPIPE", "ERR_STREAM_DESTROYED"])

const onError = (error: NodeJS.ErrnoException): void => {
  // Any other failure of the output stays fatal, as without this listener.
  if (!closedCodes.has(error.code)) throw error
}

/**
 * Makes a closed stdout or stderr drop what is written to it instead of killing the process. Idempotent.
 *
 * @since 0.1.0
 */
export const tolerate = (streams: ReadonlyArray<NodeJS.WriteStream> = [process.stdout, process.stderr]): void => {
  for (const stream of streams) if (!stream.listeners("error").includes(onError)) stream.on("error", onError)
}
