/**
 * `ipam-pool`: an IpamDriver handing out pools carved from configured ranges (`10.200.0.0/16` in /24s, an IPv6
 * ULA /48 in /64s by default) and addresses from them, with its state in a `Store`: a file on one host (survives
 * restarts and `kill -9`), or an etcd shared by several hosts, which then never hand out the same pool or address
 * twice.
 *
 * Each call is one `Store.update` of the pure rules in `IpamState`; calls on one pool (or on one address space,
 * for pool requests) are also serialised in the process, so concurrent calls from one daemon do not even conflict.
 *
 * @since 0.1.0
 */
import { Ipam } from "@docker-plugin-kit/helpers"
import { IpamDriver } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Store from "../store/Store.ts"
import * as KeyedLocks from "../shared/KeyedLocks.ts"
import * as IpamState from "./IpamState.ts"
import { defaultPool, defaultPoolSize, defaultPool6, defaultPool6Size, defaultStateDir } from "./IpamPoolDefaults.ts"

/** The defaults, also reachable from here. */
export { defaultPool, defaultPoolSize, defaultPool6, defaultPool6Size, defaultStateDir }

/**
 * Settings of the driver (CIDR strings, as on the command line).
 *
 * @since 0.1.0
 */
export interface Options {
  readonly pools?: ReadonlyArray<string>
  readonly poolSize?: number
  readonly pools6?: ReadonlyArray<string>
  readonly pool6Size?: number
}

/**
 * A setting that does not make sense.
 *
 * @since 0.1.0
 */
export type ConfigError = IpamState.IpamError

/**
 * Checks the settings and turns them into the rules' configuration.
 *
 * @since 0.1.0
 */
export const config = (options: Options = {}): Result.Result<IpamState.Config, ConfigError> =>
  Result.gen(function* () {
    const ranges = (
      flag: string,
      family: 4 | 6,
      given: ReadonlyArray<string> | undefined,
      fallback: string,
      size: number
    ) =>
      Result.gen(function* () {
        const values = given ?? [fallback]
        // A length no range of the family can hold, or the ranges left at their default: the size is at fault.
        const sizeAtFault =
          given === undefined || !Number.isInteger(size) || size < 0 || size > Ipam.Prefix.bitsOf(family)
        const parsed: Array<Ipam.Prefix.Prefix> = []
        for (const value of values) {
          const p = yield* Result.mapError(
            Ipam.Prefix.parse(value),
            (e) => new IpamState.IpamError({ request: flag, reason: e.message })
          )
          if (p.family !== family) {
            return yield* Result.fail(
              new IpamState.IpamError({ request: flag, reason: `${value} is not an IPv${family} range` })
            )
          }
          yield* Result.mapError(
            Ipam.PoolCarver.checkLength(p, size),
            (e) => new IpamState.IpamError({ request: sizeAtFault ? `${flag}-size` : flag, reason: e.message })
          )
          parsed.push(p)
        }
        return parsed
      })
    const size4 = options.poolSize ?? defaultPoolSize
    const size6 = options.pool6Size ?? defaultPool6Size
    return {
      pools4: yield* ranges("--pool", 4, options.pools, defaultPool, size4),
      size4,
      pools6: yield* ranges("--pool6", 6, options.pools6, defaultPool6, size6),
      size6
    }
  })

/**
 * Every failure a call can report.
 *
 * @since 0.1.0
 */
export type CallError = IpamState.IpamError | Store.StoreUnavailable | Store.StoreContention

/**
 * Builds the driver over the `Store`.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<IpamDriver.Driver, ConfigError, Store.Store> =>
  Effect.gen(function* () {
    const settings = yield* Effect.fromResult(config(options))
    const store = yield* Store.Store
    const locks = yield* KeyedLocks.make
    // A store failure names the store; say which call it interrupted too.
    const run = <A>(
      lock: string,
      request: string,
      keys: ReadonlyArray<string>,
      decide: Parameters<typeof Store.update<A, IpamState.IpamError>>[2]
    ): Effect.Effect<A, CallError> =>
      Store.update(store, keys, decide).pipe(
        Effect.mapError((e) => (e._tag === "IpamError" ? e : new IpamState.IpamError({ request, reason: e.message }))),
        locks.withLock(lock)
      )
    return IpamDriver.IpamDriver.of({
      getCapabilities: () => Effect.succeed({ RequiresMACAddress: false, RequiresRequestReplay: false }),
      getDefaultAddressSpaces: () =>
        Effect.succeed({
          LocalDefaultAddressSpace: IpamState.spaces.local,
          GlobalDefaultAddressSpace: IpamState.spaces.global
        }),
      requestPool: (r) =>
        run(
          IpamState.spaceKey(r.AddressSpace),
          IpamState.describePoolRequest(r),
          [IpamState.spaceKey(r.AddressSpace)],
          IpamState.requestPool(settings, r)
        ),
      releasePool: ({ PoolID }) =>
        run(
          IpamState.spaceKey(IpamState.spaceOfPoolId(PoolID)),
          `ReleasePool ${PoolID}`,
          [IpamState.poolKey(PoolID), IpamState.spaceKey(IpamState.spaceOfPoolId(PoolID))],
          IpamState.releasePool(PoolID)
        ),
      requestAddress: (r) =>
        run(
          IpamState.poolKey(r.PoolID),
          `RequestAddress ${r.Address || "any address"} from pool ${r.PoolID}`,
          [IpamState.poolKey(r.PoolID)],
          IpamState.requestAddress(r)
        ),
      releaseAddress: (r) =>
        run(
          IpamState.poolKey(r.PoolID),
          `ReleaseAddress ${r.Address} from pool ${r.PoolID}`,
          [IpamState.poolKey(r.PoolID)],
          IpamState.releaseAddress(r)
        )
    })
  })

/**
 * The driver as a Layer over any `Store`.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<IpamDriver.IpamDriver, ConfigError, Store.Store> =>
  Layer.effect(IpamDriver.IpamDriver, make(options))
