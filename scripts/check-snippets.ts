/**
 * Type-checks the TypeScript examples of the Markdown files (every ```ts block), so that they cannot drift from the
 * API. Each block becomes a module of its own, written under `.tmp/snippets/` of the package the Markdown file belongs
 * to (so its imports resolve as they would in that package, the package's own name included), and all of them are
 * checked in one `tsc` run with the workspace's compiler options; errors are reported at their line in the Markdown
 * file. A block written on purpose as a fragment opts out with ```ts no-check.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
/** The repository's Markdown files (tracked by git: not the copies a docs build or a dependency brings). */
const markdownFiles = (): Array<string> => {
  const git = spawnSync("git", ["ls-files", "-z", "--", "*.md"], { cwd: root, encoding: "utf8" })
  if (git.status !== 0) throw new Error(`git ls-files failed: ${git.stderr || git.error?.message}`)
  return git.stdout
    .split("\0")
    .filter((file) => file !== "")
    .map((file) => path.join(root, file))
}

/** The folder whose node_modules the example's imports resolve from: the nearest one with a package.json. */
const packageOf = (file: string): string => {
  let dir = path.dirname(file)
  while (!fs.existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir)
  return dir
}

interface Snippet {
  readonly markdown: string
  /** The line of the Markdown file that holds the snippet's first line (1-based). */
  readonly firstLine: number
  readonly file: string
}

const started = performance.now()
const snippets: Array<Snippet> = []
let optedOut = 0
const cleaned = new Set<string>()
for (const markdown of markdownFiles().sort()) {
  const lines = fs.readFileSync(markdown, "utf8").split("\n")
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript)\b(.*)$/.exec(lines[i] ?? "")
    if (open === null) continue
    const end = lines.findIndex((line, j) => j > i && line.startsWith("```"))
    if (end === -1) throw new Error(`${path.relative(root, markdown)}:${i + 1}: a code block that is never closed`)
    const body = lines.slice(i + 1, end)
    if ((open[2] ?? "").split(/\s+/).includes("no-check")) optedOut++
    else {
      const dir = path.join(packageOf(markdown), ".tmp", "snippets")
      if (!cleaned.has(dir)) {
        fs.rmSync(dir, { recursive: true, force: true })
        fs.mkdirSync(dir, { recursive: true })
        cleaned.add(dir)
      }
      const file = path.join(dir, `${path.basename(markdown, ".md")}.L${i + 2}.ts`)
      fs.writeFileSync(file, body.join("\n") + "\n")
      snippets.push({ markdown, firstLine: i + 2, file })
    }
    i = end
  }
}

const tsconfig = path.join(root, ".tmp", "snippets", "tsconfig.json")
fs.mkdirSync(path.dirname(tsconfig), { recursive: true })
fs.writeFileSync(
  tsconfig,
  JSON.stringify(
    {
      extends: "../../tsconfig.base.json",
      compilerOptions: {
        composite: false,
        declaration: false,
        declarationMap: false,
        noEmit: true,
        allowImportingTsExtensions: true,
        // The workspace's packages as their sources: no build needed.
        customConditions: ["@docker-plugin-kit/source"],
        // A snippet without imports is still a module of its own, not a script sharing one global scope.
        moduleDetection: "force"
      },
      files: snippets.map((snippet) => path.relative(path.dirname(tsconfig), snippet.file))
    },
    null,
    2
  )
)

const tsc = spawnSync(path.join(root, "node_modules", ".bin", "tsc"), ["-p", tsconfig, "--pretty", "false"], {
  cwd: root,
  encoding: "utf8"
})
if (tsc.error !== undefined) throw tsc.error
const byFile = new Map(snippets.map((snippet) => [path.resolve(snippet.file), snippet]))
const output = `${tsc.stdout}${tsc.stderr}`
  .split("\n")
  .filter((line) => line !== "")
  .map((line) => {
    // file(line,col): error TSxxxx: message  →  README.md:line:col: error TSxxxx: message
    const at = /^(.+?)\((\d+),(\d+)\): (.*)$/.exec(line)
    const snippet = at === null ? undefined : byFile.get(path.resolve(root, at[1] ?? ""))
    if (at === null || snippet === undefined) return line
    return `${path.relative(root, snippet.markdown)}:${snippet.firstLine + Number(at[2]) - 1}:${at[3]}: ${at[4]}`
  })
for (const line of output) console.error(line)
const seconds = ((performance.now() - started) / 1000).toFixed(1)
if (tsc.status !== 0) {
  console.error(`check-snippets: FAILED: the examples above do not compile (${snippets.length} checked)`)
  process.exit(1)
}
console.log(
  `check-snippets: ${snippets.length} TypeScript examples from ${new Set(snippets.map((s) => s.markdown)).size} Markdown files compile (${optedOut} marked no-check) in ${seconds} s`
)
