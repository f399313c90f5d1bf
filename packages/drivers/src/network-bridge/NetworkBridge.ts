/**
 * `network-bridge`: a NetworkDriver where each network is a Linux bridge on the host and each endpoint a veth pair
 * whose container end the daemon moves into the container. The rules live in the pure `BridgeTable`; this module
 * orders the side effects around each transition so that a crash between two of them leaves something start-up
 * can reconcile (`BridgeReconcile`):
 *
 * - CreateNetwork: state file, then bridge (a crash leaves state without bridge: the bridge is created again).
 * - DeleteNetwork: state file, then bridge (a crash leaves a tagged bridge no record explains: it is removed).
 * - CreateEndpoint: state file, then veth pair; DeleteEndpoint: state file, then NAT rules, then veth pair (same
 *   reasoning).
 * - Join/Leave: state file only (the daemon moves the container end itself).
 * - ProgramExternalConnectivity: state file, then DNAT rules (a crash leaves published bindings without rules: they
 *   are added again); RevokeExternalConnectivity: state file, then rules (a crash leaves rules no record explains:
 *   they are removed). A network with `masquerade=true` gets its MASQUERADE rule after its bridge, and loses it
 *   before its bridge.
 * - Forward rules (the `filter` chain letting the traffic of masqueraded networks and published ports through
 *   `FORWARD`) follow the same records: each call that changes what is published or masqueraded adds and removes the
 *   difference after its DNAT or MASQUERADE rules, and the chain goes when no network asks for one.
 *
 * Calls are serialised: they are few, and each reads the table it then changes.
 *
 * @since 0.1.0
 */
import { DriverError, NetworkDriver } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Crypto from "node:crypto"
import * as Path from "node:path"
import { VolumeFs, type VolumeFsError, type Service as VolumeFsService } from "../volume-local/VolumeFs.ts"
import * as VolumeFsMemory from "../volume-local/VolumeFsMemory.ts"
import * as VolumeFsNode from "../volume-local/VolumeFsNode.ts"
import { type BridgeError, NetworkConflict } from "./BridgeErrors.ts"
import * as BridgeReconcile from "./BridgeReconcile.ts"
import * as BridgeState from "./BridgeState.ts"
import * as StateFiles from "../shared/StateFiles.ts"
import * as BridgeTable from "./BridgeTable.ts"
import { type Link, Links, type LinksError } from "./Links.ts"
import * as LinksMemory from "./LinksMemory.ts"
import * as LinksNode from "./LinksNode.ts"
import { Nat, type NatError } from "./Nat.ts"
import * as NatMemory from "./NatMemory.ts"
import * as NatNode from "./NatNode.ts"
import { defaultStateDir } from "./NetworkBridgeDefaults.ts"

/** The defaults, also reachable from here. */
export { defaultStateDir }

/**
 * Settings of the driver.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Folder holding the state files (default `/var/lib/docker-plugin-kit/network-bridge`). */
  readonly stateDir?: string
  /**
   * Tag of this instance in the aliases of its links (default: derived from the state folder), so that several
   * instances on one host never remove each other's links.
   */
  readonly instance?: string
  /**
   * Tag the links with a random tag kept in `STATE/instance` (made at the first start) instead of one derived from
   * the state folder's path. For instances whose state folders have the same path in different file systems:
   * managed plugins, each with its own rootfs, all on the host's links. Ignored when `instance` is given.
   */
  readonly storedInstance?: boolean
}

/**
 * Why the driver could not start.
 *
 * @since 0.1.0
 */
export type StartError =
  | VolumeFsError
  | StateFiles.StateFileCorrupt
  | LinksError
  | NatError
  | StateFiles.StateFolderInUse

/**
 * Every failure a call can report.
 *
 * @since 0.1.0
 */
export type CallError = BridgeError | LinksError | NatError | VolumeFsError | DriverError

/**
 * The instance tag of a state folder: 8 hex characters of a hash of its absolute path.
 *
 * @since 0.1.0
 */
export const instanceOf = (stateDir: string): string =>
  Crypto.createHash("sha256").update(Path.resolve(stateDir)).digest("hex").slice(0, 8)

/**
 * The file holding the instance tag of `storedInstance`.
 *
 * @since 0.1.0
 */
export const instanceFile = (stateDir: string): string => Path.join(Path.resolve(stateDir), "instance")

/** The tag in `STATE/instance`, made and written (atomically) when there is none yet. */
const storedInstanceOf = (fs: VolumeFsService, stateDir: string, tmpDir: string) =>
  Effect.gen(function* () {
    const file = instanceFile(stateDir)
    if ((yield* fs.stat(file)) !== undefined) {
      const tag = (yield* fs.readFile(file)).trim()
      if (/^[0-9a-f]{8}$/.test(tag)) return tag
      return yield* new StateFiles.StateFileCorrupt({
        file,
        reason: `expected 8 hex digits, found ${JSON.stringify(tag)}`
      })
    }
    const tag = Crypto.randomBytes(4).toString("hex")
    yield* fs.writeFileAtomic(file, `${tag}\n`, tmpDir)
    return tag
  })

/**
 * Builds the driver: loads the state, reconciles it with the host's links and NAT rules, then serves calls.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<NetworkDriver.Driver, StartError, Links | Nat | VolumeFs | Scope.Scope> =>
  Effect.gen(function* () {
    const links = yield* Links
    const nat = yield* Nat
    const fs = yield* VolumeFs
    const stateDir = Path.resolve(options.stateDir ?? defaultStateDir)
    const layout = BridgeState.layout(stateDir)
    // The state folder is this driver's alone until the scope closes (before loading, which empties its temporary
    // folder): a second plugin on it would overwrite these state files and manage, and remove, the same links.
    yield* fs.claimFolder(stateDir)
    // Loading prepares the folders (the temporary one included) the stored tag is written through.
    const records = yield* BridgeState.load(layout).pipe(Effect.provideService(VolumeFs, fs))
    const instance =
      options.instance ??
      (options.storedInstance === true ? yield* storedInstanceOf(fs, stateDir, layout.tmpDir) : instanceOf(stateDir))
    const networkAlias = (id: string) => BridgeReconcile.aliasOf(instance, "network", id)
    const endpointAlias = (id: string) => BridgeReconcile.aliasOf(instance, "endpoint", id)

    const addBridge = (n: BridgeTable.NetworkRecord) =>
      Effect.gen(function* () {
        yield* links.addBridge(n.bridge, {
          alias: networkAlias(n.id),
          ...(n.settings.mtu === undefined ? {} : { mtu: n.settings.mtu })
        })
        for (const cidr of n.addresses) yield* links.addAddress(n.bridge, cidr)
      })
    const addVeth = (n: BridgeTable.NetworkRecord, e: BridgeTable.EndpointRecord) =>
      links.addVeth({
        host: e.hostInterface,
        container: e.containerInterface,
        bridge: n.bridge,
        containerMac: e.macAddress,
        alias: endpointAlias(e.id),
        ...(n.settings.mtu === undefined ? {} : { mtu: n.settings.mtu })
      })

    // Start-up: the records are the truth; the host is brought in line without cutting a running container off.
    const plan = BridgeReconcile.plan(records, yield* links.list, instance)
    for (const name of plan.removeLinks) {
      yield* Effect.logWarning(`link ${name}: left over from a crash, no record explains it; removed it`)
      yield* links.remove(name)
    }
    for (const n of plan.createBridges) {
      yield* Effect.logWarning(`network ${n.id}: bridge ${n.bridge} was missing; created it again`)
      yield* addBridge(n)
    }
    for (const n of plan.adoptBridges) {
      for (const cidr of n.addresses) yield* links.addAddress(n.bridge, cidr)
      yield* links.setUp(n.bridge)
    }
    for (const n of plan.blockedBridges) {
      yield* Effect.logWarning(
        `network ${n.id}: ${n.bridge} exists on the host but is not the bridge this plugin made for it; left it and the network's ${n.endpoints.length} endpoint(s) alone`
      )
    }
    for (const { network: n, endpoint: e } of plan.adoptVeths) yield* links.attach(e.hostInterface, n.bridge)
    for (const { network: n, endpoint: e } of plan.recreateVeths) {
      yield* Effect.logWarning(`endpoint ${e.id}: veth ${e.hostInterface} was missing; created it again`)
      yield* links.remove(e.containerInterface)
      yield* addVeth(n, e)
    }
    for (const { endpoint: e } of plan.lostVeths) {
      yield* Effect.logWarning(`endpoint ${e.id}: its container's veth is gone; waiting for the daemon to delete it`)
    }

    // NAT rules, the same way. A host without iptables has none to remove: it only matters when the records need some.
    const chain = BridgeTable.natChain(instance)
    const fwdChain = BridgeTable.forwardChain(instance)
    const kept = records.filter((r) => !plan.blockedBridges.includes(r))
    const found = yield* Effect.result(nat.list(chain, BridgeTable.masqueradePrefix(instance), fwdChain))
    // Whether this instance's chain exists (made now or by an earlier run): removed with the last network.
    let chainMade = false
    // Whether its `filter` chain exists: removed when no network asks for a forward rule any more.
    let forwardMade = false
    if (found._tag === "Failure") {
      const needsNat =
        kept.some((n) => BridgeTable.masqueradeRule(instance, n) !== undefined) ||
        BridgeTable.dnatRules(instance, kept).length > 0
      if (needsNat) {
        yield* Effect.logWarning(`published ports and masquerading could not be put back: ${found.failure.message}`)
      }
    } else {
      chainMade = found.success.dnat !== undefined
      const natPlan = BridgeReconcile.natPlan(kept, found.success, instance)
      if (natPlan.removeChain) {
        yield* Effect.logWarning(`nat chain ${chain}: no network is left; removed it`)
        yield* nat.removeChain(chain)
        chainMade = false
      }
      for (const rule of natPlan.removeDnat) {
        yield* Effect.logWarning(
          `nat rule ${rule.comment} ${rule.proto}/${rule.hostPort}: no record explains it; removed it`
        )
        yield* nat.removeDnat(chain, rule)
      }
      for (const rule of natPlan.removeMasquerade) {
        yield* Effect.logWarning(`nat rule ${rule.comment}: no record explains it; removed it`)
        yield* nat.removeMasquerade(rule)
      }
      if (natPlan.ensureChain) {
        yield* nat.ensureChain(chain)
        chainMade = true
      }
      for (const rule of natPlan.addDnat) {
        yield* Effect.logWarning(`nat rule ${rule.comment} ${rule.proto}/${rule.hostPort}: was missing; added it again`)
        yield* nat.addDnat(chain, rule)
      }
      for (const rule of natPlan.addMasquerade) yield* nat.addMasquerade(rule)
      forwardMade = found.success.forward !== undefined
      if (natPlan.removeForwardChain) {
        yield* Effect.logWarning(`filter chain ${fwdChain}: no network needs it; removed it`)
        yield* nat.removeForwardChain(fwdChain)
        forwardMade = false
      }
      for (const rule of natPlan.removeForward) {
        yield* Effect.logWarning(`forward rule ${rule.comment} ${rule.kind}: no record explains it; removed it`)
        yield* nat.removeForward(fwdChain, rule)
      }
      // Every start: puts the jump back (after `DOCKER-USER`) should someone have removed it.
      if (natPlan.ensureForwardChain) {
        forwardMade = true
        yield* nat.ensureForwardChain(fwdChain)
      }
      for (const rule of natPlan.addForward) {
        yield* Effect.logWarning(`forward rule ${rule.comment} ${rule.kind}: was missing; added it again`)
        yield* nat.addForward(fwdChain, rule)
      }
    }

    const ref = yield* Ref.make<BridgeTable.Table>(new Map(records.map((r) => [r.id, r] as const)))
    const lock = yield* Semaphore.make(1)
    const serialised = <A>(effect: Effect.Effect<A, CallError, VolumeFs>): Effect.Effect<A, CallError> =>
      effect.pipe(lock.withPermit, Effect.provideService(VolumeFs, fs))
    const current = <A, E>(f: (table: BridgeTable.Table) => Result.Result<A, E>) =>
      Effect.flatMap(Ref.get(ref), (table) => Effect.fromResult(f(table)))
    const save = (n: BridgeTable.NetworkRecord) => BridgeState.save(layout, n)

    /** Publishes bindings of an endpoint; the chain and its jumps are made first when missing. */
    const publish = (e: BridgeTable.EndpointRecord, bindings: ReadonlyArray<BridgeTable.PortBinding>) =>
      Effect.gen(function* () {
        if (bindings.length === 0) return
        yield* nat.ensureChain(chain)
        chainMade = true
        for (const b of bindings) yield* nat.addDnat(chain, BridgeTable.dnatRule(instance, e, b))
      })
    /** Removes the rules of bindings of an endpoint, by default all it publishes. */
    const unpublish = (
      e: BridgeTable.EndpointRecord,
      bindings: ReadonlyArray<BridgeTable.PortBinding> = e.published ?? []
    ) => Effect.forEach(bindings, (b) => nat.removeDnat(chain, BridgeTable.dnatRule(instance, e, b)), { discard: true })

    /**
     * Brings the forward rules from what `before` asks for to what `after` does: removes the rules no longer asked
     * for, makes the chain and its jump when a rule is added, and removes them when `after` asks for none. Networks
     * that neither masquerade nor publish ask for none: no iptables is run for them.
     */
    const syncForward = (before: BridgeTable.Table, after: BridgeTable.Table) =>
      Effect.gen(function* () {
        const { add, remove } = BridgeTable.forwardChanges(instance, before.values(), after.values())
        for (const rule of remove) yield* nat.removeForward(fwdChain, rule)
        if (add.length > 0) {
          // Counted as made before it is: a failure can come after the chain (or its jump) was made (iptables
          // creates the chain, then lists and inserts the jump), and a rollback must then remove what is there.
          forwardMade = true
          yield* nat.ensureForwardChain(fwdChain)
        }
        for (const rule of add) yield* nat.addForward(fwdChain, rule)
        if (forwardMade && BridgeTable.allForwardRules(instance, after.values()).length === 0) {
          yield* nat.removeForwardChain(fwdChain)
          forwardMade = false
        }
      })

    /**
     * The host link holding `name` among `all` (one listing of the host's links), refused unless this instance made
     * it for `id` (then it is replaced).
     */
    const claim = (
      all: ReadonlyArray<Link>,
      name: string,
      kind: "network" | "endpoint",
      id: string
    ): Effect.Effect<void, LinksError | NetworkConflict> => {
      const link = all.find((l) => l.name === name)
      if (link === undefined) return Effect.void
      return BridgeReconcile.isOurs(link, instance, kind, id)
        ? links.remove(name)
        : Effect.fail(new NetworkConflict({ reason: `interface ${name} exists already on the host` }))
    }

    /**
     * Refused when the network's bridge name is held, among `all`, by a link this instance did not make for it (taken
     * while the plugin was down): a veth is never put on another program's link. A missing bridge fails in `addVeth`.
     */
    const checkOwnBridge = (
      all: ReadonlyArray<Link>,
      n: BridgeTable.NetworkRecord
    ): Effect.Effect<void, NetworkConflict> => {
      const link = all.find((l) => l.name === n.bridge)
      return link === undefined || BridgeReconcile.isOwnBridge(link, instance, n.id)
        ? Effect.void
        : Effect.fail(
            new NetworkConflict({
              reason: `bridge ${n.bridge} of network ${n.id} is not this plugin's (another program's link has that name); remove the network`
            })
          )
    }

    return NetworkDriver.NetworkDriver.of({
      getCapabilities: () =>
        Effect.succeed({ Scope: "local" as const, ConnectivityScope: "local" as const, GwAllocChecker: true }),
      gwAllocCheck: ({ Options }) => Effect.fromResult(BridgeTable.gwAllocCheck(Options)),
      createNetwork: (request) =>
        serialised(
          Effect.gen(function* () {
            const before = yield* Ref.get(ref)
            const { table, record, created } = yield* current((t) => BridgeTable.createNetwork(t, request))
            if (!created) return {}
            yield* claim(yield* links.list, record.bridge, "network", record.id)
            yield* save(record)
            const masquerade = BridgeTable.masqueradeRule(instance, record)
            yield* addBridge(record).pipe(
              Effect.andThen(masquerade === undefined ? Effect.void : nat.addMasquerade(masquerade)),
              Effect.andThen(syncForward(before, table)),
              // State first, each step on its own: a bridge that cannot be removed must not keep the network in the
              // state (a restart would bring back, MASQUERADE rule and all, a network the daemon never got); it is
              // then a link no record explains, which start-up removes, as it removes rules left here.
              Effect.tapError(() =>
                Effect.all(
                  [
                    Effect.ignore(BridgeState.erase(layout, record.id)),
                    Effect.ignore(syncForward(table, before)),
                    masquerade === undefined ? Effect.void : Effect.ignore(nat.removeMasquerade(masquerade)),
                    Effect.ignore(links.remove(record.bridge))
                  ],
                  { discard: true }
                )
              )
            )
            yield* Ref.set(ref, table)
            return {}
          })
        ),
      deleteNetwork: ({ NetworkID }) =>
        serialised(
          Effect.gen(function* () {
            const all = yield* links.list
            const names = new Set(all.map((l) => l.name))
            const before = yield* Ref.get(ref)
            const { pruned, table: kept } = BridgeTable.pruneGone(before, NetworkID, (n) => names.has(n))
            for (const e of pruned) {
              yield* Effect.logWarning(
                names.has(e.hostInterface)
                  ? `endpoint ${e.id}: in no container, its DeleteEndpoint never came; dropped it and its veth`
                  : `endpoint ${e.id}: its veth is gone (its container went away); dropped it`
              )
            }
            if (pruned.length > 0) {
              yield* save(kept.get(NetworkID)!)
              yield* Ref.set(ref, kept)
            }
            // State first, then links: a crash in between leaves tagged veths that start-up removes.
            for (const e of pruned) yield* unpublish(e)
            if (pruned.length > 0) yield* syncForward(before, kept)
            for (const e of pruned) if (names.has(e.hostInterface)) yield* links.remove(e.hostInterface)
            const { table, record } = yield* current((t) => BridgeTable.deleteNetwork(t, NetworkID))
            yield* BridgeState.erase(layout, NetworkID)
            yield* Ref.set(ref, table)
            const masquerade = BridgeTable.masqueradeRule(instance, record)
            if (masquerade !== undefined) yield* nat.removeMasquerade(masquerade)
            yield* syncForward(kept, table)
            // The chain and its jumps go with the last network (its endpoints, and so its rules, are gone), so that
            // nothing of the plugin stays in the host's tables once it has no network.
            if (table.size === 0 && chainMade) {
              yield* nat.removeChain(chain)
              chainMade = false
            }
            // A link of that name this instance did not make for the network (another program's, taken while the
            // plugin was down) stays: only the network goes.
            const link = all.find((l) => l.name === record.bridge)
            if (link !== undefined && !BridgeReconcile.isOwnBridge(link, instance, NetworkID)) {
              yield* Effect.logWarning(
                `network ${NetworkID}: ${record.bridge} is not the bridge this plugin made for it; left it alone`
              )
            } else yield* links.remove(record.bridge)
            return {}
          })
        ),
      createEndpoint: (request) =>
        serialised(
          Effect.gen(function* () {
            const before = yield* current((t) => BridgeTable.network(t, request.NetworkID))
            const created = yield* current((t) => BridgeTable.createEndpoint(t, request))
            const { endpoint: e, network: n } = created
            // Before anything is made: without iptables, or without the rights to use it, no port can be published.
            if (e.ports !== undefined) yield* nat.check
            // One listing serves the three checks (each `ip` listing is a process): a stale veth of ours removed by
            // the first claim takes its peer along, and removing a link already gone does nothing.
            const all = yield* links.list
            yield* checkOwnBridge(all, n)
            yield* claim(all, e.hostInterface, "endpoint", e.id)
            yield* claim(all, e.containerInterface, "endpoint", e.id)
            yield* save(n)
            yield* addVeth(n, e).pipe(
              Effect.tapError(() => Effect.ignore(Effect.andThen(links.remove(e.hostInterface), save(before))))
            )
            yield* Ref.set(ref, created.table)
            return created.answer
          })
        ),
      endpointOperInfo: ({ NetworkID, EndpointID }) =>
        current((t) =>
          Result.map(BridgeTable.endpoint(t, NetworkID, EndpointID), ({ network: n, endpoint: e }) => ({
            Value: BridgeTable.operInfo(n, e)
          }))
        ),
      deleteEndpoint: (request) =>
        serialised(
          Effect.gen(function* () {
            const before = yield* Ref.get(ref)
            const { table, network: n, endpoint: e } = yield* current((t) => BridgeTable.deleteEndpoint(t, request))
            yield* save(n)
            yield* Ref.set(ref, table)
            yield* unpublish(e)
            yield* syncForward(before, table)
            yield* links.remove(e.hostInterface)
            return {}
          })
        ),
      join: (request) =>
        serialised(
          Effect.gen(function* () {
            const { table, answer } = yield* current((t) => BridgeTable.join(t, request))
            yield* save(table.get(request.NetworkID)!)
            yield* Ref.set(ref, table)
            return answer
          })
        ),
      leave: (request) =>
        serialised(
          Effect.gen(function* () {
            const table = yield* current((t) => BridgeTable.leave(t, request))
            yield* save(table.get(request.NetworkID)!)
            yield* Ref.set(ref, table)
            return {}
          })
        ),
      programExternalConnectivity: (request) =>
        serialised(
          Effect.gen(function* () {
            const before = yield* current((t) => BridgeTable.network(t, request.NetworkID))
            const tableBefore = yield* Ref.get(ref)
            const change = yield* current((t) => BridgeTable.programExternalConnectivity(t, request))
            // Engine 20.10 sends it after every Join that made the endpoint the gateway, mostly with no ports.
            if (change.add.length === 0 && change.remove.length === 0) return {}
            yield* save(change.network)
            // Rolled back record first, then each rule on its own: a rule that cannot be removed (iptables failing)
            // must not keep the record published, or a restart would publish it for a container the daemon rolled back;
            // the rule is one no record explains then, which start-up removes.
            yield* publish(change.endpoint, change.add).pipe(
              Effect.andThen(syncForward(tableBefore, change.table)),
              Effect.tapError(() =>
                Effect.all(
                  [
                    Effect.ignore(save(before)),
                    Effect.forEach(change.add, (b) => Effect.ignore(unpublish(change.endpoint, [b])), {
                      discard: true
                    }),
                    Effect.ignore(syncForward(change.table, tableBefore))
                  ],
                  { discard: true }
                )
              )
            )
            yield* Ref.set(ref, change.table)
            yield* unpublish(change.endpoint, change.remove)
            return {}
          })
        ),
      revokeExternalConnectivity: (request) =>
        serialised(
          Effect.gen(function* () {
            const before = yield* Ref.get(ref)
            const change = yield* current((t) => BridgeTable.revokeExternalConnectivity(t, request))
            if (change.remove.length === 0) return {}
            yield* save(change.network)
            yield* Ref.set(ref, change.table)
            yield* unpublish(change.endpoint, change.remove)
            yield* syncForward(before, change.table)
            return {}
          })
        ),
      allocateNetwork: () =>
        Effect.fail(
          new DriverError({
            message: "network-bridge is a local-scope driver: swarm-scoped networks are not supported"
          })
        ),
      freeNetwork: () => Effect.succeed({}),
      // Node discovery matters to multi-host drivers only; a bridge is local to its host.
      discoverNew: () => Effect.succeed({}),
      discoverDelete: () => Effect.succeed({})
    })
  })

/**
 * The driver as a Layer over any `Links`, `Nat` and `VolumeFs`.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<NetworkDriver.NetworkDriver, StartError, Links | Nat | VolumeFs> =>
  Layer.effect(NetworkDriver.NetworkDriver, make(options))

/**
 * The driver on the host's links, its iptables and the real disk.
 *
 * @since 0.1.0
 */
export const layerNode = (options: Options = {}): Layer.Layer<NetworkDriver.NetworkDriver, StartError> =>
  layer(options).pipe(Layer.provide(Layer.mergeAll(LinksNode.layer, NatNode.layer, VolumeFsNode.layer)))

/**
 * The driver on a memory host and a fresh memory filesystem (nothing touches the host).
 *
 * @since 0.1.0
 */
export const layerMemory = (
  options: Options = {},
  host: LinksMemory.MemoryLinks = LinksMemory.make(),
  nat: NatMemory.MemoryNat = NatMemory.make()
): Layer.Layer<NetworkDriver.NetworkDriver, StartError> =>
  layer(options).pipe(
    Layer.provide(Layer.mergeAll(LinksMemory.layer(host), NatMemory.layer(nat), VolumeFsMemory.layer()))
  )
