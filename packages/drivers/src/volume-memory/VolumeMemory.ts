/**
 * `volume-memory`: a complete VolumeDriver that keeps its volumes in memory. Useful as a reference, in tests, and
 * as the smallest example of a driver built from an Effect service and a Layer.
 *
 * @since 0.1.0
 */
import { VolumeDriver } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import type { VolumeError } from "../volume/VolumeErrors.ts"
import * as VolumeName from "../volume/VolumeName.ts"
import * as VolumeTable from "../volume/VolumeTable.ts"

/**
 * Settings of the memory driver.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Prefix of the mountpoints it reports (`<mountRoot>/<name>`); nothing is created there. */
  readonly mountRoot?: string
  /** Scope reported by `Capabilities`. */
  readonly scope?: "local" | "global"
  /** Clock used for `CreatedAt` (tests pin it). */
  readonly now?: () => Date
}

/**
 * Builds the driver over a table reference (exposed so tests can inspect the state).
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<VolumeDriver.Driver> =>
  Effect.map(Ref.make(VolumeTable.empty), (ref) => {
    const root = options.mountRoot ?? "/run/docker-plugin-kit/memory"
    const now = options.now ?? (() => new Date())
    const mountpoint = (name: string) => `${root}/${name}`
    // Every transition is one atomic Ref.modify, so concurrent calls never see a half-applied change.
    const transition = <A>(
      f: (table: VolumeTable.VolumeTable) => Result.Result<readonly [A, VolumeTable.VolumeTable], VolumeError>
    ): Effect.Effect<A, VolumeError> =>
      Effect.flatten(
        Ref.modify(ref, (table): readonly [Effect.Effect<A, VolumeError>, VolumeTable.VolumeTable] => {
          const result = f(table)
          return Result.isSuccess(result)
            ? [Effect.succeed(result.success[0]), result.success[1]]
            : [Effect.fail(result.failure), table]
        })
      )
    const read = <A>(f: (table: VolumeTable.VolumeTable) => Result.Result<A, VolumeError>) =>
      Effect.flatMap(Ref.get(ref), (table) => Effect.fromResult(f(table)))
    const describe = (record: VolumeTable.VolumeRecord): VolumeDriver.Volume => ({
      Name: record.name,
      Mountpoint: mountpoint(record.name),
      CreatedAt: record.createdAt,
      Status: { mounts: record.mounts.length, options: record.options }
    })

    return VolumeDriver.make({
      create: ({ Name, Opts }) =>
        transition((table) =>
          Result.flatMap(VolumeName.validate(Name), () =>
            Result.map(VolumeTable.create(table, Name, Opts ?? {}, now().toISOString()), (r) => [{}, r.table] as const)
          )
        ),
      remove: ({ Name }) =>
        transition((table) => Result.map(VolumeTable.remove(table, Name), (r) => [{}, r.table] as const)),
      mount: ({ Name, ID }) =>
        transition((table) =>
          Result.map(VolumeTable.mount(table, Name, ID), (r) => [{ Mountpoint: mountpoint(Name) }, r.table] as const)
        ),
      unmount: ({ Name, ID }) =>
        transition((table) => Result.map(VolumeTable.unmount(table, Name, ID), (r) => [{}, r.table] as const)),
      path: ({ Name }) =>
        read((table) => Result.map(VolumeTable.get(table, Name), () => ({ Mountpoint: mountpoint(Name) }))),
      get: ({ Name }) => read((table) => Result.map(VolumeTable.get(table, Name), (r) => ({ Volume: describe(r) }))),
      list: () => Effect.map(Ref.get(ref), (table) => ({ Volumes: [...table.values()].map(describe) })),
      capabilities: () => Effect.succeed({ Capabilities: { Scope: options.scope ?? "local" } })
    })
  })

/**
 * The memory driver as a Layer providing `VolumeDriver`.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<VolumeDriver.VolumeDriver> =>
  Layer.effect(VolumeDriver.VolumeDriver, make(options))
