/**
 * network-bridge publishing ports against a private Engine 20.10 (run with `--iptables=false`, so every NAT rule on
 * the host for these containers is the plugin's): `docker run -p HOST:CONTAINER` reaches a busybox httpd through the
 * host's address, `docker rm -f` takes the rules away, a `-p` without host port is refused with the driver's message,
 * a second container on the same host port is refused, `-o masquerade=true` has its rule while the network lives, and
 * the last `docker network rm` leaves nothing of the plugin in the `nat` table. Other engine tests may run at the
 * same moment: the plugin, network, bridge, subnet and host port are this run's, and only what it made is removed.
 */
import { BridgeTable, NetworkBridge } from "@docker-plugin-kit/drivers"
import { DockerEngine } from "@docker-plugin-kit/testkit"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { cleanupStep, removeSocket, type Spawned, spawnServe, uniqueName } from "../../support/engine.ts"

const shared = await DockerEngine.shared()
const engine = shared.engine!
afterAll(() => shared.close())

const iptables = (...args: ReadonlyArray<string>) =>
  ChildProcess.spawnSync("/usr/sbin/iptables", ["-w", "-t", "nat", ...args], { encoding: "utf8" })
const natTable = () => iptables("-S").stdout
const hostLinks = (): Array<{ readonly ifname: string; readonly ifalias?: string }> =>
  JSON.parse(ChildProcess.execFileSync("ip", ["-j", "-d", "link", "show"], { encoding: "utf8" }))
/** A global IPv4 address of the host: published ports are reached through it (loopback is not published). */
const hostAddress = () =>
  ChildProcess.execFileSync("ip", ["-4", "-o", "addr", "show", "scope", "global"], { encoding: "utf8" }).match(
    /inet (\d+\.\d+\.\d+\.\d+)\//
  )?.[1]

const random = (n: number) => Math.floor(Math.random() * n)
/** A high port nothing on the host listens on right now. */
const freePort = async (): Promise<number> => {
  for (;;) {
    const port = 20000 + random(40000)
    const free = await new Promise<boolean>((resolve) => {
      const server = Net.createServer()
      server.once("error", () => resolve(false))
      server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)))
    })
    if (free && !natTable().includes(`--dport ${port} `)) return port
  }
}
const get = (url: string) =>
  new Promise<string>((resolve, reject) => {
    const request = Http.get(url, { timeout: 3000 }, (response) => {
      let body = ""
      response.on("data", (chunk) => (body += chunk))
      response.on("end", () => resolve(body))
    })
    request.once("timeout", () => request.destroy(new Error(`${url}: timed out`)))
    request.once("error", reject)
  })

const canRun = shared.engine !== undefined && process.getuid?.() === 0 && iptables("-S").status === 0

describe.skipIf(!canRun)("network-bridge publishing ports against Docker Engine 20.10", () => {
  const name = uniqueName("dpk-e2e-pub")
  const base = canRun ? Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-e2e-pub-")) : ""
  const stateDir = Path.join(base, "state")
  const instance = NetworkBridge.instanceOf(stateDir)
  const chain = BridgeTable.natChain(instance)
  const fwd = BridgeTable.forwardChain(instance)
  const filter = (...args: ReadonlyArray<string>) =>
    ChildProcess.spawnSync("/usr/sbin/iptables", ["-w", "-t", "filter", ...args], { encoding: "utf8" })
  const run = Math.random().toString(16).slice(2, 8)
  const net = { name: `dpk-pub-${run}`, bridge: `dpkp${run}`, subnet: `10.${200 + random(50)}.${random(256)}` }
  const containers: Array<string> = []
  let plugin: Spawned | undefined
  let hostPort = 0
  const docker = engine.docker

  beforeAll(async () => {
    plugin = await spawnServe(["network-bridge", "--name", name, "--state-dir", stateDir])
    hostPort = await freePort()
  })
  afterAll(async () => {
    const quiet = (...a: ReadonlyArray<string>) => Effect.runPromise(Effect.ignore(engine.dockerResult(...a)))
    if (containers.length > 0) await cleanupStep(() => quiet("rm", "-f", ...containers))
    await cleanupStep(() => quiet("network", "rm", net.name))
    await cleanupStep(() => plugin?.stop())
    removeSocket(name)
    // Only this run's chain, its jumps and its links, should a test have failed half-way.
    for (const line of natTable().split("\n")) {
      if (line.startsWith("-A ") && line.endsWith(` -j ${chain}`)) iptables("-D", ...line.slice(3).split(" "))
    }
    iptables("-F", chain)
    iptables("-X", chain)
    while (filter("-D", "FORWARD", "-j", fwd).status === 0);
    filter("-F", fwd)
    filter("-X", fwd)
    for (const line of natTable().split("\n")) {
      if (line.startsWith("-A POSTROUTING ") && line.includes(`--comment "dpk ${instance} network `)) {
        // The comment is one word of the rule: split around its quotes.
        const [before, comment, after] = line.slice(3).split('"') as [string, string, string]
        iptables("-D", ...before.trim().split(" "), comment, ...after.trim().split(" "))
      }
    }
    for (const l of hostLinks().filter((l) => l.ifalias?.startsWith(`docker-plugin-kit network-bridge ${instance} `))) {
      ChildProcess.spawnSync("ip", ["link", "del", "dev", l.ifname])
    }
    Fs.rmSync(base, { recursive: true, force: true })
    expect(natTable()).not.toContain(chain)
    expect(natTable()).not.toContain(`dpk ${instance} `)
    expect(filter("-S").stdout).not.toContain(fwd)
  })

  it.live(
    "docker run -p HOST:8080: the host's address answers with the container's httpd; docker rm -f takes the rule away",
    () =>
      Effect.gen(function* () {
        yield* docker(
          "network",
          "create",
          "-d",
          name,
          "-o",
          `bridge=${net.bridge}`,
          "-o",
          "masquerade=true",
          "--subnet",
          `${net.subnet}.0/24`,
          net.name
        )
        const masquerade = `-A POSTROUTING -s ${net.subnet}.0/24 ! -o ${net.bridge} -m comment --comment "dpk ${instance} network `
        expect(natTable()).toContain(masquerade)
        const serve = "mkdir -p /w && echo hello > /w/index.html && exec busybox httpd -f -p 8080 -h /w"
        const c = yield* docker(
          "run",
          "-d",
          "--network",
          net.name,
          "-p",
          `${hostPort}:8080`,
          engine.image,
          "sh",
          "-c",
          serve
        )
        containers.push(c)
        const endpoint = yield* docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.EndpointID}}{{end}}", c)
        const ip = yield* docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", c)
        const rules = iptables("-S", chain).stdout
        expect(rules).toContain(
          `-A ${chain} -p tcp -m tcp --dport ${hostPort} -m comment --comment "dpk ${instance} ${endpoint}" -j DNAT --to-destination ${ip}:8080`
        )
        expect(natTable()).toContain(`-A PREROUTING -m addrtype --dst-type LOCAL -j ${chain}`)
        expect(natTable()).toContain(`-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j ${chain}`)

        const address = hostAddress()
        expect(address).toBeDefined()
        let body = ""
        for (let i = 0; i < 50 && body !== "hello\n"; i++) {
          body = yield* Effect.promise(() => get(`http://${address}:${hostPort}/`).catch((e) => `${e}`))
          if (body !== "hello\n") yield* Effect.sleep("200 millis")
        }
        expect(body).toBe("hello\n")

        // Engine 20.10 reads a driver's port map only as its own Go values, never from a remote driver's JSON answer:
        // docker port and NetworkSettings.Ports stay empty even though EndpointOperInfo answers the binding.
        expect(yield* docker("port", c)).toBe("")
        expect(yield* docker("inspect", "-f", "{{json .NetworkSettings.Ports}}", c)).toBe("{}")
        expect(yield* docker("inspect", "-f", "{{json .HostConfig.PortBindings}}", c)).toBe(
          `{"8080/tcp":[{"HostIp":"","HostPort":"${hostPort}"}]}`
        )

        // A second container asking for the same host port: refused, naming both endpoints, nothing left of it.
        const links = hostLinks().map((l) => l.ifname)
        const clash = yield* engine.dockerResult(
          "run",
          "--rm",
          "--network",
          net.name,
          "-p",
          `${hostPort}:80`,
          engine.image,
          "true"
        )
        expect(clash.exitCode).not.toBe(0)
        expect(clash.stderr).toContain(
          `the host port is published already as ${hostPort}->8080/tcp for endpoint ${endpoint}; give another host port`
        )
        expect(iptables("-S", chain).stdout).toBe(rules)
        expect(hostLinks().map((l) => l.ifname)).toEqual(links)

        yield* docker("rm", "-f", c)
        containers.splice(0)
        expect(iptables("-S", chain).stdout).toBe(`-N ${chain}\n`)
        expect(natTable()).not.toContain(endpoint)
      }),
    120_000
  )

  it.live("docker run -p 8080 (no host port) is refused with the driver's message, leaving no veth and no rule", () =>
    Effect.gen(function* () {
      const links = hostLinks().map((l) => l.ifname)
      const table = natTable()
      const refused = yield* engine.dockerResult(
        "run",
        "--rm",
        "--network",
        net.name,
        "-p",
        "8080",
        engine.image,
        "true"
      )
      expect(refused.exitCode).not.toBe(0)
      expect(refused.stderr).toContain(
        "network-bridge cannot publish any port->8080/tcp: no host port given, and network-bridge does not pick one (-p CONTAINER and -P); give -p HOST:CONTAINER"
      )
      expect(hostLinks().map((l) => l.ifname)).toEqual(links)
      expect(natTable()).toBe(table)
    })
  )

  it.live("docker network rm of the last network removes the chain and its jumps", () =>
    Effect.gen(function* () {
      yield* docker("network", "rm", net.name)
      expect(natTable()).not.toContain(chain)
      expect(filter("-S").stdout).not.toContain(fwd)
      expect(natTable()).not.toContain(`dpk ${instance} `)
      expect(hostLinks().map((l) => l.ifname)).not.toContain(net.bridge)
    })
  )
})
