/**
 * `dpk package ENTRY|DRIVER --name NAME [--tag T] [--out DIR] [--create]`: a managed (v2) plugin folder
 * (`config.json` and `rootfs/`) for a plugin entry file or a reference driver, and optionally
 * `docker plugin create` of it against the engine the `docker` CLI points at (`DOCKER_HOST`). What the plugin needs
 * from the engine (mounts, capabilities, network, devices, environment, host tools) comes from a reference driver's
 * descriptor and from the flags of `ManagedFlags`, which add to it.
 *
 * @since 0.1.0
 */
import * as Descriptor from "@docker-plugin-kit/drivers/Descriptor"
import * as Descriptors from "@docker-plugin-kit/drivers/descriptors"
import { Apis, Manifest, type PluginApi } from "@docker-plugin-kit/protocol"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { cliName } from "../FlagName.ts"
import * as ManagedFlags from "../managed/ManagedFlags.ts"
import * as PluginConfig from "../managed/PluginConfig.ts"
import * as Rootfs from "../managed/Rootfs.ts"
import * as Build from "./build.ts"

/**
 * A plugin folder could not be written or created.
 *
 * @since 0.1.0
 */
export class PackageFailed extends Data.TaggedError("PackageFailed")<{
  readonly target: string
  readonly reason: string
}> {
  override get message() {
    return `cannot package ${this.target}: ${this.reason}`
  }
}

/** The CLI's own entry, bundled for a reference driver: its `serve` command is what the plugin runs. */
const cliEntry = (): string => {
  const source = Path.join(import.meta.dirname, "..", "bin.ts")
  return Fs.existsSync(source) ? source : process.argv[1]!
}

/** How long the plugin run by `implementsOf` has to listen, and then to answer. */
const probeSeconds = 10

/** Asks a bundled plugin entry what it implements: runs it on a temporary socket and calls Activate. */
const implementsOf = (bundle: string): Effect.Effect<ReadonlyArray<PluginApi.Any>, PackageFailed> =>
  Effect.tryPromise({
    try: async () => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-package-"))
      const socket = Path.join(dir, "probe.sock")
      const child = ChildProcess.spawn(process.execPath, [bundle, socket], {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, DPK_PLUGIN_SOCKET: socket }
      })
      let stderr = ""
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString()
      })
      try {
        for (let i = 0; i < probeSeconds * 10 && !Fs.existsSync(socket); i++) {
          if (child.exitCode !== null) throw new Error(`it exited (${child.exitCode}): ${stderr.trim()}`)
          await new Promise((r) => setTimeout(r, 100))
        }
        if (!Fs.existsSync(socket)) throw new Error(`it did not listen within ${probeSeconds} s`)
        const body = await new Promise<string>((resolve, reject) => {
          const req = Http.request({ socketPath: socket, path: Manifest.Activate.path, method: "POST" }, (res) => {
            let text = ""
            res.on("data", (c: Buffer) => {
              text += c.toString()
            })
            res.on("end", () => resolve(text))
          })
          // A plugin that accepts and never answers would otherwise hold the command forever.
          req.setTimeout(probeSeconds * 1000, () =>
            req.destroy(new Error(`it did not answer ${Manifest.Activate.path} within ${probeSeconds} s`))
          )
          req.on("error", reject)
          req.end()
        })
        const names = (JSON.parse(body) as { Implements?: ReadonlyArray<string> }).Implements ?? []
        const apis = names.flatMap((n) => Apis.bySubsystem(n) ?? [])
        if (apis.length === 0) throw new Error(`its Activate lists no API this toolkit knows: ${body}`)
        return apis
      } finally {
        child.kill("SIGTERM")
        Fs.rmSync(dir, { recursive: true, force: true })
      }
    },
    catch: (e) =>
      new PackageFailed({
        target: bundle,
        reason: `cannot ask the plugin what it implements (it must listen on its first argument): ${(e as Error).message}`
      })
  })

/**
 * The APIs named by `--implements` (as a plugin's Activate lists them): only for a plugin's entry file, whose run
 * on this machine they spare (its start-up may make folders or open devices meant for the engine's host).
 */
const knownApis = (
  target: string,
  descriptor: Descriptor.Descriptor | undefined,
  names: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<PluginApi.Any>, PackageFailed> => {
  if (descriptor !== undefined) {
    return Effect.fail(
      new PackageFailed({
        target,
        reason: "--implements is for a plugin's entry file; a reference driver declares its APIs"
      })
    )
  }
  const known = Apis.all.map((api) => api.subsystem).join(", ")
  const apis: Array<PluginApi.Any> = []
  for (const name of names) {
    const api = Apis.bySubsystem(name)
    if (api === undefined) {
      return Effect.fail(
        new PackageFailed({ target, reason: `--implements ${JSON.stringify(name)} is not an API (known: ${known})` })
      )
    }
    if (!apis.includes(api)) apis.push(api)
  }
  return apis.length === 0
    ? Effect.fail(new PackageFailed({ target, reason: `--implements names no API (known: ${known})` }))
    : Effect.succeed(apis)
}

/**
 * The name a reference driver is served under inside the plugin, from the name it is created with: the last path
 * component of the repository, without a tag or digest (`registry:5000/org/vol:1.0` → `vol`). `dpk serve` refuses a
 * name holding `/` or `:`, and a repository name is what `docker plugin create` and `push` are given.
 *
 * @since 0.1.0
 */
export const serveName = (reference: string): string =>
  reference
    .replace(/[@:][^/]*$/, "")
    .split("/")
    .at(-1)!

/** A path component of a repository name, as the distribution reference grammar has it. */
const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
/** A registry host (`registry.local:5000`, `[::1]:5000` is not supported). */
const domain =
  /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$/
const tagPattern = /^[\w][\w.-]{0,127}$/

/**
 * Why `name` and `tag` do not make a reference `docker plugin create` accepts (`[registry/]path[/path...]` in lower
 * case, at most 255 characters, and a tag), or undefined when they do. The name also makes the default output
 * folder, so this is what keeps `--name ../x` from writing outside the working folder.
 *
 * @since 0.1.0
 */
export const checkReference = (name: string, tag: string): string | undefined => {
  const parts = name.split("/")
  // As the engine splits it: the first part is a registry only when it looks like a host.
  const first = parts[0]!
  const hasDomain = parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")
  const paths = hasDomain ? parts.slice(1) : parts
  if (name.length > 255) return `--name is longer than 255 characters`
  if ((hasDomain && !domain.test(first)) || !paths.every((p) => pathComponent.test(p))) {
    return `--name ${JSON.stringify(name)} is not a repository name: [registry/]path[/path...], each path lower case [a-z0-9] separated by ".", "_", "__" or "-" (the tag goes in --tag)`
  }
  if (!tagPattern.test(tag)) return `--tag ${JSON.stringify(tag)} must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
  return undefined
}

/**
 * What `docker plugin inspect` says `args` may hold: the driver's flags by the names `dpk serve` takes, less those
 * the entry point fixes (a second one would stop the plugin at start).
 *
 * @since 0.1.0
 */
export const argsDescriptionOf = (descriptor: Descriptor.Descriptor): string => {
  const fixed = new Set(descriptor.managed?.serveFlags ?? [])
  const names = Object.values(descriptor.flags)
    .map((flag) => `--${cliName(flag)}`)
    .filter((name) => !fixed.has(name))
  return names.length === 0
    ? `no flags of dpk serve ${descriptor.name} to set`
    : `flags of dpk serve ${descriptor.name}: ${names.join(", ")}`
}

/**
 * What the config of a reference driver is made from: the plugin runs the bundled CLI's `dpk serve NAME` on the
 * plugin socket, with the flags every managed instance needs (in the entry point) and the driver's default,
 * settable arguments. `needs`: what the driver declares, with what flags added (`ManagedFlags.needsOf`).
 *
 * @since 0.1.0
 */
export const driverInput = (
  descriptor: Descriptor.Descriptor,
  name: string,
  needs: Descriptor.ManagedNeeds = descriptor.managed ?? {}
): PluginConfig.Input => ({
  description: descriptor.description,
  apis: descriptor.apis,
  entrypoint: [
    Rootfs.nodePath,
    ...Descriptor.startFlagsOf(descriptor),
    ...(descriptor.v8Flags ?? []),
    Rootfs.bundlePath,
    "serve",
    descriptor.name,
    "--name",
    serveName(name),
    "--socket",
    PluginConfig.socketPath,
    ...(descriptor.managed?.serveFlags ?? [])
  ],
  args: descriptor.managed?.args ?? [],
  argsDescription: argsDescriptionOf(descriptor),
  needs
})

/**
 * What a plugin needs: what the reference driver `descriptor` declares (nothing for a plugin's entry file) with what
 * the flags' `values` add, refused naming the flag and its value before anything is bundled. A `--binary` must be
 * on this machine, as its rootfs gets this machine's copy.
 *
 * @since 0.1.0
 */
export const needsOf = (
  target: string,
  descriptor: Descriptor.Descriptor | undefined,
  values: ManagedFlags.Values
): Effect.Effect<Descriptor.ManagedNeeds, PackageFailed> => {
  const needs = ManagedFlags.needsOf(values, descriptor?.managed, descriptor?.name)
  if (Result.isFailure(needs)) return Effect.fail(new PackageFailed({ target, reason: needs.failure }))
  const missing = (values.binaries ?? []).find((binary) => Rootfs.locate(binary) === undefined)
  return missing === undefined
    ? Effect.succeed(needs.success)
    : Effect.fail(
        new PackageFailed({
          target,
          reason: `--binary ${JSON.stringify(missing)} is not ${missing.includes("/") ? "a file" : "on PATH"} on this machine`
        })
      )
}

/**
 * What `write` produced.
 *
 * @since 0.1.0
 */
export interface Written {
  readonly dir: string
  readonly config: PluginConfig.PluginConfig
}

/** Bundles `target` in `work`, then writes `out`; a failed write leaves no half-made `out` behind. */
const writeInto = (
  work: string,
  target: string,
  descriptor: Descriptor.Descriptor | undefined,
  name: string,
  out: string,
  apis: ReadonlyArray<PluginApi.Any> | undefined,
  needs: Descriptor.ManagedNeeds
): Effect.Effect<PluginConfig.PluginConfig, PackageFailed | Build.BuildFailed> =>
  Effect.gen(function* () {
    const bundle = Path.join(work, "plugin.js")
    // Split: the CLI's entry holds every reference driver, and the plugin then reads only the one it serves.
    yield* Build.bundle(descriptor === undefined ? target : cliEntry(), bundle, { split: true })
    const config = PluginConfig.make(
      descriptor === undefined
        ? {
            description: `${name} (${Path.basename(target)})`,
            apis: apis ?? (yield* implementsOf(bundle)),
            entrypoint: [Rootfs.nodePath, Rootfs.bundlePath, PluginConfig.socketPath],
            args: [],
            argsDescription: "extra arguments of the plugin",
            needs
          }
        : driverInput(descriptor, name, needs)
    )
    // Only a folder made here is removed on failure: never one that appeared since `write` checked (another run
    // writing the same plugin), nor what a symlink points to.
    let made = false
    yield* Effect.try({
      try: () => {
        Fs.mkdirSync(Path.dirname(out), { recursive: true })
        Fs.mkdirSync(out)
        made = true
        Fs.writeFileSync(Path.join(out, "config.json"), `${JSON.stringify(config, null, 2)}\n`)
        Rootfs.write(Path.join(out, "rootfs"), {
          bundle,
          chunks: Build.chunksDir(bundle),
          binaries: needs.binaries ?? []
        })
      },
      catch: (e) => {
        if (made) Fs.rmSync(out, { recursive: true, force: true })
        return new PackageFailed({ target, reason: (e as Error).message })
      }
    })
    return config
  })

/**
 * Writes the plugin folder `out` for `target` (an entry file, or a reference driver's name), with what `managed`
 * (the values of `ManagedFlags.flags`) says the plugin needs.
 *
 * @since 0.1.0
 */
export const write = (
  target: string,
  name: string,
  out: string,
  implemented?: ReadonlyArray<string>,
  managed: ManagedFlags.Values = {}
): Effect.Effect<Written, PackageFailed | Build.BuildFailed> =>
  Effect.gen(function* () {
    // lstat: a dangling symlink exists too (existsSync follows it and says no).
    if (Fs.lstatSync(out, { throwIfNoEntry: false }) !== undefined) {
      return yield* new PackageFailed({ target, reason: `${out} exists already` })
    }
    const descriptor = Descriptors.byName(target)
    if (descriptor === undefined && !Fs.existsSync(target)) {
      const drivers = Descriptors.all.map((d) => d.name).join(", ")
      return yield* new PackageFailed({ target, reason: `neither a file nor a reference driver (${drivers})` })
    }
    const apis = implemented === undefined ? undefined : yield* knownApis(target, descriptor, implemented)
    const needs = yield* needsOf(target, descriptor, managed)
    // The bundle is made in a folder of its own, removed however the packaging ends.
    const config = yield* Effect.acquireUseRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-package-"))),
      (work) => writeInto(work, target, descriptor, name, out, apis, needs),
      (work) => Effect.sync(() => Fs.rmSync(work, { recursive: true, force: true }))
    )
    return { dir: out, config }
  })

/**
 * The command.
 *
 * @since 0.1.0
 */
export const command = Command.make(
  "package",
  {
    target: Argument.String("target").pipe(
      Argument.withDescription(
        "A plugin's entry file (it must listen on the socket path given as its first argument), or a reference driver's name"
      )
    ),
    name: Flag.String("name").pipe(Flag.withDescription("The plugin's name (docker plugin create NAME)")),
    tag: Flag.String("tag").pipe(Flag.withDescription("The plugin's tag"), Flag.withDefault("latest")),
    out: Flag.String("out").pipe(Flag.withDescription("The folder to write (default ./NAME-plugin)"), Flag.optional),
    create: Flag.Boolean("create").pipe(
      Flag.withDescription("Then run docker plugin create against the engine the docker CLI points at (DOCKER_HOST)"),
      Flag.withDefault(false)
    ),
    docker: Flag.String("docker").pipe(Flag.withDescription("The docker CLI to use"), Flag.withDefault("docker")),
    implements: Flag.String("implements").pipe(
      Flag.withDescription(
        "What a plugin file implements, as its Activate lists it (e.g. VolumeDriver; comma-separated): it is then not run here to ask"
      ),
      Flag.optional
    ),
    ...ManagedFlags.flags
  },
  ({ target, name, tag, out, create, docker, implements: implemented, ...managed }) =>
    Effect.gen(function* () {
      const invalid = checkReference(name, tag)
      if (invalid !== undefined) return yield* new PackageFailed({ target, reason: invalid })
      const dir = Option.getOrElse(out, () => `${name}-plugin`)
      const names = Option.map(implemented, (list) =>
        list
          .split(",")
          .map((n) => n.trim())
          .filter((n) => n !== "")
      )
      const written = yield* write(target, name, dir, Option.getOrUndefined(names), managed)
      yield* Console.log(`${dir}: config.json (${written.config.Interface.Types.join(", ")}) and rootfs/`)
      if (!create) return
      const reference = `${name}:${tag}`
      const result = ChildProcess.spawnSync(docker, ["plugin", "create", reference, dir], { encoding: "utf8" })
      if (result.status !== 0) {
        return yield* new PackageFailed({
          target,
          reason: `${docker} plugin create failed: ${(result.stderr || result.stdout || String(result.error)).trim()}`
        })
      }
      yield* Console.log(`created ${reference}; enable it with: ${docker} plugin enable ${reference}`)
    })
).pipe(Command.withDescription("Write a managed (v2) plugin folder (config.json and rootfs) and optionally create it"))
