/**
 * Builds the API reference (HTML, into docs/api/) with TypeDoc from the JSDoc of every public module: the modules a
 * package's `exports` map lets a user import, read from its package.json (nothing under `internal/`). Each package is
 * converted on its own, then the packages are merged into one site so that types link across packages. Fails on a
 * compiler error, a broken `{@link}`, a type referenced by the API but missing from it, and an exported declaration
 * without documentation.
 *
 * TypeDoc needs the compiler API of TypeScript 5/6, which TypeScript 7 (the workspace's compiler) has not: this
 * package pins its own `typescript` so that pnpm resolves TypeDoc's peer dependency to it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Application, DeclarationReflection, type ProjectReflection, type TypeDocOptions } from "typedoc"

const root = path.resolve(import.meta.dirname, "..")
const work = path.join(root, "docs", ".tmp")
const out = path.join(root, "docs", "api")
const sourceCondition = "@docker-plugin-kit/source"

type Target = string | null | { readonly [condition: string]: Target }

interface Manifest {
  readonly name: string
  readonly private?: boolean
  readonly exports?: { readonly [subpath: string]: Target }
}

/** The source file a subpath leads to under the workspace's source condition, or null when the map blocks it. */
const sourceOf = (target: Target): string | null => {
  if (target === null || typeof target === "string") return target
  const chosen = target[sourceCondition]
  if (chosen === undefined) throw new Error(`an export target has no "${sourceCondition}" condition`)
  return sourceOf(chosen)
}

const filesUnder = (dir: string): Array<string> =>
  fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((file) => file.split(path.sep).join("/"))
    .filter((file) => file.endsWith(".ts"))

/**
 * The public modules of a package: every source file some `exports` subpath resolves to. A pattern (`./*`) matches
 * every file below its prefix; as in Node, the longest matching pattern wins, so `"./internal/*": null` hides that
 * folder. Folders named `internal` deeper down are private by convention, and a file without exports (the CLI's
 * `bin.ts`) is a program rather than a module.
 */
const entryPoints = (dir: string, manifest: Manifest): Array<string> => {
  const exports = Object.entries(manifest.exports ?? {}).filter(([subpath]) => subpath !== "./package.json")
  const patterns = exports.filter(([subpath]) => subpath.includes("*"))
  const files = new Set<string>()
  for (const [subpath, target] of exports) {
    const source = sourceOf(target)
    if (source === null) continue
    if (!subpath.includes("*")) {
      files.add(path.join(dir, source))
      continue
    }
    const [prefix = "", suffix = ""] = source.split("*")
    for (const file of filesUnder(path.join(dir, path.dirname(prefix)))) {
      const relative = "./" + path.posix.join(path.dirname(prefix), file)
      if (!relative.startsWith(prefix) || !relative.endsWith(suffix)) continue
      const stem = relative.slice(prefix.length, relative.length - suffix.length)
      const [subPrefix = "", subSuffix = ""] = subpath.split("*")
      const request = subPrefix + stem + subSuffix
      // The pattern with the longest prefix that matches the request decides (Node's PATTERN_KEY_COMPARE).
      const best = patterns
        .filter(([key]) => {
          const [p = "", s = ""] = key.split("*")
          return request.startsWith(p) && request.endsWith(s) && request.length >= p.length + s.length
        })
        .sort(([a], [b]) => b.indexOf("*") - a.indexOf("*"))[0]
      if (best?.[0] !== subpath) continue
      if (stem.split("/").includes("internal")) continue
      const absolute = path.join(dir, relative)
      if (!/^export /m.test(fs.readFileSync(absolute, "utf8"))) continue
      files.add(absolute)
    }
  }
  return [...files].sort()
}

/**
 * Members a class inherits from a dependency's class (the statics of Effect's `Schema.TaggedErrorClass`) are that
 * dependency's documentation, whose links point into it: the reference shows what the workspace declares.
 */
const dropInheritedFromDependencies = (project: ProjectReflection): void => {
  for (const reflection of Object.values(project.reflections)) {
    if (!(reflection instanceof DeclarationReflection) || reflection.inheritedFrom === undefined) continue
    const sources = reflection.sources ?? reflection.signatures?.flatMap((signature) => signature.sources ?? []) ?? []
    if (sources.length > 0 && sources.every((source) => source.fullFileName.includes("/node_modules/")))
      project.removeReflection(reflection)
  }
}

const strict: TypeDocOptions = {
  logLevel: "Warn",
  treatWarningsAsErrors: true,
  // Every exported declaration carries JSDoc; their members (fields, methods) are documented where they need it.
  requiredToBeDocumented: ["Enum", "Variable", "Function", "Class", "Interface", "TypeAlias", "Namespace"],
  validation: { notExported: true, invalidLink: true, invalidPath: true, rewrittenLink: true, notDocumented: true }
}

const only = process.argv.slice(2)
const packagesDir = path.join(root, "packages")
const packages = fs
  .readdirSync(packagesDir)
  .map((name) => path.join(packagesDir, name))
  .filter((dir) => fs.existsSync(path.join(dir, "package.json")))
  .map((dir) => ({ dir, manifest: JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as Manifest }))
  .filter(({ manifest }) => manifest.private !== true)
  // `node docs/build.ts protocol server`: only those packages, for a quick look.
  .filter(({ dir }) => only.length === 0 || only.includes(path.basename(dir)))

fs.rmSync(work, { recursive: true, force: true })
fs.mkdirSync(work, { recursive: true })
const started = performance.now()
const jsons: Array<string> = []
let failed = false
for (const { dir, manifest } of packages) {
  const files = entryPoints(dir, manifest)
  if (files.length === 0) throw new Error(`${manifest.name}: its exports map leads to no source file`)
  const short = path.basename(dir)
  // A program of the package's sources; the packages it imports resolve to their sources too (no build needed).
  const tsconfig = path.join(work, `tsconfig.${short}.json`)
  fs.writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: path.join(root, "tsconfig.base.json"),
      compilerOptions: {
        composite: false,
        declaration: false,
        declarationMap: false,
        noEmit: true,
        allowImportingTsExtensions: true,
        customConditions: [sourceCondition]
      },
      files
    })
  )
  const app = await Application.bootstrapWithPlugins({
    ...strict,
    name: manifest.name,
    entryPoints: files,
    entryPointStrategy: "resolve",
    tsconfig,
    readme: path.join(dir, "README.md"),
    excludePrivate: true,
    excludeInternal: true
  })
  const converting = performance.now()
  const project = await app.convert()
  if (project !== undefined) dropInheritedFromDependencies(project)
  console.log(`docs: ${manifest.name}: converted in ${((performance.now() - converting) / 1000).toFixed(1)} s`)
  if (project === undefined) {
    failed = true
    continue
  }
  app.validate(project)
  if (app.logger.hasErrors() || app.logger.hasWarnings()) failed = true
  const json = path.join(work, `${short}.json`)
  await app.generateJson(project, json)
  jsons.push(json)
  console.log(`docs: ${manifest.name}: ${files.length} modules`)
}
if (failed) {
  console.error("docs: FAILED (see the errors and warnings above)")
  process.exit(1)
}

const site = await Application.bootstrapWithPlugins({
  ...strict,
  name: "docker-plugin-kit",
  entryPoints: jsons,
  entryPointStrategy: "merge",
  readme: path.join(root, "README.md"),
  out
})
const merged = await site.convert()
if (merged === undefined) process.exit(1)
site.validate(merged)
await site.generateDocs(merged, out)
if (site.logger.hasErrors() || site.logger.hasWarnings()) {
  console.error("docs: FAILED (see the errors and warnings above)")
  process.exit(1)
}
console.log(
  `docs: ${path.relative(root, out)}/index.html (${packages.length} packages) in ${((performance.now() - started) / 1000).toFixed(1)} s`
)
