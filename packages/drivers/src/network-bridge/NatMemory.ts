/**
 * `Nat` in memory: the chains and rules of a `nat` table, and the `FORWARD` chain and the forward chains of a
 * `filter` table, as lists, with an optional fault hook and a host without iptables. It lets `network-bridge`'s publishing be tested, restarts and crashes included, without root.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import {
  type DnatRule,
  dnatKey,
  type ForwardRule,
  forwardJumpPosition,
  forwardKey,
  type MasqueradeRule,
  masqueradeKey,
  Nat,
  NatError,
  type Service
} from "./Nat.ts"

/**
 * Settings of a memory NAT table.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Called before every operation; returning a string makes it fail with that reason. */
  readonly fault?: (operation: keyof Service, name: string) => string | undefined
  /** A host without iptables: every operation fails as `NatNode` does then. */
  readonly missing?: boolean
}

/**
 * A memory NAT table and what tests do to it.
 *
 * @since 0.1.0
 */
export interface MemoryNat {
  readonly service: Service
  /** The chains, each with its DNAT rules. */
  readonly chains: () => ReadonlyMap<string, ReadonlyArray<DnatRule>>
  /** The chains jumped to from `PREROUTING` and `OUTPUT`. */
  readonly jumps: () => ReadonlyArray<string>
  /** The MASQUERADE rules of `POSTROUTING`. */
  readonly masquerade: () => ReadonlyArray<MasqueradeRule>
  /** Adds a DNAT rule behind the driver's back (a crashed run's, or another program's), creating the chain. */
  readonly addBehind: (chain: string, rule: DnatRule) => void
  /** Adds a MASQUERADE rule behind the driver's back. */
  readonly masqueradeBehind: (rule: MasqueradeRule) => void
  /** The `filter` chains made by `ensureForwardChain` (or behind the driver's back), each with its rules. */
  readonly forwardChains: () => ReadonlyMap<string, ReadonlyArray<ForwardRule>>
  /** The rules of `FORWARD`, in order, as `iptables -S FORWARD` writes them without `-A FORWARD ` (`-j DPK-x-FWD`). */
  readonly forward: () => ReadonlyArray<string>
  /** Adds a forward rule behind the driver's back, creating the chain (not the jump). */
  readonly forwardBehind: (chain: string, rule: ForwardRule) => void
  /** Puts a rule into `FORWARD` at a 1-based position (the end by default), e.g. the engine's `-j DOCKER-USER`. */
  readonly forwardRuleBehind: (rule: string, position?: number) => void
  /** Every operation run so far, e.g. `addDnat DPK-0123abcd tcp/8080`. */
  readonly log: ReadonlyArray<string>
}

/**
 * Builds a memory NAT table.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): MemoryNat => {
  const chains = new Map<string, Array<DnatRule>>()
  const jumps = new Set<string>()
  let masquerade: Array<MasqueradeRule> = []
  const forwardChains = new Map<string, Array<ForwardRule>>()
  let forward: Array<string> = []
  const log: Array<string> = []

  const guard = (operation: keyof Service, name: string): Effect.Effect<void, NatError> =>
    Effect.suspend(() => {
      log.push(`${operation} ${name}`)
      const reason = options.missing
        ? "/usr/sbin/iptables not found: publishing ports and masquerading need iptables on the host"
        : options.fault?.(operation, name)
      return reason === undefined ? Effect.void : Effect.fail(new NatError({ operation, name, reason }))
    })
  const addDnat = (chain: string, rule: DnatRule) => {
    const rules = chains.get(chain)
    if (rules === undefined) return false
    if (!rules.some((r) => dnatKey(r) === dnatKey(rule))) rules.push(rule)
    return true
  }

  const addForward = (chain: string, rule: ForwardRule) => {
    const rules = forwardChains.get(chain)
    if (rules === undefined) return false
    if (!rules.some((r) => forwardKey(r) === forwardKey(rule))) rules.push(rule)
    return true
  }
  const forwardName = (chain: string, rule: ForwardRule) =>
    `${chain} ${rule.kind} ${rule.kind === "port" ? `${rule.destination}:${rule.port}/${rule.proto}` : rule.bridge}`

  const service: Service = {
    check: guard("check", "nat table"),
    list: (chain, commentPrefix, forwardChain) =>
      Effect.andThen(guard("list", chain), () =>
        Effect.sync(() => ({
          dnat: chains.get(chain)?.slice(),
          masquerade: masquerade.filter((r) => r.comment.startsWith(commentPrefix)),
          forward: forwardChains.get(forwardChain)?.slice()
        }))
      ),
    ensureChain: (chain) =>
      Effect.andThen(guard("ensureChain", chain), () =>
        Effect.sync(() => {
          if (!chains.has(chain)) chains.set(chain, [])
          jumps.add(chain)
        })
      ),
    removeChain: (chain) =>
      Effect.andThen(guard("removeChain", chain), () =>
        Effect.sync(() => {
          jumps.delete(chain)
          chains.delete(chain)
        })
      ),
    addDnat: (chain, rule) =>
      Effect.andThen(guard("addDnat", `${chain} ${rule.proto}/${rule.hostPort}`), () =>
        addDnat(chain, rule)
          ? Effect.void
          : Effect.fail(
              new NatError({ operation: "publish", name: chain, reason: "No chain/target/match by that name." })
            )
      ),
    removeDnat: (chain, rule) =>
      Effect.andThen(guard("removeDnat", `${chain} ${rule.proto}/${rule.hostPort}`), () =>
        Effect.sync(() => {
          const rules = chains.get(chain)
          if (rules !== undefined)
            chains.set(
              chain,
              rules.filter((r) => dnatKey(r) !== dnatKey(rule))
            )
        })
      ),
    addMasquerade: (rule) =>
      Effect.andThen(guard("addMasquerade", rule.source), () =>
        Effect.sync(() => {
          if (!masquerade.some((r) => masqueradeKey(r) === masqueradeKey(rule))) masquerade.push(rule)
        })
      ),
    removeMasquerade: (rule) =>
      Effect.andThen(guard("removeMasquerade", rule.source), () =>
        Effect.sync(() => {
          masquerade = masquerade.filter((r) => masqueradeKey(r) !== masqueradeKey(rule))
        })
      ),
    ensureForwardChain: (chain) =>
      Effect.andThen(guard("ensureForwardChain", chain), () =>
        Effect.sync(() => {
          if (!forwardChains.has(chain)) forwardChains.set(chain, [])
          const at = forwardJumpPosition(forward, chain)
          if (at !== undefined) forward.splice(at - 1, 0, `-j ${chain}`)
        })
      ),
    removeForwardChain: (chain) =>
      Effect.andThen(guard("removeForwardChain", chain), () =>
        Effect.sync(() => {
          forward = forward.filter((r) => r !== `-j ${chain}`)
          forwardChains.delete(chain)
        })
      ),
    addForward: (chain, rule) =>
      Effect.andThen(guard("addForward", forwardName(chain, rule)), () =>
        addForward(chain, rule)
          ? Effect.void
          : Effect.fail(
              new NatError({
                operation: "accept forwarding",
                name: chain,
                reason: "No chain/target/match by that name."
              })
            )
      ),
    removeForward: (chain, rule) =>
      Effect.andThen(guard("removeForward", forwardName(chain, rule)), () =>
        Effect.sync(() => {
          const rules = forwardChains.get(chain)
          if (rules !== undefined)
            forwardChains.set(
              chain,
              rules.filter((r) => forwardKey(r) !== forwardKey(rule))
            )
        })
      )
  }

  return {
    service,
    chains: () => new Map([...chains].map(([name, rules]) => [name, rules.slice()] as const)),
    jumps: () => [...jumps],
    masquerade: () => masquerade.slice(),
    addBehind: (chain, rule) => {
      if (!chains.has(chain)) chains.set(chain, [])
      addDnat(chain, rule)
    },
    masqueradeBehind: (rule) => void masquerade.push(rule),
    forwardChains: () => new Map([...forwardChains].map(([name, rules]) => [name, rules.slice()] as const)),
    forward: () => forward.slice(),
    forwardBehind: (chain, rule) => {
      if (!forwardChains.has(chain)) forwardChains.set(chain, [])
      addForward(chain, rule)
    },
    forwardRuleBehind: (rule, position = forward.length + 1) => void forward.splice(position - 1, 0, rule),
    log
  }
}

/**
 * A Layer over a memory NAT table (keep the `MemoryNat` to look at it or to restart a driver on the same host).
 *
 * @since 0.1.0
 */
export const layer = (nat: MemoryNat): Layer.Layer<Nat> => Layer.succeed(Nat, nat.service)
