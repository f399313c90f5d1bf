/**
 * What both benchmark servers agree on: the volume they hold, the request the load generator sends, and the
 * messages a server child sends its parent over the IPC channel.
 */

/** The volume every `Get` asks for. */
export const volumeName = "bench"

/** Both servers report this creation time, so their answers are byte-identical. */
export const createdAt = "2026-01-02T03:04:05.678Z"

/** Mountpoint prefix both servers report. */
export const mountRoot = "/run/docker-plugin-kit/memory"

/** The call under test. */
export const path = "/VolumeDriver.Get"

/** The body the daemon sends for it (Go's json.Encoder adds a newline). */
export const requestBody = `${JSON.stringify({ Name: volumeName })}\n`

/** The `Accept` header the daemon sends. */
export const accept = "application/vnd.docker.plugins.v1.2+json"

/** A server child's messages to its parent. */
export interface ChildMessage {
  readonly type: "stats"
  readonly rss: number
  readonly heapUsed: number
  readonly cpuUserMs: number
  readonly cpuSystemMs: number
}

/** The parent's messages to a server child. */
export type ParentMessage = { readonly type: "stats" }

/** Answers the parent's `stats` requests and exits when the parent goes away. */
export const serveParent = (): void => {
  process.on("message", (message: ParentMessage) => {
    if (message.type === "stats") {
      const memory = process.memoryUsage()
      const cpu = process.cpuUsage()
      const reply: ChildMessage = {
        type: "stats",
        rss: memory.rss,
        heapUsed: memory.heapUsed,
        cpuUserMs: cpu.user / 1000,
        cpuSystemMs: cpu.system / 1000
      }
      process.send?.(reply)
    }
  })
  // The parent is gone (crashed or killed): do not linger as an orphan.
  process.on("disconnect", () => process.kill(process.pid, "SIGTERM"))
}
