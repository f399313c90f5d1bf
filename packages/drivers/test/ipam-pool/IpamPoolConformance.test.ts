/**
 * The IpamDriver conformance suite against ipam-pool: in-process (memory and file stores), over a socket, and by
 * `dpk probe` against a `dpk serve ipam-pool` process.
 */
import { IpamPool, Store, StoreFile, StoreMemory } from "@docker-plugin-kit/drivers"
import { Conformance, ConformanceIpam, ConformanceSuites } from "@docker-plugin-kit/testkit"
import { ConformanceVitest } from "@docker-plugin-kit/testkit/vitest"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { spawnServe } from "../support/engine.ts"

const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-conformance-ipam-"))
afterAll(() => Fs.rmSync(base, { recursive: true, force: true }))

let n = 0
const inMemory = () => IpamPool.layer().pipe(Layer.provide(Layer.sync(Store.Store, () => StoreMemory.make().service)))
const onDisk = () => IpamPool.layer().pipe(Layer.provide(StoreFile.layer(Path.join(base, `state-${++n}`))))

ConformanceVitest.describeSuite("conformance: ipam-pool, memory store, in-process", ConformanceIpam.suite, () =>
  ConformanceSuites.inProcess(inMemory())
)
ConformanceVitest.describeSuite("conformance: ipam-pool, file store, over a socket", ConformanceIpam.suite, () =>
  ConformanceSuites.overSocket(onDisk())
)

describe("conformance report of ipam-pool", () => {
  it.live("passes every check with no warning", () =>
    Effect.gen(function* () {
      const report = yield* Conformance.run(ConformanceIpam.suite, yield* ConformanceSuites.inProcess(inMemory()))
      expect(report.outcomes.filter((o) => o.status !== "pass")).toEqual([])
    })
  )
})

const cliBin = fileURLToPath(new URL("../../../cli/src/bin.ts", import.meta.url))

describe("dpk probe against dpk serve ipam-pool", () => {
  it.live(
    "passes, and the plugin's state shows every probe pool released",
    () =>
      Effect.gen(function* () {
        const socket = Path.join(base, "probe.sock")
        const store = Path.join(base, "probe-state")
        const served = yield* Effect.promise(() =>
          spawnServe(["ipam-pool", "--name", "probe", "--socket", socket, "--store", store])
        )
        yield* Effect.addFinalizer(() => Effect.promise(() => served.stop()))
        const probe = ChildProcess.spawnSync(
          process.execPath,
          ["--conditions=@docker-plugin-kit/source", cliBin, "probe", socket, "--json"],
          { encoding: "utf8", timeout: 60_000 }
        )
        expect(probe.status, probe.stdout + probe.stderr).toBe(0)
        const result = JSON.parse(probe.stdout)
        expect([result.passed, result.implements]).toEqual([true, ["IpamDriver"]])
        expect(result.reports[0].outcomes.map((o: { status: string }) => o.status)).toEqual(
          ConformanceIpam.checks.map(() => "pass")
        )
        const state = JSON.parse(Fs.readFileSync(Path.join(store, "store.json"), "utf8"))
        expect(JSON.parse(state.entries["ipam/spaces/local"].value)).toEqual({ pools: {} })
      }),
    90_000
  )
})
