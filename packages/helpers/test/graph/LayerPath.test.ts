import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import { LayerPath } from "@docker-plugin-kit/helpers"
import * as Path from "node:path"

describe("LayerPath.under", () => {
  it("joins a normalised path to its root as Path.join does, the root resolved once", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["/var/lib/layers/abc/diff", "etc/passwd"],
      ["/var/lib/layers/abc/diff/", "usr/share/doc/a b/ü.txt"],
      ["/var/lib/layers/./abc//diff", "x"],
      ["/", "etc"],
      ["/srv/root", ""]
    ]
    for (const [root, rel] of cases) expect(LayerPath.under(root)(rel)).toBe(Path.resolve(Path.join(root, rel)))
    expect(LayerPath.under("relative/dir")("a/b")).toBe(Path.join(process.cwd(), "relative/dir/a/b"))
  })

  it("takes what normalize gives: every name normalize accepts lands under the root", () => {
    const at = LayerPath.under("/layer")
    for (const name of ["a/./b/", "./c", "d//e", "f/"]) {
      const rel = Result.getOrThrow(LayerPath.normalize(name))
      expect(at(rel)).toBe(Path.join("/layer", name).replace(/\/$/, ""))
    }
  })
})
