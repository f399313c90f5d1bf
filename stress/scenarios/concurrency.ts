/**
 * Concurrent counted resources, through a pool of keep-alive connections as the daemon's client has: every call
 * must succeed as it would serially, and every count end where a serial run leaves it.
 *
 * - volumes: 1,000 Mount/Unmount pairs at once on a few volumes, half with IDs of their own and half sharing a few
 *   IDs (as `docker cp` does); every mount count ends at zero.
 * - IPAM: 1,000 RequestAddress/ReleaseAddress pairs at once on one pool; no address is handed out while another
 *   pair holds it, and afterwards every address of the pool can be requested by name (none leaked).
 * - graph: 1,000 Get/Put pairs at once on a chain of three layers; every Get of a layer answers the same folder, and
 *   afterwards no layer is in use (`Status`), a further Put of each fails, each removes, and (overlay) nothing is
 *   left mounted in the plugin's mount table.
 * - logs: 100 containers at once, each a FIFO made as the daemon makes it, StartLogging, 50 framed entries,
 *   StopLogging; every line is in the container's file when StopLogging answers.
 */
import { Descriptors } from "@docker-plugin-kit/drivers"
import { LogEntry, LogFraming } from "@docker-plugin-kit/helpers"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { logInfo } from "../logs.ts"
import type * as Plugin from "../plugin.ts"
import { mib, type Row } from "../row.ts"
import type { Target } from "../targets.ts"
import * as Volumes from "../volumes.ts"
import { attempt, type call, pooled } from "../wire.ts"
import { sleep, withWorkspace } from "./support.ts"

/** The counts one run ends with. */
interface Outcome {
  readonly count: number
  readonly lost: number
  readonly errors: ReadonlyArray<string>
  readonly notes: ReadonlyArray<string>
}

const mounts = async (socket: string, send: typeof call, pairs: number): Promise<Outcome> => {
  const names = ["c1", "c2", "c3"]
  const errors: Array<string> = []
  for (const Name of names) {
    const err = await Volumes.ok(socket, "Create", { Name, Opts: {} })
    if (err !== undefined) errors.push(err)
  }
  const shared = Array.from({ length: 10 }, Volumes.mountId)
  await Promise.all(
    Array.from({ length: pairs }, async (_, i) => {
      const Name = names[i % names.length]!
      const ID = i % 2 === 0 ? Volumes.mountId() : shared[i % shared.length]!
      const mounted = await Volumes.ok(socket, "Mount", { Name, ID }, send)
      if (mounted !== undefined) return void errors.push(mounted)
      const unmounted = await Volumes.ok(socket, "Unmount", { Name, ID }, send)
      if (unmounted !== undefined) errors.push(unmounted)
    })
  )
  const counts = await Promise.all(names.map((n) => Volumes.mountCount(socket, n)))
  return {
    count: pairs * 2,
    lost: counts.filter((c) => c !== 0).length,
    errors,
    notes: [`mount counts at the end: ${counts.join(", ")}`]
  }
}

/** The host addresses of 10.213.0.0/22 (not the network or broadcast address). */
const poolHosts = Array.from({ length: 1022 }, (_, i) => `10.213.${(i + 1) >> 8}.${(i + 1) & 255}`)

const addresses = async (socket: string, send: typeof call, pairs: number): Promise<Outcome> => {
  const errors: Array<string> = []
  const notes: Array<string> = []
  let count = 0
  const ipam = async (method: string, body: unknown) => {
    count++
    const result = await attempt(socket, `/IpamDriver.${method}`, body, send)
    if (!result.ok) errors.push(result.text)
    return result.ok ? result.json : undefined
  }
  // A /22: more addresses than pairs, so a serial run never finds the pool full.
  const pool = await ipam("RequestPool", {
    AddressSpace: "local",
    Pool: "10.213.0.0/22",
    SubPool: "",
    Options: {},
    V6: false
  })
  const PoolID = pool?.PoolID as string | undefined
  if (PoolID === undefined) return { count, lost: 0, errors, notes }
  const held = new Set<string>()
  let twice = 0
  await Promise.all(
    Array.from({ length: pairs }, async () => {
      const answer = await ipam("RequestAddress", { PoolID, Address: "", Options: {} })
      const Address = (answer?.Address as string | undefined)?.split("/")[0]
      if (Address === undefined) return
      if (held.has(Address)) {
        twice++
        if (twice <= 3) notes.push(`${Address} handed out while another pair held it`)
      }
      if (!poolHosts.includes(Address)) errors.push(`${Address} is not a host address of 10.213.0.0/22`)
      held.add(Address)
      await sleep(Math.random() * 20)
      // Dropped before the release is sent: the plugin may hand it out again as soon as it has the release.
      held.delete(Address)
      await ipam("ReleaseAddress", { PoolID, Address })
    })
  )
  // Every address free again: the pool gives all of its addresses, each once, then says it is full. Sixteen calls
  // at a time: this checks what the pairs left, not how the plugin queues (fsync per call on the file store).
  const given = new Set<string>()
  const refused: Array<string> = []
  let next = 0
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < poolHosts.length) {
        next++
        count++
        const result = await attempt(socket, "/IpamDriver.RequestAddress", { PoolID, Address: "", Options: {} }, send)
        const Address = result.ok ? (result.json?.Address as string | undefined)?.split("/")[0] : undefined
        if (Address === undefined) refused.push(result.text || "no address")
        else if (given.has(Address)) refused.push(`${Address} handed out twice`)
        else given.add(Address)
      }
    })
  )
  count++
  const beyond = await attempt(socket, "/IpamDriver.RequestAddress", { PoolID, Address: "", Options: {} }, send)
  if (beyond.ok) errors.push(`the pool gave ${beyond.json?.Address} beyond its ${poolHosts.length} addresses`)
  await ipam("ReleasePool", { PoolID })
  notes.push(
    `${pairs} pairs, then the pool's ${poolHosts.length} addresses requested again: ${refused.length === 0 ? "every one given, once" : `${refused.length} not: ${refused.slice(0, 2).join("; ")}`}`
  )
  return { count, lost: twice + refused.length, errors, notes }
}

const layers = async (socket: string, send: typeof call, pairs: number, plugin: Plugin.Plugin): Promise<Outcome> => {
  const errors: Array<string> = []
  const notes: Array<string> = []
  let count = 0
  const graph = async (method: string, body: unknown) => {
    count++
    const result = await attempt(socket, `/GraphDriver.${method}`, body, send)
    if (!result.ok) errors.push(result.text)
    return result.ok ? result.json : undefined
  }
  const chain = ["base", "middle", "top"].map((n) => `stress-${n}`)
  for (const [i, ID] of chain.entries()) await graph("Create", i === 0 ? { ID } : { ID, Parent: chain[i - 1] })
  const dirs = new Map<string, Set<string>>(chain.map((id) => [id, new Set()]))
  await Promise.all(
    Array.from({ length: pairs }, async (_, i) => {
      const ID = chain[i % chain.length]!
      const answer = await graph("Get", { ID, MountLabel: "" })
      if (answer?.Dir === undefined) return
      dirs.get(ID)!.add(answer.Dir as string)
      await graph("Put", { ID })
    })
  )
  const split = [...dirs].filter(([, d]) => d.size > 1)
  for (const [id, d] of split) errors.push(`Get of ${id} answered ${d.size} different folders`)
  const status = (await graph("Status", {}))?.Status as Array<[string, string]> | undefined
  const inUse = status?.find(([k]) => k === "Layers In Use")?.[1]
  notes.push(`layers in use at the end: ${inUse ?? "not reported"}`)
  let lost = inUse === "0" ? 0 : 1
  // Mounted (overlay) in the plugin's own mount namespace: read its mount table, not this process's.
  const mountTable = (() => {
    try {
      return Fs.readFileSync(`/proc/${plugin.pid}/mountinfo`, "utf8")
    } catch {
      return ""
    }
  })()
  const leftMounted = mountTable.split("\n").filter((l) => chain.some((id) => l.includes(`/${id}/`)))
  if (leftMounted.length > 0) {
    lost += leftMounted.length
    notes.push(`still mounted: ${leftMounted[0]}`)
  }
  for (const ID of chain) {
    count++
    const extra = await attempt(socket, "/GraphDriver.Put", { ID }, send)
    if (extra.ok) {
      lost++
      notes.push(`a Put of ${ID} after every pair was accepted: its count was above zero`)
    }
  }
  for (const ID of [...chain].reverse()) await graph("Remove", { ID })
  return { count, lost, errors, notes }
}

const logStreams = async (
  socket: string,
  send: typeof call,
  containers: number,
  base: string,
  dir: string
): Promise<Outcome> => {
  const errors: Array<string> = []
  const notes: Array<string> = []
  const lines = 50
  let count = 0
  const logs = async (method: string, body: unknown) => {
    count++
    const result = await attempt(socket, `/LogDriver.${method}`, body, send)
    if (!result.ok) errors.push(result.text)
    return result.ok
  }
  const fifos = Path.join(base, "fifos")
  Fs.mkdirSync(fifos)
  const short: Array<string> = []
  // As the daemon does: each FIFO made and held open for writing before StartLogging, removed after StopLogging.
  // All made first: mkfifo runs synchronously, and the calls must not wait on it.
  const opened = Array.from({ length: containers }, (_, i) => {
    const File = Path.join(fifos, `${i}.fifo`)
    ChildProcess.execFileSync("mkfifo", ["-m", "0700", File])
    return { File, fd: Fs.openSync(File, Fs.constants.O_RDWR | Fs.constants.O_NONBLOCK) }
  })
  await Promise.all(
    opened.map(async ({ File, fd }, i) => {
      const id = Volumes.mountId()
      try {
        if (!(await logs("StartLogging", { File, Info: logInfo(id) }))) return
        const entries = Array.from({ length: lines }, (_, n) =>
          LogEntry.make({
            source: n % 2 === 0 ? "stdout" : "stderr",
            timeNano: BigInt(Date.now()) * 1_000_000n,
            line: `line ${n} of ${i}\n`
          })
        )
        // 50 short frames: a few KiB, well under a pipe's 64 KiB, so the write never waits.
        Fs.writeSync(fd, LogFraming.encodeFrames(entries))
        await logs("StopLogging", { File })
      } finally {
        Fs.closeSync(fd)
        Fs.rmSync(File, { force: true })
      }
      const file = Path.join(dir, "logs", `${id}.log`)
      const written = Fs.existsSync(file)
        ? Fs.readFileSync(file, "utf8")
            .split("\n")
            .filter((l) => l !== "").length
        : 0
      if (written !== lines) short.push(`${id.slice(0, 12)}: ${written} of ${lines} lines`)
    })
  )
  notes.push(
    `${containers} containers logging at once, ${lines} lines each: ${short.length === 0 ? "every line in its file after StopLogging" : `${short.length} short (${short.slice(0, 2).join("; ")})`}`
  )
  return { count, lost: short.length, errors, notes }
}

const apiOf = (t: Target) => Descriptors.byName(t.driver)?.apis.map((a) => a.subsystem) ?? []

/** Runs the scenario with `pairs` pairs, or answers why it does not apply. */
export const run = (target: Target, pairs: number): Promise<Row | string> => {
  const apis = apiOf(target)
  const kind = apis.includes("VolumeDriver")
    ? ("concurrent mounts" as const)
    : apis.includes("IpamDriver")
      ? ("concurrent addresses" as const)
      : apis.includes("GraphDriver")
        ? ("concurrent Get/Put" as const)
        : apis.includes("LogDriver")
          ? ("concurrent StartLogging/StopLogging" as const)
          : undefined
  if (kind === undefined) return Promise.resolve("no counted resource in this API (fuzz and slow clients cover it)")
  return withWorkspace("concurrency", target, async ({ base, dir, socket, start }) => {
    const plugin = await start()
    // The daemon's client keeps a pool of connections; 1,000 calls in flight share 100 of them.
    const pool = pooled(100)
    const outcome =
      kind === "concurrent mounts"
        ? await mounts(socket, pool.call, pairs)
        : kind === "concurrent addresses"
          ? await addresses(socket, pool.call, pairs)
          : kind === "concurrent Get/Put"
            ? await layers(socket, pool.call, pairs, plugin)
            : await logStreams(socket, pool.call, pairs / 10, base, dir)
    pool.close()
    const row: Row = {
      scenario: kind,
      driver: target.driver,
      count: outcome.count,
      crashes: plugin.alive() ? 0 : 1,
      unanswered: outcome.errors.filter((e) => e.includes("no answer")).length,
      lost: outcome.lost,
      escapes: 0,
      wrong: outcome.errors.length,
      peakRssMb: mib(plugin.peakRss()),
      notes: [...outcome.notes, ...outcome.errors.slice(0, 3)]
    }
    await plugin.stop()
    return row
  })
}
