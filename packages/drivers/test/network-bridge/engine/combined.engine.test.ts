/**
 * network-bridge and ipam-pool served by one process on one socket (`dpk serve network-bridge ipam-pool --name N`)
 * against a private Engine 20.10: `docker network create -d N --ipam-driver N` takes its subnet from ipam-pool and
 * its bridge from network-bridge, and containers on it reach each other. Its pool range (10.254.0.0/16) is apart
 * from the other network tests' subnets; only what this file created is removed.
 */
import { DockerEngine } from "@docker-plugin-kit/testkit"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { removeSocket, type Spawned, spawnServe, uniqueName } from "../../support/engine.ts"

const shared = await DockerEngine.shared()
const engine = shared.engine!
afterAll(() => shared.close())

describe.skipIf(shared.engine === undefined)("network-bridge + ipam-pool in one process against Engine 20.10", () => {
  const name = uniqueName("dpk-e2e-netipam")
  const base =
    // Vitest runs a skipped describe's body too: no folder where the engine cannot run (its hooks do not).
    shared.engine === undefined ? "" : Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-e2e-netipam-"))
  const bridge = `dpkc${Math.random().toString(16).slice(2, 10)}`
  const containers: Array<string> = []
  let plugin: Spawned | undefined

  beforeAll(async () => {
    plugin = await spawnServe([
      "network-bridge",
      "ipam-pool",
      "--name",
      name,
      "--state-dir",
      Path.join(base, "net"),
      "--store",
      Path.join(base, "ipam"),
      "--pool",
      "10.254.0.0/16"
    ])
  })
  afterAll(async () => {
    const quiet = (...a: ReadonlyArray<string>) => Effect.runPromise(Effect.ignore(engine.dockerResult(...a)))
    if (containers.length > 0) await quiet("rm", "-f", ...containers)
    await quiet("network", "rm", "both")
    await plugin?.stop()
    removeSocket(name)
    // The bridge is removed with the network; should a test have failed half-way, remove ours only.
    ChildProcess.spawnSync("ip", ["link", "del", "dev", bridge], { stdio: "ignore" })
    Fs.rmSync(base, { recursive: true, force: true })
  })

  it.effect("one plugin is both the network driver and the IPAM driver of a network containers use", () =>
    Effect.gen(function* () {
      yield* engine.docker("network", "create", "-d", name, "--ipam-driver", name, "-o", `bridge=${bridge}`, "both")
      const network = JSON.parse(yield* engine.docker("network", "inspect", "both"))[0]
      expect(network.Driver).toBe(name)
      expect(network.IPAM.Driver).toBe(name)
      const [config] = network.IPAM.Config
      expect(config.Subnet).toMatch(/^10\.254\.\d+\.0\/24$/)
      const prefix = config.Subnet.split(".").slice(0, 3).join(".")
      const run = (...a: ReadonlyArray<string>) =>
        Effect.tap(engine.docker("run", "-d", "--network", "both", ...a, engine.image, "sleep", "300"), (id) =>
          Effect.sync(() => containers.push(id))
        )
      const first = yield* run()
      const second = yield* run()
      const addressOf = (id: string) =>
        engine.docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id)
      const a = yield* addressOf(first)
      const b = yield* addressOf(second)
      expect(a.startsWith(`${prefix}.`)).toBe(true)
      expect(b.startsWith(`${prefix}.`)).toBe(true)
      expect(a).not.toBe(b)
      yield* engine.docker("exec", second, "busybox", "ping", "-c", "1", "-W", "3", a)
      yield* engine.docker("rm", "-f", first, second)
      containers.length = 0
      yield* engine.docker("network", "rm", "both")
      expect(ChildProcess.spawnSync("ip", ["link", "show", "dev", bridge]).status).not.toBe(0)
    })
  )
})
