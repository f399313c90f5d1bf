/**
 * A full disk: the driver's folders on a small tmpfs the scenario mounts (root only), filled up. Calls that need
 * space must fail with an error that says so, without a crash; what was acknowledged before stays, and after the
 * space is freed and the plugin restarted, everything acknowledged is there and new calls work.
 *
 * - volumes: Create on the full disk; the volumes created before are listed after the restart.
 * - IPAM (file store): RequestPool and RequestAddress on the full disk; the store file stays readable, and every
 *   pool and address acknowledged (before or on the full disk) is still held after the restart.
 * - graph: ApplyDiff of a tar larger than the space, then Create of a layer with the disk full; no half layer is
 *   left visible, the layers made before keep their files across the restart.
 * - logs: a container logging onto the full disk: the FIFO is still drained (the writer never blocks), the failed
 *   writes are reported; once space returns, logging works again and the lines written before are still there.
 */
import { Descriptors } from "@docker-plugin-kit/drivers"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fifo, frames, logInfo } from "../logs.ts"
import type * as Plugin from "../plugin.ts"
import { errorOf, isError, Probe, type Reply } from "../probe.ts"
import { mib, type Row } from "../row.ts"
import type { Target } from "../targets.ts"
import { tarOf } from "../tar.ts"
import * as Volumes from "../volumes.ts"
import { sleep, type Workspace, withWorkspace } from "./support.ts"

/** Whether an error says the disk is full. */
const saysFull = (text: string): boolean => /space|ENOSPC|full/i.test(text)

/** Runs `body` with a 1 MiB tmpfs mounted on the plugin's folder, unmounted afterwards. */
const onTmpfs = <A>(target: Target, body: (workspace: Workspace) => Promise<A>): Promise<A> =>
  withWorkspace("diskfull", target, async (workspace) => {
    Fs.mkdirSync(workspace.dir)
    ChildProcess.execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "dpk-stress", workspace.dir])
    try {
      return await body(workspace)
    } finally {
      ChildProcess.execFileSync("umount", ["-l", workspace.dir])
    }
  })

/** Fills what is left of the file system at `dir`; answers the filler's path (removed to free the space). */
const fill = (dir: string): string => {
  const filler = Path.join(dir, "filler")
  try {
    Fs.writeFileSync(filler, Buffer.alloc(2 * 1024 * 1024))
  } catch {
    // ENOSPC: the file system is full now.
  }
  return filler
}

/** Counts a call on the full disk: refused (its error must say why) or accepted (then it must be kept). */
const onFull = (probe: Probe, errors: Array<string>, label: string, reply: Reply | undefined): boolean => {
  if (reply === undefined) return false
  if (!isError(reply)) return true
  const err = errorOf(reply)
  errors.push(err)
  if (!saysFull(err))
    probe.fault(`${label} on the full disk: the error does not say the disk is full: ${err.slice(0, 160)}`)
  return false
}

const rowOf = (target: Target, probe: Probe, plugin: Plugin.Plugin, lost: number, crashes: number): Row => ({
  scenario: "disk full",
  driver: target.driver,
  count: probe.count,
  crashes: crashes + (plugin.alive() ? 0 : 1),
  unanswered: probe.unanswered,
  lost,
  escapes: 0,
  wrong: probe.wrong,
  peakRssMb: mib(plugin.peakRss()),
  notes: probe.notes
})

/** Volumes: Create on the full disk; the volumes made before survive a restart. */
const volumes = (target: Target): Promise<Row> =>
  onTmpfs(target, async ({ dir, socket, start }) => {
    const probe = new Probe(socket)
    let plugin = await start()
    const kept = ["a", "b", "c"]
    for (const Name of kept) await probe.ok("/VolumeDriver.Create", { Name, Opts: { "label.x": "y" } })
    const filler = fill(dir)
    const errors: Array<string> = []
    for (let i = 0; i < 20; i++) {
      const body = { Name: `full${i}`, Opts: { "label.pad": "x".repeat(2000) } }
      if (onFull(probe, errors, "Create", await probe.send("/VolumeDriver.Create", body))) kept.push(body.Name)
    }
    probe.notes.push(`${errors.length} of 20 Creates failed on the full disk; e.g. ${errors[0] ?? "none"}`)
    Fs.rmSync(filler, { force: true })
    await plugin.stop()
    plugin = await start()
    const listed = await Volumes.names(socket)
    const lost = kept.filter((n) => !listed.includes(n)).length
    const half = listed.filter((n) => !kept.includes(n))
    probe.notes.push(`after restart: ${listed.join(", ")}`)
    await probe.ok("/VolumeDriver.Create", { Name: "after", Opts: {} })
    const row = rowOf(target, probe, plugin, lost + half.length, 0)
    await plugin.stop()
    return row
  })

/** IPAM: pools and addresses on the full disk; everything acknowledged is held after the restart. */
const ipam = (target: Target): Promise<Row> =>
  onTmpfs(target, async ({ dir, socket, start }) => {
    const probe = new Probe(socket)
    let plugin = await start()
    const request = (Pool: string) => ({ AddressSpace: "local", Pool, SubPool: "", Options: {}, V6: false })
    // Acknowledged: pool CIDR to its ID and the addresses given from it.
    const held = new Map<string, { PoolID: string; addresses: Array<string> }>()
    const take = async (cidr: string, reply: Reply | undefined) => {
      if (reply === undefined || isError(reply)) return
      held.set(cidr, { PoolID: reply.json.PoolID, addresses: [] })
    }
    const give = async (cidr: string, reply: Reply | undefined) => {
      if (reply === undefined || isError(reply)) return
      held.get(cidr)!.addresses.push((reply.json.Address as string).split("/")[0]!)
    }
    for (let i = 0; i < 3; i++) {
      const cidr = `10.240.${i}.0/24`
      await take(cidr, await probe.ok("/IpamDriver.RequestPool", request(cidr)))
      const PoolID = held.get(cidr)?.PoolID
      for (let j = 0; j < 5 && PoolID !== undefined; j++)
        await give(cidr, await probe.ok("/IpamDriver.RequestAddress", { PoolID, Address: "", Options: {} }))
    }
    const store = Path.join(dir, "ipam", "store.json")
    const filler = fill(dir)
    const errors: Array<string> = []
    let accepted = 0
    for (let i = 0; i < 10; i++) {
      const cidr = `10.241.${i}.0/24`
      const reply = await probe.send("/IpamDriver.RequestPool", request(cidr))
      if (onFull(probe, errors, "RequestPool", reply)) {
        accepted++
        await take(cidr, reply)
      }
    }
    const first = held.get("10.240.0.0/24")
    for (let i = 0; i < 10 && first !== undefined; i++) {
      const reply = await probe.send("/IpamDriver.RequestAddress", { PoolID: first.PoolID, Address: "", Options: {} })
      if (onFull(probe, errors, "RequestAddress", reply)) {
        accepted++
        await give("10.240.0.0/24", reply)
      }
    }
    if (errors.length === 0) probe.fault("no call failed on the full disk")
    probe.notes.push(
      `${errors.length} of 20 calls failed on the full disk, ${accepted} accepted; e.g. ${errors[0] ?? "none"}`
    )
    // The store stays readable: the file parses, and a call that writes nothing is answered as usual.
    try {
      JSON.parse(Fs.readFileSync(store, "utf8"))
    } catch (e) {
      probe.fault(`the store file is unreadable on the full disk: ${(e as Error).message}`)
    }
    if (first !== undefined && first.addresses[0] !== undefined) {
      const body = { PoolID: first.PoolID, Address: first.addresses[0], Options: {} }
      const reply = await probe.send("/IpamDriver.RequestAddress", body)
      if (reply !== undefined && (!isError(reply) || saysFull(errorOf(reply))))
        probe.fault(`a held address asked for on the full disk: ${isError(reply) ? errorOf(reply) : "given again"}`)
    }
    Fs.rmSync(filler, { force: true })
    await plugin.stop()
    plugin = await start()
    let lost = 0
    for (const [cidr, { PoolID, addresses }] of held) {
      const again = await probe.send("/IpamDriver.RequestPool", request(cidr))
      if (again !== undefined && !isError(again)) {
        lost++
        probe.notes.push(`pool ${cidr} acknowledged before, given again after the restart`)
      }
      for (const Address of addresses) {
        const reply = await probe.send("/IpamDriver.RequestAddress", { PoolID, Address, Options: {} })
        if (reply !== undefined && !isError(reply)) {
          lost++
          probe.notes.push(`address ${Address} acknowledged before, given again after the restart`)
        }
      }
    }
    const count = [...held.values()].reduce((n, p) => n + 1 + p.addresses.length, 0)
    probe.notes.push(`${count} pools and addresses acknowledged, checked after the restart`)
    if (first !== undefined)
      await probe.ok("/IpamDriver.RequestAddress", { PoolID: first.PoolID, Address: "", Options: {} })
    await probe.ok("/IpamDriver.RequestPool", request("10.242.0.0/24"))
    const row = rowOf(target, probe, plugin, lost, 0)
    await plugin.stop()
    return row
  })

/** Graph: a tar larger than the space, a Create on the full disk; the layers made before keep their files. */
const graph = (target: Target): Promise<Row> =>
  onTmpfs(target, async ({ base, dir, socket, start }) => {
    const probe = new Probe(socket)
    let plugin = await start()
    const root = Path.join(dir, "graph")
    const apply = (id: string, tar: Buffer) => probe.send(`/GraphDriver.ApplyDiff?id=${id}&parent=`, tar)
    // Acknowledged: layer to the files of its own diff.
    const layers = new Map<string, Record<string, string>>()
    const own: Record<string, Record<string, string>> = {
      base: { a: "a".repeat(20_000), b: "bee\n" },
      mid: { c: "sea\n" }
    }
    for (const [id, parent] of [
      ["base", undefined],
      ["mid", "base"]
    ] as const) {
      if (
        (await probe.ok("/GraphDriver.Create", parent === undefined ? { ID: id } : { ID: id, Parent: parent })) ===
        undefined
      )
        continue
      const reply = await apply(id, tarOf(base, own[id]!))
      if (reply !== undefined && !isError(reply)) layers.set(id, own[id]!)
      else probe.fault(`ApplyDiff of ${id} before filling: ${reply === undefined ? "no answer" : errorOf(reply)}`)
    }
    const errors: Array<string> = []
    // A layer whose tar is larger than the whole disk: the daemon removes the layer when ApplyDiff fails.
    await probe.ok("/GraphDriver.Create", { ID: "big", Parent: "mid" })
    const big = await apply("big", tarOf(base, { huge: Buffer.alloc(2 * 1024 * 1024, 1) }))
    if (onFull(probe, errors, "ApplyDiff", big)) probe.fault("ApplyDiff of a 2 MiB tar on a 1 MiB disk was accepted")
    await probe.ok("/GraphDriver.Remove", { ID: "big" })
    const filler = fill(dir)
    // vfs copies the parent's files; overlay writes the layer's parent file: both need space.
    const created = await probe.send("/GraphDriver.Create", { ID: "full", Parent: "mid" })
    if (onFull(probe, errors, "Create", created)) layers.set("full", {})
    const exists = (await probe.send("/GraphDriver.Exists", { ID: "full" }))?.json?.Exists === true
    if (exists !== layers.has("full"))
      probe.fault(`layer full ${exists ? "exists after its Create failed" : "is gone"}`)
    probe.notes.push(
      `${errors.length} of 2 calls failed on the full disk`,
      ...errors.map((e) => `  ${e.slice(0, 160)}`)
    )
    const stray = Fs.readdirSync(root).filter((e) => !layers.has(e))
    let lost = stray.length
    for (const e of stray) probe.notes.push(`left in the root on the full disk: ${e}`)
    Fs.rmSync(filler, { force: true })
    await plugin.stop()
    plugin = await start()
    for (const [id, files] of layers) {
      if ((await probe.send("/GraphDriver.Exists", { ID: id }))?.json?.Exists !== true) {
        lost++
        probe.notes.push(`layer ${id} is gone after the restart`)
        continue
      }
      for (const [name, content] of Object.entries(files)) {
        const path = Path.join(root, id, "diff", name)
        if (!Fs.existsSync(path) || Fs.readFileSync(path, "utf8") !== content) {
          lost++
          probe.notes.push(`layer ${id}: ${name} is not as applied after the restart`)
        }
      }
    }
    if ((await probe.send("/GraphDriver.Exists", { ID: "big" }))?.json?.Exists === true) {
      lost++
      probe.notes.push("the removed layer big is back after the restart")
    }
    for (const e of Fs.readdirSync(root).filter((e) => !layers.has(e))) {
      lost++
      probe.notes.push(`left in the root after the restart: ${e}`)
    }
    await probe.ok("/GraphDriver.Create", { ID: "after", Parent: "mid" })
    const after = await apply("after", tarOf(base, { d: "dee\n" }))
    if (after === undefined || isError(after))
      probe.fault(`ApplyDiff after freeing space: ${after === undefined ? "no answer" : errorOf(after)}`)
    const row = rowOf(target, probe, plugin, lost, 0)
    await plugin.stop()
    return row
  })

/** Lines of a container's log file (JSON records), or none. */
const logLines = (folder: string, id: string): Array<string> => {
  const file = Path.join(folder, `${id}.log`)
  return Fs.existsSync(file)
    ? Fs.readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l !== "")
    : []
}

/** Writes `bytes` to a non-blocking FIFO; answers the longest time the pipe stayed full, in ms. */
const pour = async (fd: number, bytes: Uint8Array, deadlineMs: number): Promise<number> => {
  let at = 0
  let stalled = 0
  let since: number | undefined
  const end = Date.now() + deadlineMs
  while (at < bytes.length && Date.now() < end) {
    let n = 0
    try {
      n = Fs.writeSync(fd, bytes, at, Math.min(64 * 1024, bytes.length - at))
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e
    }
    if (n > 0) {
      at += n
      since = undefined
    } else {
      since ??= Date.now()
      stalled = Math.max(stalled, Date.now() - since)
      await sleep(5)
    }
  }
  return at < bytes.length ? Math.max(stalled, deadlineMs) : stalled
}

/** Logs: a container logging onto the full disk; logging works again once space returns. */
const logs = (target: Target): Promise<Row> =>
  onTmpfs(target, async ({ base, dir, socket, start }) => {
    const probe = new Probe(socket)
    const plugin = await start()
    const folder = Path.join(dir, "logs")
    const fifos = Path.join(base, "fifos")
    Fs.mkdirSync(fifos)
    const ids = { before: "a".repeat(64), full: "b".repeat(64), after: "c".repeat(64) }
    const stream = async (id: string, lines: number, size: number) => {
      const pipe = fifo(fifos)
      try {
        if ((await probe.ok("/LogDriver.StartLogging", { File: pipe.File, Info: logInfo(id) })) === undefined) return 0
        const text = Array.from({ length: lines }, (_, i) => `${id.slice(0, 4)} ${i} ${"x".repeat(size)}\n`)
        const stalled = await pour(pipe.fd, frames(text), 30_000)
        await probe.ok("/LogDriver.StopLogging", { File: pipe.File })
        return stalled
      } finally {
        pipe.close()
      }
    }
    let lost = 0
    await stream(ids.before, 100, 50)
    await sleep(200)
    const kept = logLines(folder, ids.before)
    if (kept.length !== 100) probe.fault(`${kept.length} of 100 lines written before filling the disk`)
    const filler = fill(dir)
    // 4 MiB of lines onto a full 1 MiB disk: the FIFO must keep draining.
    const stalled = await stream(ids.full, 20_000, 200)
    if (stalled > 5_000) probe.fault(`the FIFO stayed full for ${stalled} ms: the writer blocked on the full disk`)
    probe.notes.push(`4 MiB logged onto the full disk; the pipe stayed full at most ${stalled} ms`)
    await sleep(500)
    const output = plugin.output()
    const reported = output.split("\n").filter((l) => l.includes(ids.full.slice(0, 12)) && /failed|dropped/.test(l))
    if (reported.length === 0) probe.fault("the writes that failed on the full disk were not reported")
    else {
      // The stream's counters at its end when they are out, else its first failure.
      const line = reported.find((l) => l.includes("entries written")) ?? reported[0]!
      probe.notes.push(
        `reported: ${line
          .replace(/^.*?(container|log stream)/, "$1")
          .replace(/"$/, "")
          .slice(0, 160)}`
      )
    }
    Fs.rmSync(filler, { force: true })
    await stream(ids.after, 100, 50)
    await sleep(200)
    const after = logLines(folder, ids.after)
    if (after.length !== 100) probe.fault(`${after.length} of 100 lines written after freeing space`)
    const still = logLines(folder, ids.before)
    if (still.length !== kept.length || still.some((l, i) => l !== kept[i])) {
      lost++
      probe.notes.push("the lines written before filling the disk changed")
    }
    const row = rowOf(target, probe, plugin, lost, 0)
    await plugin.stop()
    return row
  })

const apisOf = (t: Target) => Descriptors.byName(t.driver)?.apis.map((a) => a.subsystem) ?? []

/** Runs the scenario, or answers why it does not apply. */
export const run = (target: Target): Promise<Row | string> => {
  const apis = apisOf(target)
  const root = process.getuid?.() === 0
  const skip = (why: string) => Promise.resolve(why)
  if (apis.includes("VolumeDriver"))
    return !target.persistent
      ? skip("skipped: nothing is written to disk")
      : root
        ? volumes(target)
        : skip("skipped: mounting a tmpfs needs root")
  const covered = apis.includes("IpamDriver")
    ? ipam
    : apis.includes("GraphDriver")
      ? graph
      : apis.includes("LogDriver")
        ? logs
        : undefined
  if (covered !== undefined) return root ? covered(target) : skip("skipped: mounting a tmpfs needs root")
  if (apis.includes("NetworkDriver"))
    return skip(
      "its state files go through the same atomic state-file code as volume-local's, whose row covers a full disk"
    )
  return skip("skipped: nothing is written to disk")
}
