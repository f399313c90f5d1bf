/**
 * `kill -9` of `dpk serve volume-local` in the middle of a burst of calls: every call that was answered with
 * success must survive the restart, and the restart must find no half-written state.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { spawnServe } from "../support/engine.ts"

const post = (socketPath: string, path: string, body: unknown): Promise<{ status: number; body: any }> =>
  new Promise((resolve, reject) => {
    const req = Http.request({ socketPath, path, method: "POST", agent: false }, (res) => {
      let text = ""
      res.on("data", (c) => {
        text += c
      })
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text === "" ? undefined : JSON.parse(text) }))
      res.on("error", reject)
    })
    req.on("error", reject)
    req.end(`${JSON.stringify(body)}\n`)
  })

describe("volume-local under kill -9", () => {
  it("keeps every acknowledged create and mount, and restarts cleanly", async () => {
    const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-crash-"))
    const socket = Path.join(base, "p.sock")
    const args = [
      "volume-local",
      "--name",
      "dpk-crash",
      "--socket",
      socket,
      "--root",
      Path.join(base, "volumes"),
      "--state-dir",
      Path.join(base, "state")
    ]
    try {
      const first = await spawnServe(args)
      const acknowledged: Array<string> = []
      const mounted: Array<string> = []
      let stop = false
      const worker = async (w: number) => {
        for (let i = 0; !stop; i++) {
          const name = `w${w}-${i}`
          try {
            const created = await post(socket, "/VolumeDriver.Create", { Name: name, Opts: { "label.w": String(w) } })
            if (created.status !== 200) continue
            acknowledged.push(name)
            const m = await post(socket, "/VolumeDriver.Mount", { Name: name, ID: `id-${name}` })
            if (m.status === 200) mounted.push(name)
          } catch {
            return // the server is gone
          }
        }
      }
      const workers = [0, 1, 2, 3].map(worker)
      // Let the burst run, then crash the process wherever it is.
      while (acknowledged.length < 40) await new Promise((r) => setTimeout(r, 10))
      await first.kill9()
      stop = true
      await Promise.all(workers)

      const second = await spawnServe(args)
      try {
        const list = await post(socket, "/VolumeDriver.List", {})
        const names = new Set((list.body.Volumes as Array<{ Name: string }>).map((v) => v.Name))
        for (const name of acknowledged) expect(names.has(name)).toBe(true)
        for (const name of mounted) {
          const got = await post(socket, "/VolumeDriver.Get", { Name: name })
          expect(got.body.Volume.Status.mounts).toBe(1)
        }
        // No temporary file survives the restart; every state file parses (the start would have failed otherwise).
        expect(Fs.readdirSync(Path.join(base, "state", "tmp"))).toEqual([])
        expect(acknowledged.length).toBeGreaterThanOrEqual(40)
      } finally {
        await second.stop()
      }
    } finally {
      Fs.rmSync(base, { recursive: true, force: true })
    }
  })
})
