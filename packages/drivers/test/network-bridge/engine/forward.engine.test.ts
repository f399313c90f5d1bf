/**
 * network-bridge letting its traffic through `FORWARD`, against a private Engine 20.10 (run with `--iptables=false`,
 * so no engine rule lets anything through for these containers). This run's bridge gets a catch-all `DROP` at the end
 * of `FORWARD` in both directions (as a host whose `FORWARD` policy is `DROP` does, without changing the policy), and
 * an "outside" host is a network namespace behind a veth pair with a /30 of 198.18.0.0/15: a container of a
 * `masquerade=true` network still reaches it, reaches a container of its own network (the host runs `br_netfilter`,
 * so bridged traffic crosses `FORWARD` too), and the outside reaches a published port through the host's address on
 * that veth; without the plugin's jump the same traffic is dropped. Every name, subnet and rule is this run's, and
 * only what it made is removed.
 */
import { BridgeTable, NetworkBridge } from "@docker-plugin-kit/drivers"
import { DockerEngine } from "@docker-plugin-kit/testkit"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { cleanupStep, removeSocket, type Spawned, spawnServe, uniqueName } from "../../support/engine.ts"

const shared = await DockerEngine.shared()
const engine = shared.engine!
afterAll(() => shared.close())

const iptables = (table: "nat" | "filter", ...args: ReadonlyArray<string>) =>
  ChildProcess.spawnSync("/usr/sbin/iptables", ["-w", "-t", table, ...args], { encoding: "utf8" })
const filterTable = () => iptables("filter", "-S").stdout
const natTable = () => iptables("nat", "-S").stdout
const forwardRules = () =>
  iptables("filter", "-S", "FORWARD")
    .stdout.split("\n")
    .filter((l) => l.startsWith("-A FORWARD "))
const ip = (...args: ReadonlyArray<string>) => ChildProcess.execFileSync("ip", args, { encoding: "utf8" })
const hostLinks = (): Array<{ readonly ifname: string; readonly ifalias?: string }> =>
  JSON.parse(ip("-j", "-d", "link", "show"))
/** Splits a rule of `iptables -S` into its words, the quoted comment one word. */
const ruleWords = (line: string) => {
  const [before, comment, after] = line.split('"')
  return comment === undefined
    ? line.trim().split(" ")
    : [
        ...before!.trim().split(" "),
        comment,
        ...(after ?? "")
          .trim()
          .split(" ")
          .filter((w) => w !== "")
      ]
}

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

const bridgeNetfilter = () => {
  try {
    return Fs.readFileSync("/proc/sys/net/bridge/bridge-nf-call-iptables", "utf8").trim() === "1"
  } catch {
    return false
  }
}
const canRun =
  shared.engine !== undefined &&
  process.getuid?.() === 0 &&
  iptables("filter", "-S").status === 0 &&
  Fs.readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim() === "1"
if (shared.engine !== undefined && !canRun) {
  console.warn("forward.engine.test: SKIPPED: needs root, iptables' filter table and net.ipv4.ip_forward=1")
}

describe.skipIf(!canRun)("network-bridge forward rules against Docker Engine 20.10, FORWARD dropping", () => {
  const name = uniqueName("dpk-e2e-fwd")
  const base = canRun ? Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-e2e-fwd-")) : ""
  const stateDir = Path.join(base, "state")
  const instance = NetworkBridge.instanceOf(stateDir)
  const chain = BridgeTable.natChain(instance)
  const fwd = BridgeTable.forwardChain(instance)
  const run = Math.random().toString(16).slice(2, 8)
  const net = { name: `dpk-fwd-${run}`, bridge: `dpkf${run}`, subnet: `10.${200 + random(50)}.${random(256)}` }
  // The outside host: a namespace behind a veth pair, a /30 of 198.18.0.0/15 (benchmarking, never routed).
  const quad = `198.18.${random(256)}`
  const low = random(64) * 4
  const outside = { ns: `dpkt-fwd-${run}`, host: `dpkfh${run}`, peer: `dpkfo${run}` }
  const hostSide = `${quad}.${low + 1}`
  const outsideSide = `${quad}.${low + 2}`
  const drops = [
    ["-i", net.bridge, "-j", "DROP"],
    ["-o", net.bridge, "-j", "DROP"]
  ]
  const containers: Array<string> = []
  let plugin: Spawned | undefined
  let hostPort = 0
  let filterBefore = ""
  const docker = engine.docker
  const inOutside = (...args: ReadonlyArray<string>) =>
    ChildProcess.spawnSync("ip", ["netns", "exec", outside.ns, ...args], { encoding: "utf8", timeout: 20_000 })
  /** A container of the network pinging `address` once; its exit code. */
  const ping = (address: string) =>
    Effect.map(
      engine.dockerResult(
        "run",
        "--rm",
        "--network",
        net.name,
        engine.image,
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "3",
        address
      ),
      (r) => r.exitCode
    )

  beforeAll(async () => {
    filterBefore = filterTable()
    ip("netns", "add", outside.ns)
    ip("link", "add", outside.host, "type", "veth", "peer", "name", outside.peer)
    ip("link", "set", outside.peer, "netns", outside.ns)
    ip("addr", "add", `${hostSide}/30`, "dev", outside.host)
    ip("link", "set", outside.host, "up")
    ip("-n", outside.ns, "addr", "add", `${outsideSide}/30`, "dev", outside.peer)
    ip("-n", outside.ns, "link", "set", outside.peer, "up")
    ip("-n", outside.ns, "link", "set", "lo", "up")
    // The catch-all drop of this run's bridge, behind everything else in FORWARD: only the plugin's rules (jumped
    // to earlier) let its traffic through.
    for (const drop of drops) iptables("filter", "-A", "FORWARD", ...drop)
    plugin = await spawnServe(["network-bridge", "--name", name, "--state-dir", stateDir])
    hostPort = await freePort()
  })
  afterAll(async () => {
    const quiet = (...a: ReadonlyArray<string>) => Effect.runPromise(Effect.ignore(engine.dockerResult(...a)))
    if (containers.length > 0) await cleanupStep(() => quiet("rm", "-f", ...containers))
    await cleanupStep(() => quiet("network", "rm", net.name))
    await cleanupStep(() => plugin?.stop())
    removeSocket(name)
    for (const drop of drops) while (iptables("filter", "-D", "FORWARD", ...drop).status === 0);
    // Only this run's chains, their jumps, its rules and links, should a test have failed half-way.
    for (const line of forwardRules())
      if (line === `-A FORWARD -j ${fwd}`) iptables("filter", "-D", "FORWARD", "-j", fwd)
    iptables("filter", "-F", fwd)
    iptables("filter", "-X", fwd)
    for (const line of natTable().split("\n")) {
      if (line.startsWith("-A ") && line.endsWith(` -j ${chain}`)) iptables("nat", "-D", ...line.slice(3).split(" "))
      if (line.startsWith("-A POSTROUTING ") && line.includes(`--comment "dpk ${instance} network `)) {
        iptables("nat", "-D", ...ruleWords(line.slice(3)))
      }
    }
    iptables("nat", "-F", chain)
    iptables("nat", "-X", chain)
    for (const l of hostLinks().filter((l) => l.ifalias?.startsWith(`docker-plugin-kit network-bridge ${instance} `))) {
      ChildProcess.spawnSync("ip", ["link", "del", "dev", l.ifname])
    }
    ChildProcess.spawnSync("ip", ["netns", "del", outside.ns]) // its end of the veth pair, and so the pair, with it
    ChildProcess.spawnSync("ip", ["link", "del", "dev", outside.host])
    Fs.rmSync(base, { recursive: true, force: true })
    expect(filterTable()).toBe(filterBefore)
    expect(natTable()).not.toContain(`dpk ${instance} `)
    expect(hostLinks().map((l) => l.ifname)).not.toContain(outside.host)
  })

  it.live(
    "masquerade=true: out to another host, within the bridge, and in to a published port, only through the plugin's rules",
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
        const comment = `--comment "dpk ${instance} network `
        const rules = iptables("filter", "-S", fwd).stdout
        expect(rules).toContain(`-A ${fwd} -i ${net.bridge} ! -o ${net.bridge} -m comment ${comment}`)
        expect(rules).toContain(
          `-A ${fwd} -o ${net.bridge} -m conntrack --ctstate RELATED,ESTABLISHED -m comment ${comment}`
        )
        expect(rules).toContain(`-A ${fwd} -i ${net.bridge} -o ${net.bridge} -m comment ${comment}`)
        // One jump, above this run's drops (right after DOCKER-USER when the host has one, else at the top).
        const forward = forwardRules()
        expect(forward.filter((l) => l === `-A FORWARD -j ${fwd}`)).toHaveLength(1)
        const jump = forward.indexOf(`-A FORWARD -j ${fwd}`)
        expect(jump).toBe(forward.indexOf("-A FORWARD -j DOCKER-USER") + 1)
        expect(jump).toBeLessThan(forward.indexOf(`-A FORWARD -i ${net.bridge} -j DROP`))

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
        const address = yield* docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", c)
        expect(iptables("filter", "-S", fwd).stdout).toContain(
          `-A ${fwd} -d ${address}/32 ! -i ${net.bridge} -o ${net.bridge} -p tcp -m tcp --dport 8080 -m comment --comment "dpk ${instance} `
        )

        // Out: a container reaches the outside host (masqueraded to the host's address on the veth).
        expect(yield* ping(outsideSide)).toBe(0)
        // Within: a second container reaches the first one over the bridge (br_netfilter sends bridged traffic
        // through FORWARD, where the drop would take it). Ping: the image's static busybox wget crashes on lookups.
        expect(yield* ping(address)).toBe(0)
        // In: the outside host fetches the published port through the host's address on its link.
        let body = ""
        for (let i = 0; i < 30 && body !== "hello\n"; i++) {
          body = inOutside("curl", "-s", "--max-time", "3", `http://${hostSide}:${hostPort}/`).stdout
          if (body !== "hello\n") yield* Effect.sleep("200 millis")
        }
        expect(body).toBe("hello\n")

        // The control: without the plugin's jump, the drops take the same traffic (the jump is put back where it was).
        iptables("filter", "-D", "FORWARD", "-j", fwd)
        const dropped = yield* Effect.all([
          ping(outsideSide),
          ping(address),
          Effect.sync(() => inOutside("curl", "-s", "--max-time", "3", `http://${hostSide}:${hostPort}/`).stdout)
        ]).pipe(Effect.ensuring(Effect.sync(() => iptables("filter", "-I", "FORWARD", String(jump + 1), "-j", fwd))))
        expect(dropped[0]).not.toBe(0)
        // Bridged traffic crosses FORWARD only with br_netfilter on (it is on with the engine's own bridge driver).
        if (bridgeNetfilter()) expect(dropped[1]).not.toBe(0)
        expect(dropped[2]).toBe("")
        expect(inOutside("curl", "-s", "--max-time", "3", `http://${hostSide}:${hostPort}/`).stdout).toBe("hello\n")

        // docker rm -f: the port's rule goes, the network's stay.
        yield* docker("rm", "-f", c)
        containers.splice(0)
        expect(iptables("filter", "-S", fwd).stdout).not.toContain(address)
        expect(iptables("filter", "-S", fwd).stdout).toContain(`-A ${fwd} -i ${net.bridge} ! -o ${net.bridge} `)
      }),
    180_000
  )

  it.live("docker network rm of the last network removes the forward chain and its jump, and nothing else", () =>
    Effect.gen(function* () {
      yield* docker("network", "rm", net.name)
      expect(filterTable()).not.toContain(fwd)
      expect(natTable()).not.toContain(`dpk ${instance} `)
      // Only this run's drops are left to remove.
      const appended = drops.map((d) => `-A FORWARD ${d.join(" ")}`)
      const now = filterTable().split("\n")
      expect(now.filter((l) => appended.includes(l))).toEqual(appended)
      expect(now.filter((l) => !appended.includes(l)).join("\n")).toBe(filterBefore)
    })
  )
})
