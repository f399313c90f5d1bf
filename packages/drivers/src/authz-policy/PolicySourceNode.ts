/**
 * `PolicySource` on the host: the policy is a file; it may have changed when the process gets SIGHUP or when the
 * file's folder reports a change for its name. The folder is watched, not the file, so an editor or a deployment
 * tool that replaces the file by renaming a new one over it is noticed too.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { PolicySource, PolicyUnreadable, type Service } from "./PolicySource.ts"

const signals = Stream.callback<string>((queue) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const onHangup = () => Queue.offerUnsafe(queue, "SIGHUP")
      // A listener also stops Node's default SIGHUP action (exit).
      process.on("SIGHUP", onHangup)
      return onHangup
    }),
    (onHangup) => Effect.sync(() => process.off("SIGHUP", onHangup))
  )
)

const fileChanges = (file: string) =>
  Stream.callback<string>((queue) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const name = Path.basename(file)
        try {
          const watcher = Fs.watch(Path.dirname(file), { persistent: false }, (_event, changed) => {
            if (changed === null || changed === name) Queue.offerUnsafe(queue, "file changed")
          })
          // A folder that goes away ends the watch; SIGHUP still works.
          watcher.on("error", () => watcher.close())
          return watcher
        } catch {
          return undefined
        }
      }),
      (watcher) => Effect.sync(() => watcher?.close())
    )
  )

/**
 * The service for a policy file.
 *
 * @since 0.1.0
 */
export const make = (file: string): Service => {
  const location = Path.resolve(file)
  return {
    location,
    read: Effect.tryPromise({
      try: () => Fs.promises.readFile(location, "utf8"),
      catch: (e) => new PolicyUnreadable({ source: location, reason: (e as Error).message })
    }),
    changes: Stream.merge(signals, fileChanges(location))
  }
}

/**
 * The service for a policy file, as a Layer.
 *
 * @since 0.1.0
 */
export const layer = (file: string): Layer.Layer<PolicySource> => Layer.succeed(PolicySource, make(file))
