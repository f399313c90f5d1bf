/**
 * Slow and idle clients: hundreds of connections that send their headers a byte at a time, or announce a body and
 * never send it, while a daemon keeps calling. The daemon's calls must all be answered, and the slow connections
 * closed by the plugin's timeouts: headers after 10 s (the server's `headersTimeout`), a stalled body after
 * `--body-idle-timeout-ms`, served at 5 s here (30 s by default) so that both fall inside the scenario. A slow
 * connection still open at the end counts as a wrong answer.
 */
import * as Net from "node:net"
import { mib, type Row } from "../row.ts"
import type { Target } from "../targets.ts"
import { exchange, request } from "../wire.ts"
import { sleep, withWorkspace } from "./support.ts"

/** The stalled-body timeout the plugin is served with; the scenario must last longer than the headers' 10 s. */
const bodyIdleTimeoutMs = 5_000

const withBodyIdleTimeout = (target: Target): Target => ({
  ...target,
  args: (dir) => [...target.args(dir), "--body-idle-timeout-ms", String(bodyIdleTimeoutMs)]
})

/** Runs the scenario with `connections` slow clients for `seconds` (more than 10). */
export const run = (target: Target, connections: number, seconds: number): Promise<Row> =>
  withWorkspace("slow", withBodyIdleTimeout(target), async ({ socket, start }) => {
    const plugin = await start()
    const closedAt: Array<number> = []
    const opened = Date.now()
    const slow = Array.from({ length: connections }, (_, i) => {
      const conn = Net.createConnection({ path: socket })
      conn.on("error", () => {})
      // Read (and drop) what comes back: a socket nobody reads never sees the plugin close it.
      conn.resume()
      conn.on("close", () => closedAt.push(Date.now() - opened))
      const head = request("/Plugin.Activate", '{"slow":true}')
      if (i % 2 === 0) {
        // Headers one byte at a time.
        let at = 0
        const timer = setInterval(() => {
          if (conn.destroyed || at >= head.length - 10) return clearInterval(timer)
          conn.write(head.subarray(at, at + 1))
          at++
        }, 200)
      } else {
        // Full headers, a body announced and never sent.
        conn.write(Buffer.concat([head.subarray(0, head.indexOf("\r\n\r\n") + 4)]))
      }
      return conn
    })
    const notes: Array<string> = []
    let calls = 0
    let unanswered = 0
    let slowest = 0
    const until = Date.now() + seconds * 1000
    while (Date.now() < until) {
      const t0 = Date.now()
      const { answers } = await exchange(socket, [request("/Plugin.Activate", "")], { expect: 1, timeoutMs: 5_000 })
      calls++
      if (answers[0] === undefined) unanswered++
      slowest = Math.max(slowest, Date.now() - t0)
      await sleep(100)
    }
    const stillOpen = slow.filter((c) => !c.destroyed).length
    notes.push(
      `${calls} daemon calls during ${seconds} s with ${connections} slow connections: slowest answer ${slowest} ms`,
      closedAt.length === 0
        ? `no slow connection closed by the plugin within ${seconds} s`
        : `${closedAt.length} slow connections closed by the plugin, the first after ${(Math.min(...closedAt) / 1000).toFixed(1)} s, the last after ${(Math.max(...closedAt) / 1000).toFixed(1)} s; ${stillOpen} still open`
    )
    if (stillOpen > 0) notes.push(`${stillOpen} slow connections outlived both timeouts`)
    for (const c of slow) c.destroy()
    const row: Row = {
      scenario: "slow clients",
      driver: target.driver,
      count: calls,
      crashes: plugin.alive() ? 0 : 1,
      unanswered,
      lost: 0,
      escapes: 0,
      wrong: stillOpen,
      peakRssMb: mib(plugin.peakRss()),
      notes
    }
    await plugin.stop()
    return row
  })
