/**
 * `kill -9` at random moments of a loop of state-changing calls, many times over. After each restart the state must
 * load, everything acknowledged be there, every acknowledged removal gone, nothing unknown or half-written visible,
 * and the next calls must work. Calls in flight at the kill may have landed either way.
 *
 * - volumes: Create/Mount/Unmount/Remove on 24 names; the list after the restart is compared with what was
 *   acknowledged.
 * - IPAM (file store): RequestAddress/ReleaseAddress of 12 addresses named in one pool; after the restart each
 *   address acknowledged as held must be refused as in use, and each acknowledged as released must be given.
 * - graph (vfs, and overlay in a mount namespace of its own): Create/CreateReadWrite of 16 layer IDs, some on a
 *   parent, each followed by ApplyDiff of a small tar whose files are derived from the layer's ID, and Remove of
 *   layers without children. After the restart every acknowledged layer `Exists` and its `Get` shows its files and
 *   its ancestors' with the right content (then `Put`), every acknowledged removal is gone, the root holds no other
 *   folder and no leftover of an interrupted call, `Status` counts what was acknowledged, and a layer whose call was
 *   in flight is removed if there (as the daemon drops a layer it did not register); then a fresh
 *   Create/ApplyDiff/Remove.
 * - network-bridge: CreateNetwork/DeleteNetwork of 6 networks (a /24 each) and CreateEndpoint/DeleteEndpoint of an
 *   endpoint on each, in a network namespace made for the rounds and kept across the restarts (deleted after), so
 *   the links outlive the plugin as on a host. After the restart its state files are the truth: `EndpointOperInfo`
 *   must know each acknowledged network and endpoint and no acknowledged deletion, a CreateNetwork of a known ID with
 *   another gateway must be refused (its settings were read back), and the namespace's links must match what it
 *   knows (each bridge with its gateway address, each endpoint's host veth, none of a network it does not know);
 *   then a fresh network with an endpoint, both deleted. Every accepted call runs `ip`, so a round makes few calls.
 *
 * The rounds' starts run with Node's compile cache (see `Plugin.StartOptions`): the plugin still starts from
 * nothing each time, without compiling the same bundle hundreds of times over.
 */
import { Descriptors } from "@docker-plugin-kit/drivers"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import * as Plugin from "../plugin.ts"
import { mib, type Row } from "../row.ts"
import type { Target } from "../targets.ts"
import * as Volumes from "../volumes.ts"
import { attempt } from "../wire.ts"
import * as Graph from "./crash/graph.ts"
import * as Network from "./crash/network.ts"
import { ledger, type Subject } from "./crash/subject.ts"
import { sleep, withWorkspace } from "./support.ts"

const volumeNames = Array.from({ length: 24 }, (_, i) => `v${i}`)

const volumes = (): Subject => {
  const { known, unsure, settle } = ledger<string>()
  let fresh = 0
  return {
    setup: async () => undefined,
    verify: async ({ socket }) => {
      const lost: Array<string> = []
      const wrong: Array<string> = []
      const listed = await Volumes.names(socket)
      for (const name of listed) if (!volumeNames.includes(name)) lost.push(`unknown volume listed: ${name}`)
      for (const [name, exists] of known)
        if (listed.includes(name) !== exists) lost.push(`${name} should ${exists ? "" : "not "}exist`)
      const name = `fresh${fresh++}`
      for (const [method, body] of [
        ["Create", { Name: name, Opts: {} }],
        ["Remove", { Name: name }]
      ] as const) {
        const err = await Volumes.ok(socket, method, body)
        if (err !== undefined) wrong.push(`after restart ${err}`)
      }
      return { lost, wrong }
    },
    step: async (socket, killed) => {
      const Name = volumeNames[Math.floor(Math.random() * volumeNames.length)]!
      if (unsure.has(Name)) return false
      unsure.add(Name)
      const op = Math.random()
      const method = op < 0.4 ? "Create" : op < 0.7 ? "Remove" : "Mount"
      const body = method === "Create" ? { Name, Opts: {} } : method === "Mount" ? { Name, ID: "m" } : { Name }
      const err = await Volumes.ok(socket, method, body)
      if (killed()) return true
      if (method === "Mount" && err === undefined) await Volumes.ok(socket, "Unmount", { Name, ID: "m" })
      if (method === "Create" && err === undefined) known.set(Name, true)
      if (method === "Remove" && err === undefined) known.set(Name, false)
      unsure.delete(Name)
      return true
    },
    settle
  }
}

const ipamAddresses = Array.from({ length: 12 }, (_, i) => `10.214.0.${10 + i}`)

const ipam = (): Subject => {
  const { known, unsure, settle } = ledger<string>()
  let PoolID = ""
  const ipamCall = (socket: string, method: string, body: unknown) => attempt(socket, `/IpamDriver.${method}`, body)
  return {
    setup: async ({ socket }) => {
      const pool = await ipamCall(socket, "RequestPool", {
        AddressSpace: "local",
        Pool: "10.214.0.0/24",
        SubPool: "",
        Options: {},
        V6: false
      })
      PoolID = pool.json?.PoolID ?? ""
      return pool.ok ? undefined : pool.text
    },
    verify: async ({ socket }) => {
      const lost: Array<string> = []
      const wrong: Array<string> = []
      for (const [Address, held] of known) {
        const asked = await ipamCall(socket, "RequestAddress", { PoolID, Address, Options: {} })
        if (held && asked.ok) {
          lost.push(`${Address} was acknowledged as held, and was given again`)
          await ipamCall(socket, "ReleaseAddress", { PoolID, Address })
        } else if (held && !asked.text.includes("already allocated")) {
          wrong.push(asked.text)
        } else if (!held) {
          if (!asked.ok) lost.push(`${Address} was acknowledged as released, and is refused: ${asked.text}`)
          else await ipamCall(socket, "ReleaseAddress", { PoolID, Address })
        }
      }
      // The next calls work: an address from the rest of the pool, given back.
      const any = await ipamCall(socket, "RequestAddress", { PoolID, Address: "", Options: {} })
      if (!any.ok) wrong.push(`after restart ${any.text}`)
      else {
        const Address = String(any.json.Address).split("/")[0]!
        // One in flight at the kill (not in the ledger) may or may not have landed: either answer is right.
        if (known.get(Address) === true) lost.push(`${Address} handed out while held`)
        const back = await ipamCall(socket, "ReleaseAddress", { PoolID, Address })
        if (!back.ok) wrong.push(`after restart ${back.text}`)
        else if (ipamAddresses.includes(Address)) known.set(Address, false)
      }
      return { lost, wrong }
    },
    step: async (socket, killed) => {
      const Address = ipamAddresses[Math.floor(Math.random() * ipamAddresses.length)]!
      if (unsure.has(Address)) return false
      unsure.add(Address)
      const release = known.get(Address) === true || (known.get(Address) === undefined && Math.random() < 0.5)
      const result = await ipamCall(
        socket,
        release ? "ReleaseAddress" : "RequestAddress",
        release ? { PoolID, Address } : { PoolID, Address, Options: {} }
      )
      if (killed()) return true
      if (result.ok) known.set(Address, !release)
      unsure.delete(Address)
      return true
    },
    settle
  }
}

/** The value of flag `name` in `args`. */
const flagOf = (args: ReadonlyArray<string>, name: string): string | undefined => {
  const at = args.indexOf(name)
  return at < 0 ? undefined : args[at + 1]
}

/**
 * A network namespace of this run's own, kept across the restarts (links outlive the plugin, as on a host);
 * `release` deletes it with whatever is left in it.
 */
const namespace = (): { readonly name: string; readonly release: () => void } => {
  const name = `dpk-stress-${process.pid}`
  ChildProcess.execFileSync("ip", ["netns", "add", name], { stdio: "ignore" })
  return { name, release: () => ChildProcess.execFileSync("ip", ["netns", "delete", name], { stdio: "ignore" }) }
}

/** Runs `rounds` kill-and-restart rounds, or answers why the scenario does not apply. */
export const run = (target: Target, rounds: number): Promise<Row | string> => {
  const apis = Descriptors.byName(target.driver)?.apis.map((a) => a.subsystem) ?? []
  if (!target.persistent && target.crashNetns !== true)
    return Promise.resolve("skipped: its state does not outlive the process")
  const ns = target.crashNetns === true ? namespace() : undefined
  const subject: Subject | undefined = apis.includes("VolumeDriver")
    ? volumes()
    : apis.includes("IpamDriver")
      ? ipam()
      : apis.includes("GraphDriver")
        ? Graph.subject((dir) => flagOf(target.args(dir), "--root") ?? Path.join(dir, "graph"))
        : apis.includes("NetworkDriver") && ns !== undefined
          ? Network.subject(ns.name)
          : undefined
  if (subject === undefined) {
    ns?.release()
    return Promise.resolve("not written for this API yet")
  }
  const rounds_ = withWorkspace("crash", target, async ({ dir, socket, start }) => {
    const notes: Array<string> = []
    let crashes = 0
    let lost = 0
    let wrong = 0
    let steps = 0
    let peak = 0
    // Where a round's time goes: start (to "listening"), verify, work (the random window), kill (to the exit).
    const ms = { start: 0, verify: 0, work: 0, kill: 0 }
    const options = { compileCache: true }
    const serve = () =>
      ns === undefined
        ? start(options)
        : Plugin.start(target.driver, socket, target.args(dir), ["ip", "netns", "exec", ns.name], options)
    // Fills the compile cache (written at a clean exit only): the rounds' starts then skip compiling the bundle.
    try {
      await (await serve()).stop()
    } catch {
      // Round 0 reports a plugin that does not start.
    }
    for (let round = 0; round < rounds; round++) {
      let plugin: Plugin.Plugin
      const t0 = Date.now()
      try {
        plugin = await serve()
      } catch (e) {
        crashes++
        notes.push(`round ${round}: the plugin did not start again: ${(e as Error).message.slice(0, 200)}`)
        break
      }
      ms.start += Date.now() - t0
      const t1 = Date.now()
      const current = { socket, pid: plugin.pid, dir }
      if (round === 0) {
        const err = await subject.setup(current)
        if (err !== undefined) {
          wrong++
          notes.push(`setup: ${err}`)
          await plugin.kill9()
          break
        }
      } else {
        const found = await subject.verify(current)
        lost += found.lost.length
        wrong += found.wrong.length
        for (const text of [...found.lost, ...found.wrong]) if (notes.length < 8) notes.push(`round ${round}: ${text}`)
      }
      ms.verify += Date.now() - t1
      // Work, then kill at a random moment.
      let killed = false
      const worker = async () => {
        while (!killed) {
          if (await subject.step(socket, () => killed)) steps++
          // A step that found nothing to do answered at once: let the timers (the kill) run.
          else await new Promise((resolve) => setImmediate(resolve))
        }
      }
      const workers = Array.from({ length: 4 }, worker)
      const t2 = Date.now()
      await sleep(20 + Math.random() * 300)
      killed = true
      peak = Math.max(peak, plugin.peakRss())
      ms.work += Date.now() - t2
      const t3 = Date.now()
      await plugin.kill9()
      await Promise.all(workers)
      ms.kill += Date.now() - t3
      subject.settle()
    }
    return {
      scenario: "kill -9",
      driver: target.driver,
      count: rounds,
      crashes,
      unanswered: 0,
      lost,
      escapes: 0,
      wrong,
      peakRssMb: mib(peak),
      notes: [
        `${steps} calls across the rounds; a round took on average ${Object.entries(ms)
          .map(([phase, total]) => `${phase} ${Math.round(total / Math.max(rounds, 1))} ms`)
          .join(", ")}`,
        ...notes
      ]
    }
  })
  return ns === undefined ? rounds_ : rounds_.finally(ns.release)
}
