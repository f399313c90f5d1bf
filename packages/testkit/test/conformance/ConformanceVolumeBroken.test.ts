/**
 * The VolumeDriver suite against the memory driver broken one way at a time, to show that each defect fails a
 * check, and that the memory driver itself still passes.
 */
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { DriverError, VolumeDriver } from "@docker-plugin-kit/protocol"
import { Conformance, ConformanceSuites, ConformanceVolume } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"

/** The memory driver with some methods replaced (each replacement gets the original driver). */
const broken = (patch: (driver: VolumeDriver.Driver) => Partial<VolumeDriver.Driver>) =>
  Layer.effect(
    VolumeDriver.VolumeDriver,
    Effect.map(VolumeMemory.make(), (driver) => ({ ...driver, ...patch(driver) }))
  )

/**
 * The memory driver behind a name mapping: the inner driver keeps `inner(name)`, and the answers carry the name
 * and the mountpoint `<root>/<mountpointOf(name)>` a driver computes from the name it was given.
 */
const renamed = (inner: (name: string) => string, mountpointOf: (name: string) => string) =>
  broken((d) => {
    const root = "/run/docker-plugin-kit/memory"
    const answer = (v: VolumeDriver.Volume, Name: string) => ({
      ...v,
      Name,
      Mountpoint: `${root}/${mountpointOf(Name)}`
    })
    return {
      create: (r) => d.create({ ...r, Name: inner(r.Name) }),
      remove: (r) => d.remove({ Name: inner(r.Name) }),
      mount: (r) =>
        Effect.as(d.mount({ ...r, Name: inner(r.Name) }), { Mountpoint: `${root}/${mountpointOf(r.Name)}` }),
      unmount: (r) => d.unmount({ ...r, Name: inner(r.Name) }),
      path: (r) => Effect.as(d.path({ Name: inner(r.Name) }), { Mountpoint: `${root}/${mountpointOf(r.Name)}` }),
      get: (r) =>
        Effect.map(d.get({ Name: inner(r.Name) }), (a) => ({ Volume: a.Volume && answer(a.Volume, a.Volume.Name) })),
      list: () => Effect.map(d.list({}), (a) => ({ Volumes: (a.Volumes ?? []).map((v) => answer(v, v.Name)) }))
    }
  })

const reportOf = (layer: Layer.Layer<VolumeDriver.VolumeDriver>) =>
  Effect.flatMap(ConformanceSuites.inProcess(layer), (client) => Conformance.run(ConformanceVolume.suite, client))

const failures = (report: Conformance.Report) =>
  Object.fromEntries(report.outcomes.filter((o) => o.status === "fail").map((o) => [o.check, o.reason]))

describe("ConformanceVolume against broken drivers", () => {
  it.live("the memory driver passes", () =>
    Effect.gen(function* () {
      expect(failures(yield* reportOf(VolumeMemory.layer()))).toEqual({})
    })
  )

  it.live("a Remove that leaves the volume to Get (docker volume create would then skip Create)", () =>
    Effect.gen(function* () {
      // Drops the volume from List only: Get still finds it.
      const hidden = new Set<string>()
      const report = yield* reportOf(
        broken((d) => ({
          remove: ({ Name }) =>
            Effect.flatMap(d.get({ Name }), () =>
              Effect.as(
                Effect.sync(() => hidden.add(Name)),
                {}
              )
            ),
          list: () => Effect.map(d.list({}), (r) => ({ Volumes: (r.Volumes ?? []).filter((v) => !hidden.has(v.Name)) }))
        }))
      )
      const failed = failures(report)
      expect(Object.keys(failed)).toEqual(["Get of a removed volume answers Err (or Volume null)"])
      expect(Object.values(failed)[0]).toMatch(
        /^Get still answers "dpk-conformance-\w+-removed-\d+" after Remove succeeded$/
      )
    })
  )

  it.live("an Unmount that releases the volume while another mount ID still holds it", () =>
    Effect.gen(function* () {
      // Keeps the mount IDs per volume, but the first Unmount lets go of all of them.
      const ids = new Map<string, Set<string>>()
      const report = yield* reportOf(
        broken((d) => ({
          mount: (r) =>
            Effect.tap(d.mount(r), () =>
              Effect.sync(() => void ids.set(r.Name, (ids.get(r.Name) ?? new Set()).add(r.ID)))
            ),
          unmount: (r) =>
            Effect.gen(function* () {
              const all = ids.get(r.Name) ?? new Set([r.ID])
              ids.delete(r.Name)
              for (const ID of all) yield* Effect.ignore(d.unmount({ Name: r.Name, ID }))
              return {}
            })
        }))
      )
      expect(failures(report)).toEqual({
        "With two mount IDs, the first Unmount does not release the volume":
          "Remove was refused while two mount IDs held the volume but succeeded after one Unmount: the driver released the volume on the first Unmount, under the container that still has it mounted"
      })
    })
  )

  it.live("a driver that keeps names in lower case (Get answers another Name; MyVol and myvol are one volume)", () =>
    Effect.gen(function* () {
      const report = yield* reportOf(
        renamed(
          (name) => name.toLowerCase(),
          (name) => name.toLowerCase()
        )
      )
      const failed = failures(report)
      expect(Object.keys(failed)).toEqual(["Create with Opts null, then Get answers the same Name"])
      expect(Object.values(failed)[0]).toMatch(
        /^Get answered Name "dpk-conformance-(\w+)-create-(\d+)" for "dpk-conformance-\1-Create-\2"$/
      )
    })
  )

  it.live("a driver that joins a name with / to its folder (volume a/b inside volume a)", () =>
    Effect.gen(function* () {
      // Keeps a/b as one volume of its own, but reports the path a plain join of root and name gives.
      const report = yield* reportOf(
        renamed(
          (name) => name.replaceAll("/", "\u2215"),
          (name) => name
        )
      )
      const failed = failures(report)
      expect(Object.keys(failed)).toEqual([
        "A name with / is refused, or mounts outside the volume named by its first part"
      ])
      expect(Object.values(failed)[0]).toMatch(
        /^Mount of "(dpk-conformance-\w+-parent-\d+)\/child" answered "\/run\/docker-plugin-kit\/memory\/\1\/child", inside the mountpoint "\/run\/docker-plugin-kit\/memory\/\1" of volume "\1"$/
      )
    })
  )

  it.live("a Create of an existing volume that fails is a warning (two clients racing between Get and Create)", () =>
    Effect.gen(function* () {
      const report = yield* reportOf(
        broken((d) => ({
          create: (r) =>
            Effect.matchEffect(d.get({ Name: r.Name }), {
              onFailure: () => d.create(r),
              onSuccess: () => Effect.fail(new DriverError({ message: `volume ${r.Name} already exists` }))
            })
        }))
      )
      expect(failures(report)).toEqual({})
      const warned = report.outcomes.filter((o) => o.status === "warn")
      expect(warned.map((o) => o.check)).toEqual(["Create of an existing volume with the same Opts succeeds"])
      expect(warned[0]?.reason).toMatch(
        /^a second Create of "(dpk-conformance-\w+-again-\d+)" with the same Opts failed \(status 500, "volume \1 already exists"\): a client racing another to create it gets that error$/
      )
    })
  )

  it.live("a driver that does not refuse Remove while mounted is not judged by Remove", () =>
    Effect.gen(function* () {
      // The daemon never removes a volume in use, so a driver need not refuse it: the check has nothing to see.
      const report = yield* reportOf(broken(() => ({ remove: () => Effect.succeed({}) })))
      expect(report.outcomes.find((o) => o.check.startsWith("With two mount IDs"))?.status).toBe("pass")
    })
  )
})
