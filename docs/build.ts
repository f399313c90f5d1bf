/**
 * Builds the API reference (HTML, into docs/api/) with TypeDoc from the JSDoc of every public module: the modules a
 * package's `exports` map lets a user import, read from its package.json (nothing under `internal/`). Each package is
 * converted on its own, then the packages are merged into one site so that types link across packages. Fails on an
 * exported declaration or a module without documentation, a broken `{@link}` or relative link, and a type the API
 * refers to but does not export. `node docs/build.ts protocol server` builds only those packages, for a quick look.
 *
 * TypeDoc needs the compiler API of TypeScript 5/6, which TypeScript 7 (the workspace's compiler) has not: this
 * package pins its own `typescript` so that pnpm resolves TypeDoc's peer dependency to it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import {
  Application,
  Comment,
  CommentTag,
  type Context,
  Converter,
  DeclarationReflection,
  type ProjectReflection,
  ReflectionKind,
  type TagString,
  type TypeDocOptions
} from "typedoc"
import ts from "typescript"

const root = path.resolve(import.meta.dirname, "..")
const work = path.join(root, "docs", ".tmp")
const out = path.join(root, "docs", "api")
// The declarations users get: TypeDoc reads the types written out by `tsc -b` (run first by `pnpm docs`), where
// every export has a written type. From the sources it would expand the inferred type of every unannotated export
// (an `Effect.gen`'s full type, etc.), which takes gigabytes and minutes for one package.
const typesCondition = "types"
const sourceCondition = "@docker-plugin-kit/source"

type Target = string | null | { readonly [condition: string]: Target }

interface Manifest {
  readonly name: string
  readonly private?: boolean
  readonly exports?: { readonly [subpath: string]: Target }
}

/** The file a subpath leads to under `condition`, or null when the map blocks it. */
const resolveTarget = (target: Target, condition: string): string | null => {
  if (target === null || typeof target === "string") return target
  const chosen = target[condition]
  if (chosen === undefined) throw new Error(`an export target has no "${condition}" condition`)
  return resolveTarget(chosen, condition)
}

const filesUnder = (dir: string): Array<string> =>
  fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((file) => file.split(path.sep).join("/"))
    .filter((file) => file.endsWith(".d.ts"))

/** A public module: the declarations TypeDoc reads, and the source whose top comment describes the module. */
interface Module {
  readonly declaration: string
  readonly source: string
}

/**
 * The public modules of a package: every declaration file some `exports` subpath resolves to. A pattern (`./*`)
 * matches every file below its prefix; as in Node, the longest matching pattern wins, so `"./internal/*": null`
 * hides that folder. Folders named `internal` deeper down are private by convention, and a file without exports
 * (the CLI's `bin.ts`) is a program rather than a module.
 */
const modulesOf = (dir: string, manifest: Manifest): Array<Module> => {
  const exports = Object.entries(manifest.exports ?? {}).filter(([subpath]) => subpath !== "./package.json")
  const patterns = exports.filter(([subpath]) => subpath.includes("*"))
  const modules = new Map<string, Module>()
  const add = (declaration: string, source: string) => {
    const absolute = path.join(dir, declaration)
    if (!/^export (?!\{\};)/m.test(fs.readFileSync(absolute, "utf8"))) return
    modules.set(absolute, { declaration: absolute, source: path.join(dir, source) })
  }
  for (const [subpath, target] of exports) {
    const declaration = resolveTarget(target, typesCondition)
    const source = resolveTarget(target, sourceCondition)
    if (declaration === null || source === null) continue
    if (!subpath.includes("*")) {
      add(declaration, source)
      continue
    }
    const [prefix = "", suffix = ""] = declaration.split("*")
    // The folder the pattern's prefix names ("./dist/" of "./dist/*.d.ts"), walked for the files it matches.
    const base = prefix.slice(0, prefix.lastIndexOf("/") + 1)
    for (const file of filesUnder(path.join(dir, base))) {
      const relative = base + file
      if (!relative.startsWith(prefix) || !relative.endsWith(suffix)) continue
      const stem = relative.slice(prefix.length, relative.length - suffix.length)
      const request = subpath.replace("*", stem)
      // The pattern with the longest prefix that matches the request decides (Node's PATTERN_KEY_COMPARE).
      const best = patterns
        .filter(([key]) => {
          const [p = "", s = ""] = key.split("*")
          return request.startsWith(p) && request.endsWith(s) && request.length >= p.length + s.length
        })
        .sort(([a], [b]) => b.indexOf("*") - a.indexOf("*"))[0]
      if (best?.[0] !== subpath || stem.split("/").includes("internal")) continue
      add(relative, source.replace("*", stem))
    }
  }
  return [...modules.values()].sort((a, b) => a.declaration.localeCompare(b.declaration))
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

/**
 * The JSDoc at the top of a module file, which describes the module (the convention of Effect's docgen). TypeDoc
 * takes a file's first comment for the module only with a `@module` tag; this reads it without one.
 */
const headerComment = (text: string): Comment | undefined => {
  const range = ts.getLeadingCommentRanges(text, ts.getShebang(text)?.length ?? 0)?.[0]
  const raw = range === undefined ? "" : text.slice(range.pos, range.end)
  if (!raw.startsWith("/**")) return undefined
  const lines = raw
    .slice(3, -2)
    .split("\n")
    .map((line) => line.replace(/^\s*\* ?/, ""))
  const tagAt = lines.findIndex((line) => line.startsWith("@"))
  const summary = (tagAt === -1 ? lines : lines.slice(0, tagAt)).join("\n").trim()
  if (summary === "") return undefined
  const tags: Array<CommentTag> = []
  for (const line of tagAt === -1 ? [] : lines.slice(tagAt)) {
    const tag = /^(@\w+)\s*(.*)$/.exec(line)
    const last = tags.at(-1)
    if (tag !== null) tags.push(new CommentTag(tag[1] as TagString, [{ kind: "text", text: tag[2] ?? "" }]))
    else if (last !== undefined && line.trim() !== "") last.content.push({ kind: "text", text: `\n${line}` })
  }
  return new Comment([{ kind: "text", text: summary }], tags)
}

/**
 * Gives each module the comment at the top of its source file (its declaration file may not have it: the emitter
 * drops a comment attached to an import it removes); a public module without one is an error.
 */
const describeModules = (app: Application, modules: ReadonlyArray<Module>): void => {
  const sources = new Map(modules.map((module) => [path.resolve(module.declaration), module.source]))
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context: Context) => {
    for (const module of context.project.getReflectionsByKind(ReflectionKind.Module)) {
      if (module.comment !== undefined) continue
      const file = context.getSymbolFromReflection(module)?.declarations?.find(ts.isSourceFile)
      const source = file === undefined ? undefined : sources.get(path.resolve(file.fileName))
      const comment = source === undefined ? undefined : headerComment(fs.readFileSync(source, "utf8"))
      if (comment !== undefined) module.comment = comment
      else app.logger.error(`${context.project.name}/${module.name}: the module has no JSDoc at the top of its file`)
    }
  })
}

const strict: TypeDocOptions = {
  logLevel: "Warn",
  treatWarningsAsErrors: true,
  // No links to a hosted copy of the sources: a clone's remote (or none) is no place a reader can open.
  disableSources: true,
  // Effect's own declarations (what a Schema error class inherits, and what its comments link to) are Effect's to
  // document: links to them go to Effect's reference.
  externalSymbolLinkMappings: { effect: { "*": "https://effect.website/docs" } },
  // Every exported declaration carries JSDoc; their members (fields, methods) are documented where they need it.
  requiredToBeDocumented: ["Enum", "Variable", "Function", "Class", "Interface", "TypeAlias", "Namespace"],
  validation: { notExported: true, invalidLink: true, invalidPath: true, rewrittenLink: true, notDocumented: true }
}

/** Types the API refers to that stay out of the reference on purpose, by package folder. */
const intentionallyNotExported: Readonly<Record<string, ReadonlyArray<string>>> = {
  // The message type generated from entry.proto; `LogEntry.LogEntry` is its public name.
  helpers: ["src/log/internal/entry_pb.ts:LogEntry"]
}

const only = process.argv.slice(2)
const packagesDir = path.join(root, "packages")
const packages = fs
  .readdirSync(packagesDir)
  .map((name) => path.join(packagesDir, name))
  .filter((dir) => fs.existsSync(path.join(dir, "package.json")))
  .map((dir) => ({ dir, manifest: JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as Manifest }))
  .filter(({ manifest }) => manifest.private !== true)
  .filter(({ dir }) => only.length === 0 || only.includes(path.basename(dir)))

fs.rmSync(work, { recursive: true, force: true })
fs.mkdirSync(work, { recursive: true })
const started = performance.now()
const jsons: Array<string> = []
let failed = false
for (const { dir, manifest } of packages) {
  const modules = modulesOf(dir, manifest)
  if (modules.length === 0) throw new Error(`${manifest.name}: its exports map leads to no module`)
  const files = modules.map((module) => module.declaration)
  const short = path.basename(dir)
  // A program of the package's declarations; the packages it imports resolve to theirs, as in a user's project.
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
        allowImportingTsExtensions: true
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
    intentionallyNotExported: [...(intentionallyNotExported[short] ?? [])],
    excludePrivate: true,
    excludeInternal: true
  })
  describeModules(app, modules)
  const converting = performance.now()
  const project = await app.convert()
  if (project !== undefined) dropInheritedFromDependencies(project)
  if (project === undefined) {
    failed = true
    continue
  }
  app.validate(project)
  if (app.logger.hasErrors() || app.logger.hasWarnings()) failed = true
  const json = path.join(work, `${short}.json`)
  await app.generateJson(project, json)
  jsons.push(json)
  const seconds = ((performance.now() - converting) / 1000).toFixed(1)
  console.log(`docs: ${manifest.name}: ${files.length} modules in ${seconds} s`)
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
