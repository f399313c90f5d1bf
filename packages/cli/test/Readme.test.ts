import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Cli from "../src/Cli.ts"

describe("the cli README", () => {
  // The root README sends readers here for each command's flags: a command missing from the table is undocumented.
  it("has a row for every dpk command", () => {
    const readme = Fs.readFileSync(Path.join(import.meta.dirname, "..", "README.md"), "utf8")
    const missing = Object.keys(Cli.commands).filter((name) => !new RegExp(`^\\| \`dpk ${name}[ \`]`, "m").test(readme))
    expect(missing).toEqual([])
  })
})
