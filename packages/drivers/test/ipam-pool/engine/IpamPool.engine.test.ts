/**
 * ipam-pool driven by the real docker CLI against a private Engine 20.10, on the built-in bridge driver: the plugin
 * served in this process (calls recorded), as a `dpk serve` process killed with SIGKILL between two runs, and as
 * two processes sharing one private etcd.
 */
import { IpamPool, StoreFile } from "@docker-plugin-kit/drivers"
import { IpamDriver } from "@docker-plugin-kit/protocol"
import { DockerEngine, EtcdServer } from "@docker-plugin-kit/testkit"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import {
  type Recorded,
  recordingOf,
  removeSocket,
  type Served,
  serve,
  spawnServe,
  uniqueName
} from "../../support/engine.ts"

const shared = await DockerEngine.shared()
const engine = shared.engine!
const { etcd } = shared.engine === undefined ? { etcd: undefined } : await EtcdServer.shared()
afterAll(async () => {
  await etcd?.close()
  await shared.close()
})

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

/** Wraps the IpamDriver of `drivers` so that every call lands in `calls`. */
const recording = recordingOf(IpamDriver.IpamDriver)

/** A /16 unlikely to be used by another test on this host. */
const randomRange = () => `10.${100 + Math.floor(Math.random() * 100)}.0.0/16`
const networkOf = (range: string) => range.split(".").slice(0, 2).join(".")

const inspectNetwork = (name: string) =>
  Effect.map(engine.docker("network", "inspect", name), (out) => (JSON.parse(out) as Array<any>)[0])
const ipOf = (container: string, network: string) =>
  engine.docker("inspect", "-f", `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, container)

/** Creates a network (removed at the end of the test) and answers its name. */
const network = (plugin: string, ...options: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const name = uniqueName("dpk-ipam-net")
      return Effect.as(
        engine.docker("network", "create", "-d", "bridge", "--ipam-driver", plugin, ...options, name),
        name
      )
    }),
    (name) => Effect.ignore(engine.docker("network", "rm", name))
  )
/** Starts a container on a network (removed at the end of the test) and answers its ID. */
const container = (net: string, ...options: ReadonlyArray<string>) =>
  Effect.acquireRelease(engine.docker("run", "-d", "--network", net, ...options, engine.image, "sleep", "300"), (id) =>
    Effect.ignore(engine.docker("rm", "-f", id))
  )

describe.skipIf(shared.engine === undefined)("ipam-pool against Docker Engine 20.10", () => {
  const name = uniqueName("dpk-ipam")
  const range = randomRange()
  const prefix = networkOf(range)
  const base =
    // Vitest runs a skipped describe's body too: no folder where the engine cannot run (its hooks do not).
    shared.engine === undefined ? "" : Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-e2e-ipam-"))
  const calls: Array<Recorded> = []
  let plugin: Served
  const runArgs = (net: string, ...options: ReadonlyArray<string>) =>
    ["run", "-d", "--network", net, ...options, engine.image, "sleep", "300"] as const
  const callsSince = (mark: number) => calls.slice(mark).map((c) => ({ endpoint: c.endpoint, request: c.request }))

  beforeAll(async () => {
    const drivers = IpamPool.layer({ pools: [range] }).pipe(Layer.provide(StoreFile.layer(Path.join(base, "state"))))
    plugin = await serve(name, recording(drivers, calls))
  })
  afterAll(async () => {
    await plugin?.close()
    Fs.rmSync(base, { recursive: true, force: true })
  })

  it.live(
    "network create: subnet and gateway from our range; a container's address from us; two networks disjoint",
    () =>
      Effect.gen(function* () {
        const mark = calls.length
        const net1 = yield* network(name)
        const info = yield* inspectNetwork(net1)
        expect(info.IPAM.Driver).toBe(name)
        const [config] = info.IPAM.Config
        expect(config.Subnet).toMatch(new RegExp(`^${prefix.replace(".", "\\.")}\\.\\d+\\.0/24$`))
        const pool = calls.slice(mark).find((c) => c.endpoint === "requestPool")!
        expect(pool.request).toEqual({ AddressSpace: "local", Pool: "", SubPool: "", Options: {}, V6: false })
        expect((pool.response as { Pool: string }).Pool).toBe(config.Subnet)
        const subnetBase = config.Subnet.replace(/\.0\/24$/, "")
        expect(config.Gateway).toBe(`${subnetBase}.1`)

        const c1 = yield* container(net1)
        expect(yield* ipOf(c1, net1)).toBe(`${subnetBase}.2`)
        const asked = calls.slice(mark).filter((c) => c.endpoint === "requestAddress")
        expect(asked.map((c) => [c.request.Options, c.response])).toEqual([
          [{ RequestAddressType: "com.docker.network.gateway" }, { Address: `${subnetBase}.1/24`, Data: {} }],
          [null, { Address: `${subnetBase}.2/24`, Data: {} }]
        ])

        const net2 = yield* network(name)
        const subnet2 = (yield* inspectNetwork(net2)).IPAM.Config[0].Subnet
        expect(subnet2).not.toBe(config.Subnet)
        expect(subnet2.startsWith(`${prefix}.`)).toBe(true)
      })
  )

  it.live(
    "--subnet, --ip-range, --gateway, --aux-address and run --ip are honoured; rm and network rm release in order",
    () =>
      Effect.gen(function* () {
        const s = `${prefix}.250`
        const mark = calls.length
        const net = uniqueName("dpk-ipam-net")
        yield* engine.docker(
          "network",
          "create",
          "-d",
          "bridge",
          "--ipam-driver",
          name,
          "--subnet",
          `${s}.0/24`,
          "--ip-range",
          `${s}.128/25`,
          "--gateway",
          `${s}.254`,
          "--aux-address",
          `printer=${s}.5`,
          "--ipam-opt",
          "team=e2e",
          net
        )
        yield* Effect.addFinalizer(() => Effect.ignore(engine.docker("network", "rm", net)))
        const [config] = (yield* inspectNetwork(net)).IPAM.Config
        expect(config).toEqual({
          Subnet: `${s}.0/24`,
          IPRange: `${s}.128/25`,
          Gateway: `${s}.254`,
          AuxiliaryAddresses: { printer: `${s}.5` }
        })
        const poolId = `local/${s}.0/24`
        expect(callsSince(mark)).toEqual([
          {
            endpoint: "requestPool",
            request: {
              AddressSpace: "local",
              Pool: `${s}.0/24`,
              SubPool: `${s}.128/25`,
              Options: { team: "e2e" },
              V6: false
            }
          },
          {
            endpoint: "requestAddress",
            request: {
              PoolID: poolId,
              Address: `${s}.254`,
              Options: { RequestAddressType: "com.docker.network.gateway" }
            }
          },
          { endpoint: "requestAddress", request: { PoolID: poolId, Address: `${s}.5`, Options: null } }
        ])

        const pinned = yield* engine.docker(...runArgs(net, "--ip", `${s}.10`))
        expect(yield* ipOf(pinned, net)).toBe(`${s}.10`)
        const free = yield* engine.docker(...runArgs(net))
        expect(yield* ipOf(free, net)).toBe(`${s}.128`)

        // An error of ours reaches the CLI with our message.
        const taken = yield* engine.dockerResult(...runArgs(net, "--ip", `${s}.10`))
        expect(taken.exitCode).not.toBe(0)
        expect(taken.stderr).toContain(
          `IpamDriver.RequestAddress: RequestAddress ${s}.10 from pool ${poolId}: address ${s}.10 is already allocated in pool ${s}.0/24`
        )
        yield* Effect.ignore(engine.docker("container", "prune", "-f"))

        const beforeRm = calls.length
        yield* engine.docker("rm", "-f", pinned, free)
        expect(
          calls
            .slice(beforeRm)
            .filter((c) => c.endpoint === "releaseAddress")
            .map((c) => c.request.Address)
            .sort()
        ).toEqual([`${s}.10`, `${s}.128`])
        const beforeNetRm = calls.length
        yield* engine.docker("network", "rm", net)
        expect(callsSince(beforeNetRm)).toEqual([
          { endpoint: "releaseAddress", request: { PoolID: poolId, Address: `${s}.254` } },
          { endpoint: "releaseAddress", request: { PoolID: poolId, Address: `${s}.5` } },
          { endpoint: "releasePool", request: { PoolID: poolId } }
        ])
        expect(calls.slice(beforeRm).every((c) => c.error === undefined)).toBe(true)
        // Released for real: the same subnet can be created again.
        const again = yield* network(name, "--subnet", `${s}.0/24`)
        expect((yield* inspectNetwork(again)).IPAM.Config[0].Subnet).toBe(`${s}.0/24`)
      }),
    120_000
  )

  it.live(
    "dpk serve ipam-pool killed with SIGKILL between two docker runs keeps every allocation",
    () =>
      Effect.gen(function* () {
        const crashName = uniqueName("dpk-ipam-crash")
        const crashRange = randomRange()
        const args = ["ipam-pool", "--name", crashName, "--pool", crashRange, "--store", Path.join(base, "crash")]
        let served = yield* promise(() => spawnServe(args))
        yield* Effect.addFinalizer(() =>
          promise(async () => {
            await served.stop()
            removeSocket(crashName)
          })
        )
        // A user-configured subnet, so that `docker run --ip` below is allowed.
        const net = yield* network(crashName, "--subnet", `${networkOf(crashRange)}.7.0/24`)
        const subnet: string = (yield* inspectNetwork(net)).IPAM.Config[0].Subnet
        const first = yield* container(net)
        const firstIp = yield* ipOf(first, net)

        yield* promise(() => served.kill9())
        served = yield* promise(() => spawnServe(args))

        const second = yield* container(net)
        const secondIp = yield* ipOf(second, net)
        expect(secondIp).not.toBe(firstIp)
        expect(secondIp.split(".").slice(0, 3).join(".")).toBe(subnet.split(".").slice(0, 3).join("."))
        // The first container's address is still held: asking for it by value fails.
        const clash = yield* engine.dockerResult("run", "-d", "--network", net, "--ip", firstIp, engine.image, "true")
        expect(clash.stderr).toContain(`address ${firstIp} is already allocated`)
        yield* Effect.ignore(engine.docker("container", "prune", "-f"))
        // And a second network still gets another subnet.
        const net2 = yield* network(crashName)
        expect((yield* inspectNetwork(net2)).IPAM.Config[0].Subnet).not.toBe(subnet)
      }),
    120_000
  )

  it.live.skipIf(etcd === undefined)(
    "two ipam-pool processes on one etcd, one network each: disjoint subnets from the same range",
    () =>
      Effect.gen(function* () {
        const shared = randomRange()
        const names = [uniqueName("dpk-ipam-etcd-a"), uniqueName("dpk-ipam-etcd-b")]
        const processes = yield* promise(() =>
          Promise.all(
            names.map((n) =>
              spawnServe(["ipam-pool", "--name", n, "--pool", shared, "--store", `etcd://${etcd!.endpoint}`])
            )
          )
        )
        yield* Effect.addFinalizer(() =>
          promise(async () => {
            await Promise.all(processes.map((p) => p.stop()))
            for (const n of names) removeSocket(n)
          })
        )
        const [netA, netB] = [yield* network(names[0]!), yield* network(names[1]!)]
        const [a, b] = [(yield* inspectNetwork(netA)).IPAM.Config[0], (yield* inspectNetwork(netB)).IPAM.Config[0]]
        expect(a.Subnet).not.toBe(b.Subnet)
        for (const c of [a, b]) expect(c.Subnet.startsWith(`${networkOf(shared)}.`)).toBe(true)
        const [ca, cb] = [yield* container(netA), yield* container(netB)]
        expect((yield* ipOf(ca, netA)).startsWith(a.Subnet.replace(/0\/24$/, ""))).toBe(true)
        expect((yield* ipOf(cb, netB)).startsWith(b.Subnet.replace(/0\/24$/, ""))).toBe(true)
      }),
    120_000
  )
})
