/**
 * One connection attempt, to tell whether something answers at an address a listener is about to take over (a
 * socket path, or the address a spec file names): the Unix and TCP listeners read its outcome each their own way.
 */
import * as Net from "node:net"

/** What an attempt came to: connected, failed with the system's error, or no answer within the time given. */
export type Outcome =
  | { readonly _tag: "Connected" }
  | { readonly _tag: "Failed"; readonly error: NodeJS.ErrnoException }
  | { readonly _tag: "TimedOut" }

/** Connects to `options` and closes again at once; never rejects. */
export const attempt = (options: Net.NetConnectOpts, timeoutMs = 1000): Promise<Outcome> =>
  new Promise((resolve) => {
    const socket = Net.connect(options)
    const done = (outcome: Outcome) => {
      socket.destroy()
      resolve(outcome)
    }
    socket.once("connect", () => done({ _tag: "Connected" }))
    socket.once("error", (error: NodeJS.ErrnoException) => done({ _tag: "Failed", error }))
    socket.setTimeout(timeoutMs, () => done({ _tag: "TimedOut" }))
  })
