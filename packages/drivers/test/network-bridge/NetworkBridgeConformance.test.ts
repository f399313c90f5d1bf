/**
 * The NetworkDriver conformance suite against network-bridge: on a memory host in-process and over a socket, and
 * (as root) `dpk probe` of a `dpk serve network-bridge` process on the real host, which must leave no link behind.
 */
import { LinksMemory, NetworkBridge } from "@docker-plugin-kit/drivers"
import { Conformance, ConformanceNetwork, ConformanceSuites } from "@docker-plugin-kit/testkit"
import { ConformanceVitest } from "@docker-plugin-kit/testkit/vitest"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { spawnServe } from "../support/engine.ts"

const onMemory = () => NetworkBridge.layerMemory({ stateDir: "/var/lib/dpk/network-bridge" }, LinksMemory.make())

ConformanceVitest.describeSuite("conformance: network-bridge, memory host, in-process", ConformanceNetwork.suite, () =>
  ConformanceSuites.inProcess(onMemory())
)
ConformanceVitest.describeSuite(
  "conformance: network-bridge, memory host, over a socket",
  ConformanceNetwork.suite,
  () => ConformanceSuites.overSocket(onMemory())
)

describe("conformance report of network-bridge", () => {
  it.live("passes every check without a warning, and leaves no link and no network behind", () =>
    Effect.gen(function* () {
      const host = LinksMemory.make()
      const client = yield* ConformanceSuites.inProcess(
        NetworkBridge.layerMemory({ stateDir: "/var/lib/dpk/network-bridge" }, host)
      )
      const report = yield* Conformance.run(ConformanceNetwork.suite, client)
      expect(report.outcomes.filter((o) => o.status !== "pass")).toEqual([])
      expect(host.links()).toEqual([])
      expect(host.log.filter((op) => op.startsWith("addBridge")).length).toBeGreaterThan(5)
    })
  )
})

const canRun = process.getuid?.() === 0 && ChildProcess.spawnSync("ip", ["-V"]).status === 0
if (!canRun) console.warn("SKIPPING dpk probe of network-bridge on the host: it needs root and iproute2 (ip)")

describe.skipIf(!canRun)("dpk probe of dpk serve network-bridge on the host", () => {
  const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-probe-net-"))
  afterAll(() => Fs.rmSync(base, { recursive: true, force: true }))

  it.live("passes, and every bridge and veth it created is gone afterwards", () =>
    Effect.gen(function* () {
      const socket = Path.join(base, "net.sock")
      const stateDir = Path.join(base, "state")
      const instance = NetworkBridge.instanceOf(stateDir)
      const plugin = yield* Effect.promise(() =>
        spawnServe(["network-bridge", "--name", "net", "--socket", socket, "--state-dir", stateDir])
      )
      yield* Effect.addFinalizer(() => Effect.promise(() => plugin.stop()))
      const cli = fileURLToPath(new URL("../../../cli/src/bin.ts", import.meta.url))
      const probe = ChildProcess.spawnSync(
        process.execPath,
        ["--conditions=@docker-plugin-kit/source", cli, "probe", socket, "--json"],
        { encoding: "utf8" }
      )
      const result = JSON.parse(probe.stdout)
      expect([probe.status, result.passed, result.implements]).toEqual([0, true, ["NetworkDriver"]])
      const outcomes = result.reports[0].outcomes as Array<{ check: string; status: string }>
      expect(outcomes.filter((o) => o.status !== "pass")).toEqual([])
      const links = JSON.parse(ChildProcess.execFileSync("ip", ["-j", "link", "show"], { encoding: "utf8" })) as Array<{
        ifalias?: string
      }>
      expect(links.filter((l) => l.ifalias?.includes(` ${instance} `))).toEqual([])
    })
  )
})
