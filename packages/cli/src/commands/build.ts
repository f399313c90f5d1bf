/**
 * `dpk build ENTRY [--out FILE] [--split]`: bundles a plugin into one JavaScript file holding only what it imports,
 * so it starts without resolving and loading hundreds of modules, and ships as one file (e.g. into a managed
 * plugin's rootfs). With `--split`, what the entry imports lazily goes into chunk files in a folder beside it.
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Fs from "node:fs"
import { builtinModules, createRequire } from "node:module"
import * as Path from "node:path"

/**
 * The bundle could not be built; `reason` lists the bundler's errors, one per line, each with its location.
 *
 * @since 0.1.0
 */
export class BuildFailed extends Data.TaggedError("BuildFailed")<{
  readonly entry: string
  readonly reason: string
}> {
  override get message() {
    return `cannot bundle ${this.entry}: ${this.reason}`
  }
}

/**
 * What `bundle` wrote.
 *
 * @since 0.1.0
 */
export interface Output {
  readonly file: string
  readonly bytes: number
  /** How many source files went into it. */
  readonly inputs: number
  /** The chunk files written beside it (`split`), in `chunksDir(file)`; 0 without. */
  readonly chunks: number
}

/**
 * Settings of a bundle.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Shorter names and no whitespace: less for V8 to parse at start-up (default true). */
  readonly minify?: boolean
  /** Write `FILE.map` beside the bundle. */
  readonly sourcemap?: boolean
  /** Packages left as imports, to be installed beside the bundle (native addons, packages that refuse bundling). */
  readonly external?: ReadonlyArray<string>
  /**
   * Each part the entry imports lazily (`import()`: a reference driver, a command) goes into a chunk file of its
   * own, read only when used. For an entry holding several plugins, such as the `dpk` CLI: a process serving one
   * driver does not parse the others, which keeps ~12 MB of start-up memory off its RSS for good.
   */
  readonly split?: boolean
}

/**
 * Where the chunks of a split bundle go: a folder named after it, beside it (`dist/dpk.js`: `dist/dpk-chunks/`).
 *
 * @since 0.1.0
 */
export const chunksDir = (out: string): string => {
  const extension = Path.extname(out)
  return Path.join(Path.dirname(out), `${Path.basename(out, extension)}-chunks`)
}

/**
 * The default output of an entry: `dist/NAME.js` under the current folder.
 *
 * @since 0.1.0
 */
export const defaultOut = (entry: string): string =>
  Path.join("dist", `${Path.basename(entry).replace(/\.[cm]?[jt]sx?$/, "")}.js`)

// CommonJS dependencies bundled into an ES module still call `require` for Node's built-ins.
const requireShim = `import { createRequire as __dpkCreateRequire } from "node:module";
const require = __dpkCreateRequire(import.meta.url);`

// Effect's Node HTTP server imports `ws` (about a tenth of a plugin's bundle, evaluated at every start) for WebSocket
// upgrades, which it sets up only when one arrives; the Docker plugin protocol has none. Its import from there is
// replaced by classes that say so if ever used; a plugin's own `import "ws"` keeps the real package.
const withoutWebSockets: import("esbuild").Plugin = {
  name: "dpk-without-websockets",
  setup(build) {
    build.onResolve({ filter: /^ws$/ }, (args) =>
      /[\\/]@effect[\\/]platform-node-shared[\\/]/.test(args.importer)
        ? { path: "ws", namespace: "dpk-without-websockets" }
        : undefined
    )
    build.onLoad({ filter: /.*/, namespace: "dpk-without-websockets" }, () => ({
      loader: "js",
      contents: `const unsupported = () => { throw new Error("WebSocket upgrades are not part of the Docker plugin protocol; this bundle was built without them") }
export class WebSocket { constructor() { unsupported() } }
export class WebSocketServer { constructor() { unsupported() } }`
    }))
  }
}

// Node's built-ins are loaded with `require`, not `import`. An ES import of a built-in makes Node read every export
// of it to build the module's facade, and that runs their lazy getters: `node:http`'s loads undici (its fetch and
// WebSocket client), `node:tls`'s reads the bundled root certificates, `node:perf_hooks`'s the user-timing module.
// That was about a sixth of a bundled plugin's start-up CPU; `require` returns the object and runs no getter.
//
// Some built-ins are required only when the plugin first reads one of their exports. A Unix-socket plugin never
// touches `node:tls` (~10 ms to load), `node:https` or `node:readline`, which Effect's Node platform imports for TLS
// sockets and terminals. They are the costly ones whose exports are plain functions, classes and values; a module
// whose methods need it as `this` (`node:process`, `node:console`, anything an EventEmitter) or that is itself a
// function or a class (`node:events`, `node:stream`) is required at once, as is any other. The export names are
// listed when the bundle is built; a name missing from that list (one a newer Node adds, or a non-enumerable one
// such as `zlib.Z_SYNC_FLUSH`) is still found, through the prototype. Assignments reach the real module.
const builtinNames = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]))
const deferredBuiltins = new Set([
  "child_process",
  "crypto",
  "dgram",
  "dns",
  "http2",
  "https",
  "inspector",
  "perf_hooks",
  "readline",
  "readline/promises",
  "tls",
  "v8",
  "vm",
  "worker_threads",
  "zlib"
])
const requireBuiltin = createRequire(import.meta.url)
const builtinModule = (name: string): string => {
  const id = JSON.stringify(`node:${name}`)
  const exported: unknown = deferredBuiltins.has(name) ? requireBuiltin(`node:${name}`) : undefined
  if (typeof exported !== "object" || exported === null) return `module.exports = require(${id})`
  return `let loaded
const load = () => (loaded ??= require(${id}))
Object.setPrototypeOf(module.exports, new Proxy({}, {
  get: (_, key) => load()[key],
  has: (_, key) => key in load(),
  set: (_, key, value) => ((load()[key] = value), true)
}))
for (const key of ${JSON.stringify(Object.keys(exported))})
  Object.defineProperty(module.exports, key, {
    enumerable: true,
    get: () => load()[key],
    set: (value) => void (load()[key] = value)
  })`
}
const builtinsByRequire: import("esbuild").Plugin = {
  name: "dpk-builtins-by-require",
  setup(build) {
    build.onResolve({ filter: /^(node:)?[a-z0-9_/]+$/ }, (args) =>
      !builtinNames.has(args.path)
        ? undefined
        : // `import("node:fs")` is lazy already; and in a split bundle a wrapped module would become a chunk
          // whose namespace has only `default`.
          args.namespace === "dpk-builtin" || args.kind === "dynamic-import"
          ? { path: args.path, external: true }
          : { path: args.path.replace(/^node:/, ""), namespace: "dpk-builtin" }
    )
    build.onLoad({ filter: /.*/, namespace: "dpk-builtin" }, (args) => ({
      loader: "js",
      contents: builtinModule(args.path)
    }))
  }
}

/**
 * Bundles `entry` (TypeScript or JavaScript) and everything it imports into the ES module `out`. Node's built-ins
 * stay imports; in this repository the packages' TypeScript sources are bundled (their source export condition),
 * elsewhere their published JavaScript.
 *
 * @since 0.1.0
 */
export const bundle = (entry: string, out: string, options: Options = {}): Effect.Effect<Output, BuildFailed> =>
  Effect.gen(function* () {
    if (!Fs.existsSync(entry)) return yield* new BuildFailed({ entry, reason: "no such file" })
    const esbuild = yield* Effect.promise(() => import("esbuild"))
    const extension = Path.extname(out) || ".js"
    const chunks = chunksDir(out)
    // The chunks of an earlier build have other hashes: left there, they would pile up.
    if (options.split === true) Fs.rmSync(chunks, { recursive: true, force: true })
    const result = yield* Effect.tryPromise({
      try: () =>
        esbuild.build({
          entryPoints: [entry],
          ...(options.split === true
            ? {
                outdir: Path.dirname(out),
                splitting: true,
                entryNames: Path.basename(out, extension),
                chunkNames: `${Path.basename(chunks)}/[name]-[hash]`,
                outExtension: { ".js": extension }
              }
            : { outfile: out }),
          bundle: true,
          platform: "node",
          format: "esm",
          target: "node22",
          conditions: ["@docker-plugin-kit/source"],
          minify: options.minify ?? true,
          sourcemap: options.sourcemap === true ? "linked" : false,
          banner: { js: requireShim },
          external: [...(options.external ?? [])],
          metafile: true,
          logLevel: "silent",
          plugins: [withoutWebSockets, builtinsByRequire]
        }),
      catch: (e) => {
        const errors = (e as { errors?: ReadonlyArray<import("esbuild").Message> }).errors
        return new BuildFailed({
          entry,
          reason:
            errors === undefined || errors.length === 0
              ? String((e as Error).message ?? e)
              : errors
                  .map((m) =>
                    m.location === null
                      ? m.text
                      : `${m.location.file}:${m.location.line}:${m.location.column}: ${m.text}`
                  )
                  .join("\n")
        })
      }
    })
    return {
      file: out,
      bytes: Fs.statSync(out).size,
      inputs: Object.keys(result.metafile.inputs).length,
      chunks: Object.keys(result.metafile.outputs).filter(
        (file) => Path.dirname(Path.resolve(file)) === Path.resolve(chunks) && file.endsWith(extension)
      ).length
    }
  })

/**
 * The command.
 *
 * @since 0.1.0
 */
export const command = Command.make(
  "build",
  {
    entry: Argument.String("entry").pipe(Argument.withDescription("The plugin's entry file (.ts or .js)")),
    out: Flag.String("out").pipe(Flag.withDescription("The bundle to write (default dist/NAME.js)"), Flag.optional),
    sourcemap: Flag.Boolean("sourcemap").pipe(
      Flag.withDescription("Also write FILE.map (stack traces then name the original sources)"),
      Flag.withDefault(false)
    ),
    noMinify: Flag.Boolean("no-minify").pipe(
      Flag.withDescription("Keep names and whitespace"),
      Flag.withDefault(false)
    ),
    external: Flag.String("external").pipe(
      Flag.withDescription("A package to leave as an import (repeatable), e.g. a native addon"),
      Flag.atLeast(0)
    ),
    split: Flag.Boolean("split").pipe(
      Flag.withDescription(
        "Put what the entry imports lazily (import()) in chunk files beside the bundle, in FILE-chunks/"
      ),
      Flag.withDefault(false)
    )
  },
  ({ entry, out, sourcemap, noMinify, external, split }) =>
    Effect.gen(function* () {
      const file = Option.getOrElse(out, () => defaultOut(entry))
      const written = yield* bundle(entry, file, { sourcemap, minify: !noMinify, external, split })
      const chunks = written.chunks === 0 ? "" : ` and ${written.chunks} chunk files in ${chunksDir(written.file)}`
      yield* Console.log(
        `${written.file}: ${(written.bytes / 1024).toFixed(0)} kB${chunks} from ${written.inputs} source files; run it with node ${written.file}`
      )
    })
).pipe(Command.withDescription("Bundle a plugin into one JavaScript file holding only what it imports"))
