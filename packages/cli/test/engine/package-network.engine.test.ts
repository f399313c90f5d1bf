/**
 * `dpk package` of `network-bridge` and `ipam-pool` against a private Docker Engine 20.10: two managed plugins,
 * created and enabled, one the network driver and the other the IPAM driver of a network two containers share,
 * then everything removed. Host interface names are shared by every daemon on the host: the bridge has a name of
 * this run, the subnet is random in 10.253.x.0/24 (apart from the other network tests' ranges), the IPAM state
 * goes to a folder of this run (`docker plugin set NAME mount0.source=...`), and only what this file made is removed.
 */
import { DockerEngine } from "@docker-plugin-kit/testkit"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { dpk } from "../support.ts"

const shared = await DockerEngine.shared()
const engine = shared.engine!
afterAll(() => shared.close())

const unique = () => `${process.pid}-${Math.random().toString(36).slice(2, 8)}`
const linkExists = (name: string) => ChildProcess.spawnSync("ip", ["link", "show", "dev", name]).status === 0

describe.skipIf(shared.engine === undefined)("network-bridge and ipam-pool as managed plugins on Engine 20.10", () => {
  const base =
    // Vitest runs a skipped describe's body too: no folder where the engine cannot run (its hooks do not).
    shared.engine === undefined ? "" : Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-e2e-mnet-"))
  const net = `dpk-e2e-mnet-${unique()}`
  const ipam = `dpk-e2e-mipam-${unique()}`
  const net2 = `dpk-e2e-mnet2-${unique()}`
  const bridge = `dpkm${Math.random().toString(16).slice(2, 10)}`
  const prefix = `10.253.${Math.floor(Math.random() * 256)}`
  const ipamState = Path.join(base, "ipam-state")
  const containers: Array<string> = []

  afterAll(async () => {
    // Each step on its own: a failed test may have left any of them undone.
    const quiet = (...a: ReadonlyArray<string>) => Effect.runPromise(Effect.ignore(engine.dockerResult(...a)))
    if (containers.length > 0) await quiet("rm", "-f", ...containers)
    await quiet("network", "rm", "mnet")
    for (const plugin of [net, ipam, net2]) {
      await quiet("plugin", "disable", "-f", `${plugin}:latest`)
      await quiet("plugin", "rm", "-f", `${plugin}:latest`)
    }
    if (linkExists(bridge)) ChildProcess.spawnSync("ip", ["link", "del", "dev", bridge])
    Fs.rmSync(base, { recursive: true, force: true })
  })

  it.effect(
    "packaged with the capability, network and tools they declare; a network on both; containers get addresses from the pool and ping each other; a second network-bridge plugin leaves the first one's links alone; nothing left behind",
    () =>
      Effect.gen(function* () {
        const packaged = [
          dpk("package", "network-bridge", "--name", net, "--out", Path.join(base, "net")),
          dpk("package", "ipam-pool", "--name", ipam, "--out", Path.join(base, "ipam"))
        ]
        for (const p of packaged) expect(p.status, p.stderr).toBe(0)
        const netConfig = JSON.parse(Fs.readFileSync(Path.join(base, "net", "config.json"), "utf8"))
        expect(netConfig.Interface.Types).toEqual(["docker.networkdriver/1.0"])
        expect(netConfig.Network).toEqual({ Type: "host" })
        expect(netConfig.Linux.Capabilities).toEqual(["CAP_NET_ADMIN"])
        const ipamConfig = JSON.parse(Fs.readFileSync(Path.join(base, "ipam", "config.json"), "utf8"))
        expect(ipamConfig.Interface.Types).toEqual(["docker.ipamdriver/1.0"])
        expect(ipamConfig.Mounts.map((m: { Destination: string }) => m.Destination)).toEqual([
          "/var/lib/docker-plugin-kit/ipam"
        ])

        const netPlugin = `${net}:latest`
        const ipamPlugin = `${ipam}:latest`
        yield* engine.docker("plugin", "create", netPlugin, Path.join(base, "net"))
        yield* engine.docker("plugin", "create", ipamPlugin, Path.join(base, "ipam"))
        // The IPAM state on the host, in a folder of this run rather than the shared default.
        Fs.mkdirSync(ipamState)
        yield* engine.docker("plugin", "set", ipamPlugin, `mount0.source=${ipamState}`)
        yield* engine.docker("plugin", "enable", netPlugin)
        yield* engine.docker("plugin", "enable", ipamPlugin)

        yield* engine.docker(
          "network",
          "create",
          "-d",
          netPlugin,
          "--ipam-driver",
          ipamPlugin,
          "--subnet",
          `${prefix}.0/24`,
          "-o",
          `bridge=${bridge}`,
          "mnet"
        )
        const network = JSON.parse(yield* engine.docker("network", "inspect", "mnet"))[0]
        expect(network.Driver).toBe(netPlugin)
        expect(network.IPAM.Driver).toBe(ipamPlugin)
        expect(network.IPAM.Config).toEqual([{ Subnet: `${prefix}.0/24` }])
        // The plugin made the bridge in the host's namespace, with the gateway ipam-pool handed out first (the
        // pool's first address) on it.
        const shown = ChildProcess.execFileSync("ip", ["-j", "addr", "show", "dev", bridge], { encoding: "utf8" })
        const [link] = JSON.parse(shown) as Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>
        expect(link!.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toContain(`${prefix}.1/24`)
        // ipam-pool keeps its state in the mounted host folder.
        expect(Fs.readFileSync(Path.join(ipamState, "store.json"), "utf8")).toContain(`${prefix}.0/24`)

        const detached = () =>
          Effect.tap(engine.docker("run", "-d", "--network", "mnet", engine.image, "sleep", "300"), (id) =>
            Effect.sync(() => containers.push(id))
          )
        const first = yield* detached()
        const second = yield* detached()
        const addressOf = (id: string) =>
          engine.docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id)
        // Serial allocation after the gateway.
        expect(yield* addressOf(first)).toBe(`${prefix}.2`)
        expect(yield* addressOf(second)).toBe(`${prefix}.3`)
        const eth0 = yield* engine.docker("exec", first, "busybox", "ip", "-o", "-4", "addr", "show", "eth0")
        expect(eth0).toContain(`inet ${prefix}.2/24`)
        expect(yield* engine.docker("exec", first, "busybox", "ping", "-c", "1", "-W", "3", `${prefix}.3`)).toContain(
          "1 packets received"
        )
        expect(yield* engine.docker("exec", second, "busybox", "ping", "-c", "1", "-W", "3", `${prefix}.2`)).toContain(
          "1 packets received"
        )

        // A second network-bridge plugin shares the host's links but has a state folder of its own (same path, its
        // own rootfs): its start-up leaves the first one's bridge and veths alone.
        const again = dpk("package", "network-bridge", "--name", net2, "--out", Path.join(base, "net2"))
        expect(again.status, again.stderr).toBe(0)
        const otherPlugin = `${net2}:latest`
        yield* engine.docker("plugin", "create", otherPlugin, Path.join(base, "net2"))
        yield* engine.docker("plugin", "enable", otherPlugin)
        expect(linkExists(bridge)).toBe(true)
        expect(yield* engine.docker("exec", first, "busybox", "ping", "-c", "1", "-W", "3", `${prefix}.3`)).toContain(
          "1 packets received"
        )
        yield* engine.docker("plugin", "disable", otherPlugin)
        yield* engine.docker("plugin", "rm", otherPlugin)

        // In use by the network: neither plugin may be disabled.
        expect((yield* engine.dockerResult("plugin", "disable", netPlugin)).exitCode).not.toBe(0)
        yield* engine.docker("rm", "-f", first, second)
        containers.length = 0
        yield* engine.docker("network", "rm", "mnet")
        expect(linkExists(bridge)).toBe(false)
        // The pool went back: the state no longer holds it.
        expect(Fs.readFileSync(Path.join(ipamState, "store.json"), "utf8")).not.toContain(`${prefix}.0/24`)
        yield* engine.docker("plugin", "disable", netPlugin)
        yield* engine.docker("plugin", "disable", ipamPlugin)
        yield* engine.docker("plugin", "rm", netPlugin)
        yield* engine.docker("plugin", "rm", ipamPlugin)
        const left = yield* engine.docker("plugin", "ls", "--format", "{{.Name}}")
        expect(left).not.toContain(net)
        expect(left).not.toContain(ipam)
        expect(left).not.toContain(net2)
      }),
    420_000
  )
})
