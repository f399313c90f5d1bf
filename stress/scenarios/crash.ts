/**
 * `kill -9` at random moments of a create/mount/unmount/remove loop, many times over. After each restart every
 * acknowledged volume must be there, every acknowledged removal gone, nothing unknown listed, and the next calls
 * must work. Calls in flight at the kill may have landed either way.
 */
import type * as Plugin from "../plugin.ts"
import { mib, type Row } from "../row.ts"
import type { Target } from "../targets.ts"
import * as Volumes from "../volumes.ts"
import { sleep, withWorkspace } from "./support.ts"

const pool = Array.from({ length: 24 }, (_, i) => `v${i}`)

/** Runs `rounds` kill-and-restart rounds. */
export const run = (target: Target, rounds: number): Promise<Row | undefined> =>
  target.persistent
    ? withWorkspace("crash", target, async ({ socket, start }) => {
        // What the plugin acknowledged: true = exists, false = removed; names with a call in flight are unsure.
        const known = new Map<string, boolean>()
        const notes: Array<string> = []
        let crashes = 0
        let lost = 0
        let wrong = 0
        let calls = 0
        let peak = 0
        for (let round = 0; round < rounds; round++) {
          let plugin: Plugin.Plugin
          try {
            plugin = await start()
          } catch (e) {
            crashes++
            notes.push(`round ${round}: the plugin did not start again: ${(e as Error).message.slice(0, 200)}`)
            break
          }
          // Check what the last round left.
          const listed = await Volumes.names(socket)
          for (const name of listed) {
            if (!pool.includes(name)) {
              lost++
              notes.push(`round ${round}: unknown volume listed: ${name}`)
            }
          }
          for (const [name, exists] of known) {
            if (listed.includes(name) !== exists) {
              lost++
              if (notes.length < 6) notes.push(`round ${round}: ${name} should ${exists ? "" : "not "}exist`)
            }
          }
          const fresh = `fresh${round}`
          for (const [method, body] of [
            ["Create", { Name: fresh, Opts: {} }],
            ["Remove", { Name: fresh }]
          ] as const) {
            const err = await Volumes.ok(socket, method, body)
            if (err !== undefined) {
              wrong++
              notes.push(`round ${round}: after restart ${err}`)
            }
          }
          // Work, then kill at a random moment.
          const unsure = new Set<string>()
          let killed = false
          const worker = async () => {
            while (!killed) {
              const Name = pool[Math.floor(Math.random() * pool.length)]!
              if (unsure.has(Name)) continue
              unsure.add(Name)
              const op = Math.random()
              const method = op < 0.4 ? "Create" : op < 0.7 ? "Remove" : "Mount"
              const body = method === "Create" ? { Name, Opts: {} } : method === "Mount" ? { Name, ID: "m" } : { Name }
              const err = await Volumes.ok(socket, method, body)
              calls++
              if (killed) continue
              if (method === "Mount" && err === undefined) await Volumes.ok(socket, "Unmount", { Name, ID: "m" })
              if (method === "Create" && err === undefined) known.set(Name, true)
              if (method === "Remove" && err === undefined) known.set(Name, false)
              unsure.delete(Name)
            }
          }
          const workers = Array.from({ length: 4 }, worker)
          await sleep(20 + Math.random() * 300)
          killed = true
          peak = Math.max(peak, plugin.peakRss())
          await plugin.kill9()
          await Promise.all(workers)
          for (const name of unsure) known.delete(name)
        }
        return {
          scenario: "kill -9",
          driver: target.driver,
          count: rounds,
          crashes,
          unanswered: 0,
          lost,
          escapes: 0,
          wrong,
          peakRssMb: mib(peak),
          notes: [`${calls} calls across the rounds`, ...notes]
        }
      })
    : Promise.resolve(undefined)
