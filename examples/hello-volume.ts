// A complete volume plugin: implement the VolumeDriver interface (`VolumeDriver.make` refuses a misspelt method),
// provide it as a Layer, serve it.
// Run: node --conditions=@docker-plugin-kit/source examples/hello-volume.ts [SOCKET]
import { DriverError, VolumeDriver } from "@docker-plugin-kit/protocol"
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import { Effect, Layer } from "effect"

const HelloVolumes = Layer.sync(VolumeDriver.VolumeDriver, () => {
  const volumes = new Map<string, string>() // name -> host path
  const known = (Name: string): Effect.Effect<string, DriverError> =>
    volumes.has(Name)
      ? Effect.succeed(volumes.get(Name)!)
      : Effect.fail(new DriverError({ message: `no such volume: ${Name}` }))
  return VolumeDriver.make({
    // The name becomes a folder: one with / (or . or ..) would land inside another volume's, or outside.
    create: ({ Name }) =>
      /\/|^\.\.?$/.test(Name)
        ? Effect.fail(new DriverError({ message: `invalid volume name ${JSON.stringify(Name)}` }))
        : Effect.sync(() => void volumes.set(Name, `/srv/hello/${Name}`)).pipe(Effect.as({})),
    remove: ({ Name }) => known(Name).pipe(Effect.andThen(Effect.sync(() => volumes.delete(Name))), Effect.as({})),
    get: ({ Name }) => known(Name).pipe(Effect.map((Mountpoint) => ({ Volume: { Name, Mountpoint } }))),
    list: () => Effect.succeed({ Volumes: [...volumes].map(([Name, Mountpoint]) => ({ Name, Mountpoint })) }),
    path: ({ Name }) => known(Name).pipe(Effect.map((Mountpoint) => ({ Mountpoint }))),
    mount: ({ Name }) => known(Name).pipe(Effect.map((Mountpoint) => ({ Mountpoint }))),
    unmount: ({ Name }) => known(Name).pipe(Effect.as({}))
  })
})

PluginServer.launch({ name: "hello", listen: Listener.unix("hello", { path: process.argv[2] }) }, HelloVolumes)
