/**
 * `dpk serve ipam-pool` on the file store killed with SIGKILL in the middle of a burst of allocations: after a
 * restart every address it had answered is still held, and the state file reads back whole.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { spawnServe } from "../support/engine.ts"
import { call } from "./support.ts"

const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-ipam-crash-"))
afterAll(() => Fs.rmSync(base, { recursive: true, force: true }))

describe("ipam-pool killed with SIGKILL during allocations", () => {
  it.live(
    "every answered address survives, nothing is handed out twice, the state reads back",
    () =>
      Effect.gen(function* () {
        const socket = Path.join(base, "crash.sock")
        const args = ["ipam-pool", "--name", "crash", "--socket", socket, "--store", Path.join(base, "state")]
        let plugin = yield* Effect.promise(() => spawnServe(args))
        const pool = yield* Effect.promise(() =>
          call(socket, "/IpamDriver.RequestPool", {
            AddressSpace: "local",
            Pool: "10.33.0.0/20",
            SubPool: "",
            Options: {},
            V6: false
          })
        )
        const PoolID = pool!.body.PoolID as string
        const request = { PoolID, Address: "", Options: null }
        const answered: Array<string> = []
        const burst = Array.from({ length: 400 }, () =>
          call(socket, "/IpamDriver.RequestAddress", request).then((r) => {
            if (r?.status === 200) answered.push(r.body.Address)
          })
        )
        // Kill once some answers are out and others are still being written.
        while (answered.length < 20) yield* Effect.sleep("5 millis")
        yield* Effect.promise(() => plugin.kill9())
        yield* Effect.promise(() => Promise.all(burst))
        expect(answered.length).toBeGreaterThanOrEqual(20)
        expect(answered.length).toBeLessThan(400)

        Fs.rmSync(socket, { force: true })
        plugin = yield* Effect.promise(() => spawnServe(args))
        yield* Effect.addFinalizer(() => Effect.promise(() => plugin.stop()))
        for (const address of answered) {
          const again = yield* Effect.promise(() =>
            call(socket, "/IpamDriver.RequestAddress", { PoolID, Address: address.split("/")[0], Options: null })
          )
          expect(again?.body.Err).toContain("is already allocated")
        }
        const fresh = yield* Effect.promise(() =>
          Promise.all(Array.from({ length: 50 }, () => call(socket, "/IpamDriver.RequestAddress", request)))
        )
        const freshAddresses = fresh.map((r) => r!.body.Address as string)
        expect(new Set([...answered, ...freshAddresses]).size).toBe(answered.length + 50)
      }),
    120_000
  )
})
