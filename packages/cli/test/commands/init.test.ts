import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Init from "../../src/commands/init.ts"
import { dpk } from "../support.ts"

/** Temporary folders of this file, removed once it has run. */
const made: Array<string> = []
afterAll(() => {
  for (const dir of made) Fs.rmSync(dir, { recursive: true, force: true })
})

const fresh = () => {
  const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-init-"))
  made.push(base)
  return Path.join(base, "proj")
}

describe("dpk init", () => {
  it.effect("writes the volume project with the plugin's name in place of the template's", () =>
    Effect.gen(function* () {
      const dir = fresh()
      const written = yield* Init.write(dir, "volume", "my-vol")
      expect([...written].sort()).toEqual(
        ["README.md", "package.json", "src/Driver.ts", "src/main.ts", "test/Driver.test.ts", "tsconfig.json"].sort()
      )
      const pkg = JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8"))
      expect(pkg.name).toBe("my-vol")
      expect(pkg.scripts.test).toBe("vitest run")
      for (const file of written) expect(Fs.readFileSync(Path.join(dir, file), "utf8")).not.toContain("__NAME__")
    })
  )

  it.effect("writes a project for every API: the template of that API, named, with its driver and tests", () =>
    Effect.gen(function* () {
      for (const api of Init.apis) {
        const dir = fresh()
        const written = yield* Init.write(dir, api, `my-${api}`)
        expect([...written].sort(), api).toEqual(
          ["README.md", "package.json", "src/Driver.ts", "src/main.ts", "test/Driver.test.ts", "tsconfig.json"].sort()
        )
        const pkg = JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8"))
        expect(pkg.name, api).toBe(`my-${api}`)
        expect(Object.keys(pkg.scripts).sort(), api).toEqual(["build", "package", "serve", "test", "typecheck"])
        expect(pkg.devDependencies["@docker-plugin-kit/testkit"], api).toBe("^0.1.0")
        // The test of each project runs the conformance suite of its own API.
        const test = Fs.readFileSync(Path.join(dir, "test", "Driver.test.ts"), "utf8")
        const suite = {
          volume: "Volume",
          network: "Network",
          ipam: "Ipam",
          authz: "Authz",
          log: "Log",
          graph: "Graph",
          secret: "Secret"
        }
        expect(test, api).toContain(`Conformance${suite[api]}.suite`)
        for (const file of written) {
          expect(Fs.readFileSync(Path.join(dir, file), "utf8"), `${api}: ${file}`).not.toContain("__NAME__")
        }
      }
    })
  )

  it("has a template for exactly the APIs it accepts", () => {
    const templates = Path.join(import.meta.dirname, "..", "..", "templates")
    expect(Fs.readdirSync(templates).sort()).toEqual([...Init.apis].sort())
  })

  it.effect("refuses an unknown API, a name Docker would refuse, and a folder that is not empty", () =>
    Effect.gen(function* () {
      const dir = fresh()
      const unknown = yield* Effect.exit(Init.write(dir, "nope", "x"))
      expect(Exit.isFailure(unknown) && String(Exit.findErrorOption(unknown))).toContain(
        'unknown --api "nope": one of volume, network, ipam, authz, log, graph, secret'
      )
      const badName = yield* Effect.exit(Init.write(dir, "volume", "My Plugin"))
      expect(String(Exit.findErrorOption(badName))).toContain('plugin name "My Plugin" must match')
      Fs.mkdirSync(dir, { recursive: true })
      Fs.writeFileSync(Path.join(dir, "keep.txt"), "mine")
      const notEmpty = yield* Effect.exit(Init.write(dir, "volume", "x"))
      expect(String(Exit.findErrorOption(notEmpty))).toContain("the folder is not empty")
      expect(Fs.readdirSync(dir)).toEqual(["keep.txt"])
    })
  )

  it.effect("refuses a path that is a file with its own error, leaving the file alone", () =>
    Effect.gen(function* () {
      const file = fresh()
      Fs.writeFileSync(file, "mine")
      const exit = yield* Effect.exit(Init.write(file, "volume", "x"))
      expect(Exit.findErrorOption(exit)._tag).toBe("Some")
      expect(String(Exit.findErrorOption(exit))).toContain(`cannot create a plugin project in ${file}: not a folder`)
      expect(Fs.readFileSync(file, "utf8")).toBe("mine")
    })
  )

  it("on the command line, says what it wrote and what to run next", () => {
    const dir = fresh()
    const run = dpk("init", dir, "--api", "ipam", "--name", "my-ipam")
    expect([run.status, run.stderr]).toEqual([0, ""])
    expect(run.stdout).toBe(
      `${dir}: an ipam plugin named my-ipam (6 files). Next: cd ${dir} && npm install && npm test\n`
    )
  })

  it("on the command line, says why in one line on stderr and exits 1, without a logged stack trace", () => {
    const file = fresh()
    Fs.writeFileSync(file, "mine")
    const run = dpk("init", file, "--api", "volume")
    expect([run.status, run.stdout, run.stderr]).toEqual([
      1,
      "",
      `dpk init: cannot create a plugin project in ${file}: not a folder\n`
    ])
  })
})
