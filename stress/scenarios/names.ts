/**
 * Hostile names: path tricks, NUL, over-long names, Unicode look-alikes of `.` and `/`, a leading `-`, and a
 * symlink planted where a name would live, pointing outside. Each driver gets the corpus in every request field
 * that becomes a file name or a host argument; every call must be answered, a refusal must name the field or the
 * value, nothing outside the driver's folders may change, and nothing but what was accepted may appear inside.
 *
 * - volumes: Name through Create, Mount, Path, Unmount, Remove; hostile Create options.
 * - graph: layer ID and Parent through Create, CreateReadWrite, Get, Put, GetMetadata, Diff, Changes, DiffSize,
 *   ApplyDiff (query) and Remove; a symlink in the root where a layer folder would be, present at start-up.
 * - IPAM: address space, pool, sub-pool, pool ID and address; hostile Options (kept as data in the store file).
 * - network: NetworkID, EndpointID, SandboxKey and the bridge/prefix/routes/mtu options; every `ip` run is logged
 *   through a shim and no argument may start with `-` (read by ip as a flag) or be `help`.
 * - logs: container ID (StartLogging, ReadLogs), File (StartLogging, StopLogging) and log-opts; a symlink planted
 *   where a container's log file would be, pointing at a file outside.
 */
import { Descriptors } from "@docker-plugin-kit/drivers"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fifo, frames, logInfo } from "../logs.ts"
import type * as Plugin from "../plugin.ts"
import { isError, Probe } from "../probe.ts"
import { mib, type Row } from "../row.ts"
import type { Target } from "../targets.ts"
import { tarOf } from "../tar.ts"
import { difference, snapshot } from "../tree.ts"
import * as Volumes from "../volumes.ts"
import { type Workspace, withWorkspace } from "./support.ts"

/** The corpus: each is a name no driver may turn into a path outside its folders or an argument read as a flag. */
const names = [
  "..",
  ".",
  "/",
  "a/b",
  "../escape",
  "..\\escape",
  "a\u0000b",
  "x".repeat(256),
  "é".repeat(200),
  "\u2024\u2024",
  "\uff0fetc",
  "\u2215etc",
  "a\u202eb",
  "-rf",
  "--help",
  " ",
  "planted"
]

const options: ReadonlyArray<Record<string, string>> = [
  { uid: "-1" },
  { mode: "77777" },
  { size: "-1G" },
  { "label.../../x": "y" },
  { "../../x": "y" },
  { __proto__: "x" },
  { mode: "0777\u0000" }
]

const hex64 = (): string => Crypto.randomBytes(32).toString("hex")

/** A folder outside the driver's with a file, and a `diff` folder and `parent` file (what a layer folder holds). */
const outsideOf = (base: string): string => {
  const outside = Path.join(base, "outside")
  Fs.mkdirSync(Path.join(outside, "diff"), { recursive: true })
  Fs.writeFileSync(Path.join(outside, "keep"), "must stay\n")
  Fs.writeFileSync(Path.join(outside, "diff", "secret"), "must stay\n")
  Fs.writeFileSync(Path.join(outside, "parent"), "")
  return outside
}

/** The entries of a folder, or none when it does not exist. */
const entries = (dir: string): Array<string> => (Fs.existsSync(dir) ? Fs.readdirSync(dir) : [])

const rowOf = (
  target: Target,
  probe: Probe,
  plugin: Plugin.Plugin,
  changed: ReadonlyArray<string>,
  extra: { readonly lost?: number; readonly crashes?: number } = {}
): Row => ({
  scenario: "hostile names",
  driver: target.driver,
  count: probe.count,
  crashes: (plugin.alive() ? 0 : 1) + (extra.crashes ?? 0),
  unanswered: probe.unanswered,
  lost: extra.lost ?? 0,
  escapes: changed.length,
  wrong: probe.wrong,
  peakRssMb: mib(plugin.peakRss()),
  notes: [...probe.notes, ...changed.slice(0, 5).map((c) => `outside the driver's folders: ${c}`)]
})

/** Volumes: every name through Create, Mount, Path, Unmount, Remove; every option through Create. */
const volumes = (target: Target): Promise<Row> =>
  withWorkspace("names", target, async ({ base, dir, socket, start }) => {
    const outside = outsideOf(base)
    const plugin = await start()
    // A symlink planted in the root, where a volume named "planted" would live.
    const root = Path.join(dir, "root")
    if (Fs.existsSync(root)) Fs.symlinkSync(outside, Path.join(root, "planted"))
    const before = snapshot(base, [dir, socket])
    const probe = new Probe(socket)
    for (const Name of names) {
      await probe.hostile("/VolumeDriver.Create", { Name, Opts: {} }, Name, ["Name", "volume"], false)
      await probe.hostile("/VolumeDriver.Mount", { Name, ID: "x" }, Name, ["Name", "volume"], false)
      const path = await probe.send("/VolumeDriver.Path", { Name })
      const mountpoint = path?.json?.Mountpoint as string | undefined
      if (mountpoint !== undefined && Fs.existsSync(root) && !Path.resolve(mountpoint).startsWith(`${root}/`)) {
        probe.fault(`${JSON.stringify(Name)}: mountpoint ${mountpoint} is outside the root`)
      }
      await probe.hostile("/VolumeDriver.Unmount", { Name, ID: "x" }, Name, ["Name", "volume"], false)
      await probe.hostile("/VolumeDriver.Remove", { Name }, Name, ["Name", "volume"], false)
    }
    for (const [i, Opts] of options.entries()) {
      await probe.send("/VolumeDriver.Create", { Name: `opts${i}`, Opts })
      await probe.send("/VolumeDriver.Remove", { Name: `opts${i}` })
    }
    const changed = difference(before, snapshot(base, [dir, socket]))
    const listed = await Volumes.names(socket)
    probe.notes.push(`volumes left listed: ${listed.length === 0 ? "none" : listed.join(", ")}`)
    const row = rowOf(target, probe, plugin, changed)
    await plugin.stop()
    return row
  })

/** Graph drivers: the corpus as layer ID and Parent; a symlink planted in the root before the start. */
const graph = (target: Target): Promise<Row> =>
  withWorkspace("names", target, async ({ base, dir, socket, start }) => {
    const outside = outsideOf(base)
    const root = Path.join(dir, "graph")
    Fs.mkdirSync(root, { recursive: true, mode: 0o700 })
    // Where a layer "planted" would be, with what a layer folder holds: start-up must not take it for a layer.
    Fs.symlinkSync(outside, Path.join(root, "planted"))
    const tar = tarOf(base, { pwned: "written through a hostile layer ID\n" })
    const before = snapshot(base, [dir, socket])
    let plugin = await start()
    const probe = new Probe(socket)
    const id = ["ID", "layer"]
    const parent = ["Parent", "layer"]
    await probe.ok("/GraphDriver.Create", { ID: "base" })
    for (const name of names) {
      await probe.hostile("/GraphDriver.Create", { ID: name }, name, id, true)
      await probe.hostile("/GraphDriver.CreateReadWrite", { ID: name, Parent: "base" }, name, id, true)
      const child = await probe.hostile("/GraphDriver.Create", { ID: "child", Parent: name }, name, parent, true)
      if (child !== undefined && !isError(child)) await probe.send("/GraphDriver.Remove", { ID: "child" })
      await probe.hostile("/GraphDriver.Get", { ID: name, MountLabel: "" }, name, id, true)
      await probe.hostile("/GraphDriver.Put", { ID: name }, name, id, true)
      await probe.hostile("/GraphDriver.GetMetadata", { ID: name }, name, id, true)
      await probe.hostile("/GraphDriver.Diff", { ID: name }, name, id, true)
      await probe.hostile("/GraphDriver.Diff", { ID: "base", Parent: name }, name, parent, true)
      await probe.hostile("/GraphDriver.Changes", { ID: name }, name, id, true)
      await probe.hostile("/GraphDriver.DiffSize", { ID: "base", Parent: name }, name, parent, true)
      const query = `id=${encodeURIComponent(name)}&parent=`
      await probe.hostile(`/GraphDriver.ApplyDiff?${query}`, tar, name, id, true)
      await probe.hostile("/GraphDriver.Remove", { ID: name }, name, id, true)
    }
    // The parent of ApplyDiff is not used by the driver (the layer's own parent is): accepted, but never a path.
    await probe.ok(`/GraphDriver.ApplyDiff?id=base&parent=${encodeURIComponent("../escape")}`, tar)
    // Start-up again: the planted symlink must still not be taken for a layer.
    await plugin.stop()
    plugin = await start()
    if ((await probe.send("/GraphDriver.Exists", { ID: "planted" }))?.json?.Exists === true)
      probe.fault("the symlink planted in the root was taken for a layer at start-up")
    let lost = 0
    if ((await probe.send("/GraphDriver.Exists", { ID: "base" }))?.json?.Exists !== true) {
      lost++
      probe.notes.push("layer base is gone after the restart")
    }
    const stray = entries(root).filter((e) => !["base", "planted"].includes(e))
    for (const e of stray) probe.fault(`${JSON.stringify(e)} appeared in the graph root`)
    const changed = difference(before, snapshot(base, [dir, socket]))
    const row = rowOf(target, probe, plugin, changed, { lost })
    await plugin.stop()
    return row
  })

/** IPAM: the corpus as address space, pool, sub-pool, pool ID and address; hostile Options. */
const ipam = (target: Target): Promise<Row> =>
  withWorkspace("names", target, async ({ base, dir, socket, start }) => {
    outsideOf(base)
    const before = snapshot(base, [dir, socket])
    let plugin = await start()
    const probe = new Probe(socket)
    const pool = {
      AddressSpace: "local",
      Pool: "10.231.0.0/24",
      SubPool: "",
      Options: {},
      V6: false
    }
    const PoolID = (await probe.ok("/IpamDriver.RequestPool", pool))?.json?.PoolID as string | undefined
    const held = (await probe.ok("/IpamDriver.RequestAddress", { PoolID, Address: "", Options: {} }))?.json?.Address as
      | string
      | undefined
    for (const name of names) {
      const space = ["address space", "AddressSpace"]
      await probe.hostile("/IpamDriver.RequestPool", { ...pool, AddressSpace: name }, name, space, true)
      await probe.hostile("/IpamDriver.RequestPool", { ...pool, Pool: name }, name, ["Pool", "subnet"], true)
      await probe.hostile("/IpamDriver.RequestPool", { ...pool, SubPool: name }, name, ["range", "SubPool"], true)
      const byId = ["pool"]
      await probe.hostile("/IpamDriver.RequestAddress", { PoolID: name, Address: "", Options: {} }, name, byId, true)
      await probe.hostile("/IpamDriver.ReleaseAddress", { PoolID: name, Address: "10.231.0.9" }, name, byId, true)
      await probe.hostile("/IpamDriver.ReleasePool", { PoolID: name }, name, byId, true)
      const address = ["address"]
      await probe.hostile("/IpamDriver.RequestAddress", { PoolID, Address: name, Options: {} }, name, address, true)
      await probe.hostile("/IpamDriver.ReleaseAddress", { PoolID, Address: name }, name, address, true)
      // Options are data (answered back, kept in the store file), never a file name: accepted.
      const Options = { [name]: name, "com.docker.network.ipam.serial": name }
      const withOptions = await probe.ok("/IpamDriver.RequestPool", { ...pool, Pool: "10.232.0.0/24", Options })
      const other = withOptions?.json?.PoolID as string | undefined
      if (other !== undefined) {
        const given = await probe.ok("/IpamDriver.RequestAddress", { PoolID: other, Address: "", Options })
        if (given?.json?.Address !== undefined)
          await probe.ok("/IpamDriver.ReleaseAddress", { PoolID: other, Address: given.json.Address.split("/")[0] })
        await probe.ok("/IpamDriver.ReleasePool", { PoolID: other })
      }
    }
    // The store holds only its own files; it loads again, the held address with it.
    const store = Path.join(dir, "ipam")
    for (const e of entries(store).filter((e) => !["store.json", "owner.pid", "tmp"].includes(e)))
      probe.fault(`${JSON.stringify(e)} appeared in the store folder`)
    await plugin.stop()
    plugin = await start()
    let lost = 0
    if (held !== undefined) {
      const again = await probe.send("/IpamDriver.RequestAddress", { PoolID, Address: held.split("/")[0], Options: {} })
      if (again === undefined || !isError(again)) {
        lost++
        probe.notes.push(`address ${held} is not held after the restart`)
      }
    }
    const changed = difference(before, snapshot(base, [dir, socket]))
    const row = rowOf(target, probe, plugin, changed, { lost })
    await plugin.stop()
    return row
  })

/** A shim for `ip` that logs each argument list (fields split by \x1f, runs by \x1e), then runs the real one. */
const ipShim = (base: string): { readonly bin: string; readonly log: string } => {
  const bin = Path.join(base, "shim")
  const log = Path.join(base, "shim-log", "ip.log")
  Fs.mkdirSync(bin)
  Fs.mkdirSync(Path.dirname(log))
  const real = ChildProcess.execFileSync("sh", ["-c", "command -v ip"], { encoding: "utf8" }).trim()
  Fs.writeFileSync(
    Path.join(bin, "ip"),
    `#!/bin/sh\nprintf '%s\\037' "$@" >> '${log}'\nprintf '\\036' >> '${log}'\nexec '${real}' "$@"\n`,
    { mode: 0o755 }
  )
  return { bin, log }
}

/** Arguments of the logged `ip` runs that ip could read as a flag or as its `help` keyword. */
const flagLike = (log: string): { runs: number; bad: Array<string> } => {
  const runs = (Fs.existsSync(log) ? Fs.readFileSync(log, "utf8") : "").split("\x1e").filter((r) => r !== "")
  const bad: Array<string> = []
  for (const run of runs) {
    const args = run.split("\x1f").slice(0, -1)
    // The driver's own options come first (-j, -d); any other argument starting with "-" came from a request.
    let i = 0
    while (i < args.length && ["-j", "-d"].includes(args[i]!)) i++
    if (args.slice(i).some((a) => a.startsWith("-") || a === "help")) bad.push(args.join(" "))
  }
  return { runs: runs.length, bad }
}

/** The links in the network namespace of a process. */
const linksOf = (pid: number): Array<string> => {
  try {
    const out = ChildProcess.execFileSync("nsenter", [`--net=/proc/${pid}/ns/net`, "ip", "-j", "link", "show"], {
      encoding: "utf8"
    })
    return (JSON.parse(out) as Array<{ ifname: string }>).map((l) => l.ifname)
  } catch {
    return []
  }
}

/** Network: the corpus as NetworkID, EndpointID, SandboxKey and driver options; `ip` arguments logged. */
const network = (target: Target): Promise<Row> =>
  withWorkspace("names", target, async ({ base, dir, socket, start }: Workspace) => {
    outsideOf(base)
    const shim = ipShim(base)
    const before = snapshot(base, [dir, Path.dirname(shim.log), socket])
    const path = process.env.PATH
    process.env.PATH = `${shim.bin}:${path}`
    let plugin: Plugin.Plugin
    try {
      plugin = await start()
    } finally {
      process.env.PATH = path
    }
    const probe = new Probe(socket)
    const good = hex64()
    const ipv4 = [{ AddressSpace: "local", Pool: "10.233.0.0/24", Gateway: "10.233.0.1/24" }]
    await probe.ok("/NetworkDriver.CreateNetwork", { NetworkID: good, Options: {}, IPv4Data: ipv4, IPv6Data: [] })
    const iface = { Address: "", AddressIPv6: "", MacAddress: "" }
    const generic = "com.docker.network.generic"
    for (const name of names) {
      // A NetworkID is never a file or link name as such (hashed when not hex): accepted, or refused naming it.
      const created = await probe.hostile(
        "/NetworkDriver.CreateNetwork",
        { NetworkID: name, Options: {}, IPv4Data: [], IPv6Data: [] },
        name,
        ["NetworkID", "network"],
        false
      )
      if (created !== undefined && !isError(created))
        await probe.ok("/NetworkDriver.DeleteNetwork", { NetworkID: name })
      for (const key of ["bridge", "com.docker.network.bridge.name", "prefix", "routes", "mtu"]) {
        const NetworkID = hex64()
        const reply = await probe.hostile(
          "/NetworkDriver.CreateNetwork",
          { NetworkID, Options: { [generic]: { [key]: name } }, IPv4Data: [], IPv6Data: [] },
          name,
          [key],
          // "planted" is a valid bridge name and prefix; routes of only spaces are no routes.
          !((key.includes("bridge") || key === "prefix") && name === "planted") &&
            !(key === "routes" && name.trim() === "")
        )
        if (reply !== undefined && !isError(reply)) await probe.ok("/NetworkDriver.DeleteNetwork", { NetworkID })
      }
      const endpoint = await probe.hostile(
        "/NetworkDriver.CreateEndpoint",
        { NetworkID: good, EndpointID: name, Interface: iface, Options: {} },
        name,
        ["EndpointID", "endpoint"],
        false
      )
      if (endpoint !== undefined && !isError(endpoint)) {
        const ids = { NetworkID: good, EndpointID: name }
        await probe.ok("/NetworkDriver.Join", { ...ids, SandboxKey: name, Options: {} })
        await probe.ok("/NetworkDriver.EndpointOperInfo", ids)
        await probe.ok("/NetworkDriver.Leave", ids)
        await probe.ok("/NetworkDriver.DeleteEndpoint", ids)
      }
      const unknown = { NetworkID: name, EndpointID: name }
      const fields = ["network", "endpoint"]
      await probe.hostile("/NetworkDriver.Join", { ...unknown, SandboxKey: "", Options: {} }, name, fields, true)
      await probe.hostile("/NetworkDriver.Leave", unknown, name, fields, true)
      await probe.hostile("/NetworkDriver.EndpointOperInfo", unknown, name, fields, true)
      await probe.hostile("/NetworkDriver.DeleteEndpoint", unknown, name, fields, true)
      await probe.hostile("/NetworkDriver.DeleteNetwork", { NetworkID: name }, name, fields, true)
    }
    const { runs, bad } = flagLike(shim.log)
    for (const b of bad) probe.fault(`ip was given an argument it may read as a flag: ip ${b.slice(0, 120)}`)
    probe.notes.push(`${runs} ip runs logged`)
    // Only the good network is left: its bridge on the host, its file in the state folder.
    const links = linksOf(plugin.pid).filter((l) => l !== "lo")
    const bridge = `dpk-${good.slice(0, 11)}`
    for (const l of links.filter((l) => l !== bridge)) probe.fault(`link ${JSON.stringify(l)} left behind`)
    const networks = entries(Path.join(dir, "state", "networks"))
    for (const f of networks.filter((f) => f !== good)) probe.fault(`state file ${JSON.stringify(f)} left behind`)
    let lost = 0
    if (!links.includes(bridge)) {
      lost++
      probe.notes.push(`bridge ${bridge} of the network created first is gone`)
    }
    const changed = difference(before, snapshot(base, [dir, Path.dirname(shim.log), socket]))
    const row = rowOf(target, probe, plugin, changed, { lost })
    await plugin.stop()
    return row
  })

/** A ReadLogs config asking for everything, without following. */
const readAll = { Since: "0001-01-01T00:00:00Z", Until: "0001-01-01T00:00:00Z", Tail: -1, Follow: false }

/** Logs: the corpus as container ID, FIFO path and log-opts; a symlink planted where a log file would be. */
const logs = (target: Target): Promise<Row> =>
  withWorkspace("names", target, async ({ base, dir, socket, start }) => {
    const outside = outsideOf(base)
    const folder = Path.join(dir, "logs")
    Fs.mkdirSync(folder, { recursive: true })
    const victim = Path.join(outside, "keep")
    Fs.symlinkSync(victim, Path.join(folder, "planted.log"))
    const fifos = Path.join(base, "fifos")
    Fs.mkdirSync(fifos)
    const before = snapshot(base, [dir, fifos, socket])
    const plugin = await start()
    const probe = new Probe(socket)
    const id = ["container ID"]
    for (const name of names) {
      const pipe = fifo(fifos)
      try {
        const started = await probe.hostile(
          "/LogDriver.StartLogging",
          { File: pipe.File, Info: logInfo(name) },
          name,
          id,
          name !== "planted"
        )
        if (started !== undefined && !isError(started)) {
          Fs.writeSync(pipe.fd, frames(["written through a planted symlink\n"]))
          await probe.send("/LogDriver.StopLogging", { File: pipe.File })
        }
      } finally {
        pipe.close()
      }
      const read = await probe.hostile(
        "/LogDriver.ReadLogs",
        { Info: logInfo(name), Config: readAll },
        name,
        id,
        name !== "planted"
      )
      if (read !== undefined && !isError(read) && read.text.includes("must stay"))
        probe.fault(`ReadLogs of ${JSON.stringify(name)} served a file outside the log folder`)
      // A File that is not a FIFO the daemon made: the corpus, a file outside, a symlink to a FIFO.
      await probe.hostile("/LogDriver.StartLogging", { File: name, Info: logInfo(hex64()) }, name, ["File"], true)
      await probe.hostile("/LogDriver.StopLogging", { File: name }, name, ["File"], true)
      for (const key of ["max-size", "max-file", name]) {
        const pipe = fifo(fifos)
        try {
          const config = { [key]: name, ...(key === "max-file" ? { "max-size": "1k" } : {}) }
          const started = await probe.hostile(
            "/LogDriver.StartLogging",
            { File: pipe.File, Info: logInfo(hex64(), config) },
            name,
            [key],
            true
          )
          if (started !== undefined && !isError(started))
            await probe.send("/LogDriver.StopLogging", { File: pipe.File })
        } finally {
          pipe.close()
        }
      }
    }
    const linked = Path.join(fifos, "linked")
    const pipe = fifo(fifos)
    Fs.symlinkSync(pipe.File, linked)
    for (const File of [victim, linked, outside]) {
      const started = await probe.hostile(
        "/LogDriver.StartLogging",
        { File, Info: logInfo(hex64()) },
        File,
        ["File"],
        true
      )
      if (started !== undefined && !isError(started)) await probe.send("/LogDriver.StopLogging", { File })
    }
    pipe.close()
    const stray = entries(folder).filter((e) => e !== "planted.log")
    for (const e of stray) probe.fault(`${JSON.stringify(e)} appeared in the log folder`)
    const changed = difference(before, snapshot(base, [dir, fifos, socket]))
    const row = rowOf(target, probe, plugin, changed)
    await plugin.stop()
    return row
  })

const apisOf = (t: Target) => Descriptors.byName(t.driver)?.apis.map((a) => a.subsystem) ?? []

/** Runs the scenario, or answers why it does not apply. */
export const run = (target: Target): Promise<Row | string> => {
  const apis = apisOf(target)
  if (apis.includes("VolumeDriver")) return volumes(target)
  if (apis.includes("GraphDriver")) return graph(target)
  if (apis.includes("IpamDriver")) return ipam(target)
  if (apis.includes("NetworkDriver")) return network(target)
  if (apis.includes("LogDriver")) return logs(target)
  if (apis.includes("authz"))
    return Promise.resolve("no request field becomes a path or an argument: requests are only matched against rules")
  if (apis.includes("MetricsCollector"))
    return Promise.resolve("StartMetrics/StopMetrics carry no name; the socket and address are flags, not requests")
  return Promise.resolve("no caller-chosen name reaches a file or the host")
}
