/**
 * Several `dpk serve ipam-pool` processes sharing one address space through a private etcd: disjoint pools,
 * 1,000 concurrent RequestAddress calls spread over two processes giving 1,000 distinct addresses, and etcd
 * going away and coming back under a running plugin.
 */
import { EtcdServer } from "@docker-plugin-kit/testkit"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { type Spawned, spawnServe } from "../support/engine.ts"
import { call } from "./support.ts"

const { etcd } = await EtcdServer.shared()
const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-ipam-etcd-"))
afterAll(async () => {
  await etcd?.close()
  Fs.rmSync(base, { recursive: true, force: true })
})

/** A call that must be answered (the plugins are not killed in this file). */
const answered = (socket: string, path: string, body: unknown) =>
  call(socket, path, body).then((r) => {
    if (r === undefined) throw new Error(`no answer from ${socket} to ${path}`)
    return r
  })

const serveOn = (label: string, range: string) => async (): Promise<{ socket: string; plugin: Spawned }> => {
  const socket = Path.join(base, `${label}.sock`)
  const plugin = await spawnServe([
    "ipam-pool",
    "--name",
    label,
    "--socket",
    socket,
    "--pool",
    range,
    "--store",
    `etcd://${etcd!.endpoint}`
  ])
  return { socket, plugin }
}

describe.skipIf(etcd === undefined)("ipam-pool processes sharing one etcd", () => {
  it.live(
    "disjoint pools, and 1,000 concurrent addresses over two processes all distinct; etcd down then back",
    () =>
      Effect.gen(function* () {
        const [a, b] = yield* Effect.promise(() =>
          Promise.all([serveOn("a", "10.60.0.0/16")(), serveOn("b", "10.60.0.0/16")()])
        )
        yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all([a.plugin.stop(), b.plugin.stop()])))
        const any = { AddressSpace: "local", Pool: "", SubPool: "", Options: {}, V6: false }
        const pools = yield* Effect.promise(() =>
          Promise.all([a, b, a, b].map((p) => answered(p.socket, "/IpamDriver.RequestPool", any)))
        )
        expect(pools.map((p) => p.status)).toEqual([200, 200, 200, 200])
        expect(new Set(pools.map((p) => p.body.Pool)).size).toBe(4)
        // The same explicit pool from the other process: refused, naming the holder.
        const clash = yield* Effect.promise(() =>
          answered(b.socket, "/IpamDriver.RequestPool", { ...any, Pool: pools[0]!.body.Pool })
        )
        expect(clash.body.Err).toContain(`overlaps pool ${pools[0]!.body.Pool}, which is in use`)

        const shared = yield* Effect.promise(() =>
          answered(a.socket, "/IpamDriver.RequestPool", { ...any, Pool: "10.61.0.0/20" })
        )
        const PoolID = shared.body.PoolID
        const answers = yield* Effect.promise(() =>
          Promise.all(
            Array.from({ length: 1000 }, (_, i) =>
              answered((i % 2 === 0 ? a : b).socket, "/IpamDriver.RequestAddress", {
                PoolID,
                Address: "",
                Options: null
              })
            )
          )
        )
        expect(answers.filter((r) => r.status !== 200).map((r) => r.body)).toEqual([])
        const addresses = answers.map((r) => r.body.Address as string)
        expect(new Set(addresses).size).toBe(1000)
        expect(addresses.every((x) => x.startsWith("10.61.") && x.endsWith("/20"))).toBe(true)

        // etcd away: an error naming the store, nothing half-written; back: the same processes work again.
        yield* Effect.promise(() => etcd!.stop())
        const down = yield* Effect.promise(() =>
          answered(a.socket, "/IpamDriver.RequestAddress", { PoolID, Address: "", Options: null })
        )
        expect(down.body.Err).toContain(
          `RequestAddress any address from pool ${PoolID}: etcd store at ${etcd!.endpoint} unavailable:`
        )
        yield* Effect.promise(() => etcd!.start())
        let again = { status: 0, body: {} as any }
        for (let i = 0; i < 40 && again.status !== 200; i++) {
          again = yield* Effect.promise(() =>
            answered(b.socket, "/IpamDriver.RequestAddress", { PoolID, Address: "", Options: null })
          )
          if (again.status !== 200) yield* Effect.sleep("500 millis")
        }
        expect(again.status).toBe(200)
        expect(addresses).not.toContain(again.body.Address)
      }),
    180_000
  )
})
