/**
 * Running a host program for a driver's Node port (`ip`, `iptables`): no shell, bounded in time and output.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"

/**
 * Runs `program` with `args` (30 seconds and 64 MiB of output at most) and answers its standard output. A failure is
 * made by `fail` from the program's error output (Node's message when it printed none) and the error's code
 * (`ENOENT`: no such program). Arguments Node refuses before any process starts (a NUL byte) fail the same way, with
 * no code: a failure of the call, not a defect that would skip the caller's clean-up.
 *
 * @since 0.1.0
 */
export const run = <E>(
  program: string,
  args: ReadonlyArray<string>,
  fail: (reason: string, code: string | undefined) => E
): Effect.Effect<string, E> =>
  Effect.callback<string, E>((resume) => {
    try {
      ChildProcess.execFile(
        program,
        args,
        { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error === null) return resume(Effect.succeed(stdout))
          const code = (error as NodeJS.ErrnoException).code
          resume(Effect.fail(fail(`${stderr}`.trim() || error.message, typeof code === "string" ? code : undefined)))
        }
      )
    } catch (error) {
      resume(Effect.fail(fail((error as Error).message, undefined)))
    }
  })
