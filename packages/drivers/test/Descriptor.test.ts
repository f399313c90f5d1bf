// A descriptor's Layer must provide the driver of every API it declares: checked by the compiler (`pnpm typecheck`
// compiles the tests; each @ts-expect-error fails it if the line compiles), and the declared ones serve.
import { Descriptor, VolumeMemory } from "@docker-plugin-kit/drivers"
import { Authorization, type PluginApi, VolumeDriver } from "@docker-plugin-kit/protocol"
import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Effect, Layer } from "effect"

const allow = Layer.succeed(Authorization.Authorization, {
  authZReq: () => Effect.succeed({ Allow: true }),
  authZRes: () => Effect.succeed({ Allow: true })
})

describe("Descriptor.make", () => {
  it("types the Layer by the declared APIs: the wrong service, or a missing one, does not compile", () => {
    const volume = Descriptor.make({
      name: "typed-volume",
      description: "",
      apis: [VolumeDriver.Api],
      flags: {},
      layer: () => VolumeMemory.layer()
    })
    expectTypeOf(volume.layer).returns.toEqualTypeOf<Layer.Layer<PluginApi.DriverService<typeof VolumeDriver.Api>>>()

    const wrong = Descriptor.make({
      name: "wrong",
      description: "",
      apis: [Authorization.Api],
      flags: {},
      // @ts-expect-error: a VolumeDriver's Layer for an authorization plugin
      layer: () => VolumeMemory.layer()
    })

    const missing = Descriptor.make({
      name: "missing",
      description: "",
      apis: [VolumeDriver.Api, Authorization.Api],
      flags: {},
      // @ts-expect-error: no Authorization driver
      layer: () => VolumeMemory.layer()
    })

    const both = Descriptor.make({
      name: "both",
      description: "",
      apis: [VolumeDriver.Api, Authorization.Api],
      flags: {},
      layer: () => Layer.mergeAll(VolumeMemory.layer(), allow)
    })

    // Any of them still fits a list of descriptors of any APIs.
    const all: ReadonlyArray<Descriptor.Descriptor<any, any>> = [volume, wrong, missing, both]
    expect(all.map((d) => d.apis.map((api) => api.prefix))).toEqual([
      ["VolumeDriver"],
      ["AuthZPlugin"],
      ["VolumeDriver", "AuthZPlugin"],
      ["VolumeDriver", "AuthZPlugin"]
    ])
  })
})
