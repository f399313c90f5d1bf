/**
 * `Nat` in memory: the chains and rules of a `nat` table as lists, with an optional fault hook and a host without
 * iptables. It lets `network-bridge`'s publishing be tested, restarts and crashes included, without root.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type DnatRule, dnatKey, type MasqueradeRule, masqueradeKey, Nat, NatError, type Service } from "./Nat.ts"

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

  const service: Service = {
    check: guard("check", "nat table"),
    list: (chain, commentPrefix) =>
      Effect.andThen(guard("list", chain), () =>
        Effect.sync(() => ({
          dnat: chains.get(chain)?.slice(),
          masquerade: masquerade.filter((r) => r.comment.startsWith(commentPrefix))
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
    log
  }
}

/**
 * A Layer over a memory NAT table (keep the `MemoryNat` to look at it or to restart a driver on the same host).
 *
 * @since 0.1.0
 */
export const layer = (nat: MemoryNat): Layer.Layer<Nat> => Layer.succeed(Nat, nat.service)
