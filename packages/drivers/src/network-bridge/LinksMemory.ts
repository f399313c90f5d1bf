/**
 * `Links` in memory: the host's links as a map, with veth peers, the moves the daemon makes (container end into a
 * sandbox and back) and an optional fault hook. It lets `network-bridge` be tested, restarts and crashes included,
 * without root.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type Link, Links, LinksError, type Service } from "./Links.ts"

/**
 * Settings of a memory host.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Called before every operation; returning a string makes it fail with that reason. */
  readonly fault?: (operation: keyof Service, name: string) => string | undefined
  /** Links present from the start (another program's, or a crashed run's). */
  readonly initial?: ReadonlyArray<Link>
}

/**
 * A memory host and what tests do to it.
 *
 * @since 0.1.0
 */
export interface MemoryLinks {
  readonly service: Service
  /** The links on the host, sorted by name. */
  readonly links: () => ReadonlyArray<Link>
  /** What the daemon does on `Join`: the link leaves the host for a container's namespace. */
  readonly moveToSandbox: (name: string) => void
  /** What the daemon does when the container goes away: the link comes back under its own name. */
  readonly moveToHost: (name: string) => void
  /** Deletes a link behind the driver's back (an administrator, or a lost namespace). */
  readonly removeBehind: (name: string) => void
  /** Every operation run so far, e.g. `addVeth dpkh0123`. */
  readonly log: ReadonlyArray<string>
}

let macCounter = 0
const nextMac = () => {
  macCounter++
  return `02:00:00:00:${((macCounter >> 8) & 0xff).toString(16).padStart(2, "0")}:${(macCounter & 0xff).toString(16).padStart(2, "0")}`
}

/**
 * Builds a memory host.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): MemoryLinks => {
  const host = new Map<string, Link>((options.initial ?? []).map((l) => [l.name, l]))
  const sandboxed = new Map<string, Link>()
  const peers = new Map<string, string>()
  const log: Array<string> = []

  const guard = (operation: keyof Service, name: string): Effect.Effect<void, LinksError> =>
    Effect.suspend(() => {
      log.push(`${operation} ${name}`)
      const reason = options.fault?.(operation, name)
      return reason === undefined ? Effect.void : Effect.fail(new LinksError({ operation, name, reason }))
    })
  const taken = (operation: string, name: string) =>
    host.has(name) || sandboxed.has(name)
      ? Effect.fail(new LinksError({ operation, name, reason: "RTNETLINK answers: File exists" }))
      : Effect.void
  const found = (operation: string, name: string) =>
    Effect.suspend(() => {
      const link = host.get(name)
      return link === undefined
        ? Effect.fail(new LinksError({ operation, name, reason: `Cannot find device "${name}"` }))
        : Effect.succeed(link)
    })
  const update = (link: Link, change: Partial<Link>) => void host.set(link.name, { ...link, ...change })
  const drop = (name: string) => {
    host.delete(name)
    sandboxed.delete(name)
    const peer = peers.get(name)
    peers.delete(name)
    if (peer !== undefined) {
      peers.delete(peer)
      host.delete(peer)
      sandboxed.delete(peer)
    }
    // A bridge going away releases its ports.
    for (const l of host.values()) {
      if (l.master === name) {
        const { master: _, ...released } = l
        host.set(l.name, released)
      }
    }
  }

  const service: Service = {
    list: Effect.andThen(guard("list", "links"), () =>
      Effect.sync(() => [...host.values()].sort((a, b) => (a.name < b.name ? -1 : 1)))
    ),
    addBridge: (name, { mtu, alias }) =>
      guard("addBridge", name).pipe(
        Effect.andThen(taken("create bridge", name)),
        Effect.andThen(
          Effect.sync(() =>
            host.set(name, {
              name,
              kind: "bridge",
              mtu: mtu ?? 1500,
              up: true,
              macAddress: nextMac(),
              alias,
              addresses: []
            })
          )
        )
      ),
    addVeth: ({ host: hostName, container, bridge, containerMac, mtu, alias }) =>
      guard("addVeth", hostName).pipe(
        Effect.andThen(taken("create veth", hostName)),
        Effect.andThen(taken("create veth", container)),
        Effect.andThen(found("attach", bridge)),
        Effect.andThen(() =>
          Effect.sync(() => {
            const common = { kind: "veth" as const, mtu: mtu ?? 1500, addresses: [] }
            host.set(hostName, { ...common, name: hostName, up: true, macAddress: nextMac(), master: bridge, alias })
            host.set(container, { ...common, name: container, up: false, macAddress: containerMac, alias })
            peers.set(hostName, container)
            peers.set(container, hostName)
          })
        )
      ),
    addAddress: (name, cidr) =>
      guard("addAddress", name).pipe(
        Effect.andThen(found("add address", name)),
        Effect.map((link) =>
          link.addresses.includes(cidr) ? undefined : update(link, { addresses: [...link.addresses, cidr] })
        )
      ),
    attach: (name, bridge) =>
      guard("attach", name).pipe(
        Effect.andThen(found("attach", bridge)),
        Effect.andThen(found("attach", name)),
        Effect.map((link) => update(link, { master: bridge, up: true }))
      ),
    setUp: (name) =>
      guard("setUp", name).pipe(
        Effect.andThen(found("bring up", name)),
        Effect.map((link) => update(link, { up: true }))
      ),
    remove: (name) => Effect.andThen(guard("remove", name), () => Effect.sync(() => drop(name)))
  }

  return {
    service,
    links: () => [...host.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
    moveToSandbox: (name) => {
      const link = host.get(name)
      if (link === undefined) throw new Error(`no link ${name} on the host`)
      host.delete(name)
      sandboxed.set(name, link)
    },
    moveToHost: (name) => {
      const link = sandboxed.get(name)
      if (link === undefined) throw new Error(`no link ${name} in a sandbox`)
      sandboxed.delete(name)
      host.set(name, link)
    },
    removeBehind: drop,
    log
  }
}

/**
 * A Layer over a memory host (keep the `MemoryLinks` to look at it or to restart a driver on the same host).
 *
 * @since 0.1.0
 */
export const layer = (links: MemoryLinks): Layer.Layer<Links> => Layer.succeed(Links, links.service)
