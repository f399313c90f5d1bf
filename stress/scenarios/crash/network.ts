/**
 * The `kill -9` rounds of network-bridge: workers create and delete networks, and an endpoint on each, on 6
 * network IDs, in a network namespace kept across the restarts (its bridges and veths outlive the plugin, as on a
 * host). After a restart the state files are the truth: the plugin must know every acknowledged network and
 * endpoint (`EndpointOperInfo` answers; a `CreateNetwork` of the same ID with other settings is refused), no
 * acknowledged deletion, and the namespace's links must match what it knows: each network's bridge with its
 * gateway address, each endpoint's host veth, nothing else of its names.
 */
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import { attempt } from "../../wire.ts"
import { firstFailure, ledger, pick, type Subject } from "./subject.ts"

const hex = (text: string) => Crypto.createHash("sha256").update(text).digest("hex")

/** Network `i`: its IDs, its /24, and the names the driver gives its links. */
const networkOf = (i: number | string) => {
  const id = hex(`stress network ${i}`)
  const endpoint = hex(`stress endpoint ${i}`)
  const third = typeof i === "number" ? i : 250
  return {
    id,
    endpoint,
    gateway: `10.215.${third}.1/24`,
    bridge: `dpk-${id.slice(0, 11)}`,
    veth: `dpkh${endpoint.slice(0, 11)}`,
    create: (gateway = `10.215.${third}.1/24`) => ({
      NetworkID: id,
      Options: { "com.docker.network.enable_ipv6": false, "com.docker.network.generic": {} },
      IPv4Data: [{ AddressSpace: "LocalDefault", Gateway: gateway, Pool: `10.215.${third}.0/24` }],
      IPv6Data: []
    }),
    createEndpoint: {
      NetworkID: id,
      EndpointID: endpoint,
      Interface: { Address: `10.215.${third}.2/24`, AddressIPv6: "", MacAddress: "" },
      Options: {}
    },
    ids: { NetworkID: id, EndpointID: endpoint }
  }
}

const networks = Array.from({ length: 6 }, (_, i) => networkOf(i))

const net = (socket: string, method: string, body: unknown) => attempt(socket, `/NetworkDriver.${method}`, body)

/** The links of namespace `ns`, by name, with their IPv4 addresses as CIDRs. */
const linksIn = (ns: string): Map<string, Array<string>> => {
  const out = ChildProcess.execFileSync("ip", ["-n", ns, "-j", "addr", "show"], { encoding: "utf8" })
  const links = JSON.parse(out) as Array<{
    ifname: string
    addr_info?: Array<{ family: string; local: string; prefixlen: number }>
  }>
  return new Map(
    links.map((l) => [
      l.ifname,
      (l.addr_info ?? []).filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`)
    ])
  )
}

/** What the plugin knows of a network, read without changing anything. */
const probe = async (socket: string, n: (typeof networks)[number]) => {
  const info = await net(socket, "EndpointOperInfo", n.ids)
  if (info.ok) return { network: true, endpoint: true } as const
  if (info.text.includes("no such endpoint")) return { network: true, endpoint: false } as const
  if (info.text.includes("no such network")) return { network: false, endpoint: false } as const
  return info.text
}

/** The subject, on the links of network namespace `ns`. */
export const subject = (ns: string): Subject => {
  // Per network: absent (false), or there with or without its endpoint.
  const { known, unsure, settle } = ledger<string, false | { readonly endpoint: boolean }>()
  const errors: Array<string> = []
  let fresh = 0
  return {
    setup: async () => {
      for (const n of networks) known.set(n.id, false)
      return undefined
    },
    verify: async ({ socket }) => {
      const lost: Array<string> = []
      const wrong = errors.splice(0)
      const links = linksIn(ns)
      for (const [i, n] of networks.entries()) {
        const seen = await probe(socket, n)
        if (typeof seen === "string") {
          wrong.push(`after restart ${seen}`)
          continue
        }
        const what = known.get(n.id)
        const name = `network ${i}`
        if (what === undefined) {
          // Its call was in flight at the kill: either way is right, as long as the links agree (below).
        } else if (what === false) {
          if (seen.network) lost.push(`${name} was acknowledged as deleted, and is known`)
        } else if (!seen.network) lost.push(`${name} was acknowledged as created, and is unknown`)
        else if (seen.endpoint !== what.endpoint)
          lost.push(
            `${name}: its endpoint was acknowledged as ${what.endpoint ? "created" : "deleted"}, and is ${seen.endpoint ? "known" : "unknown"}`
          )
        // The links agree with what the plugin knows: reconciled at start.
        const bridge = links.get(n.bridge)
        if (seen.network && bridge === undefined) lost.push(`${name} is known, and its bridge ${n.bridge} is missing`)
        if (seen.network && bridge !== undefined && !bridge.includes(n.gateway))
          lost.push(`${name}: its bridge holds ${bridge.join(", ") || "no address"}, not ${n.gateway}`)
        if (!seen.network && bridge !== undefined) wrong.push(`${name} is unknown, and its bridge ${n.bridge} is left`)
        if (seen.endpoint !== links.has(n.veth))
          wrong.push(
            `${name}: endpoint ${seen.endpoint ? "known" : "unknown"}, its veth ${links.has(n.veth) ? "there" : "missing"}`
          )
        // Its settings were read back: the same ID with another gateway is refused.
        if (seen.network) {
          const other = await net(socket, "CreateNetwork", n.create(`10.215.${i}.254/24`))
          if (other.ok || !other.text.includes("other settings"))
            wrong.push(`${name}: CreateNetwork with other settings answered ${other.ok ? "{}" : other.text}`)
        }
        known.set(n.id, seen.network ? { endpoint: seen.endpoint } : false)
      }
      // The next calls work: a network of its own, an endpoint on it, both deleted.
      const n = networkOf(`fresh ${fresh++}`)
      const failed = await firstFailure([
        () => net(socket, "CreateNetwork", n.create()),
        () => net(socket, "CreateEndpoint", n.createEndpoint),
        () => net(socket, "DeleteEndpoint", n.ids),
        () => net(socket, "DeleteNetwork", { NetworkID: n.id })
      ])
      if (failed !== undefined) wrong.push(`after restart ${failed}`)
      return { lost, wrong }
    },
    step: async (socket, killed) => {
      const n = pick(networks)
      const what = known.get(n.id)
      if (what === undefined || unsure.has(n.id)) return false
      const [method, body, after] =
        what === false
          ? (["CreateNetwork", n.create(), { endpoint: false }] as const)
          : what.endpoint
            ? (["DeleteEndpoint", n.ids, { endpoint: false }] as const)
            : Math.random() < 0.5
              ? (["CreateEndpoint", n.createEndpoint, { endpoint: true }] as const)
              : (["DeleteNetwork", { NetworkID: n.id }, false] as const)
      unsure.add(n.id)
      const result = await net(socket, method, body)
      if (killed()) return true
      if (result.ok) known.set(n.id, after)
      else errors.push(result.text)
      unsure.delete(n.id)
      return true
    },
    settle
  }
}
