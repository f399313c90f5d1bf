import { LayerChanges } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { isRoot, parentAndCopy } from "./support.ts"

describe("LayerChanges", () => {
  it.effect("naive: added, modified and deleted paths, folders listed when something below changed", () =>
    Effect.gen(function* () {
      const { parent, layer } = yield* parentAndCopy
      Fs.writeFileSync(Path.join(layer, "etc/hosts"), "new hosts, longer")
      Fs.writeFileSync(Path.join(layer, "etc/conf.d/b"), "bb")
      Fs.rmSync(Path.join(layer, "var/cache"), { recursive: true })
      Fs.chmodSync(Path.join(layer, "etc/conf.d/a"), 0o600)
      Fs.mkdirSync(Path.join(layer, "new/deep"), { recursive: true })
      Fs.writeFileSync(Path.join(layer, "new/deep/f"), "fff")
      const source = LayerChanges.naive(layer, parent)
      expect(yield* LayerChanges.changes(source)).toEqual([
        { Path: "/etc", Kind: 0 },
        { Path: "/etc/conf.d", Kind: 0 },
        { Path: "/etc/conf.d/a", Kind: 0 },
        { Path: "/etc/conf.d/b", Kind: 1 },
        { Path: "/etc/hosts", Kind: 0 },
        { Path: "/new", Kind: 1 },
        { Path: "/new/deep", Kind: 1 },
        { Path: "/new/deep/f", Kind: 1 },
        { Path: "/var", Kind: 0 },
        { Path: "/var/cache", Kind: 2 }
      ])
      // a (1) + b (2) + hosts (17) + f (3)
      expect(yield* LayerChanges.size(source)).toBe(1 + 2 + 17 + 3)
    })
  )

  it.effect("naive without a parent: everything is added", () =>
    Effect.gen(function* () {
      const { parent } = yield* parentAndCopy
      const all = yield* LayerChanges.changes(LayerChanges.naive(parent))
      expect(all.every((c) => c.Kind === 1)).toBe(true)
      expect(all.map((c) => c.Path)).toContain("/var/cache/big")
      expect(yield* LayerChanges.size(LayerChanges.naive(parent))).toBe(9 + 1 + 1000 + 9)
    })
  )

  it.effect.skipIf(!isRoot)("overlay: whiteouts are deletions, paths found in a lower layer are modified", () =>
    Effect.gen(function* () {
      const { base, parent } = yield* parentAndCopy
      const upper = Path.join(base, "upper")
      Fs.mkdirSync(Path.join(upper, "etc"), { recursive: true })
      Fs.writeFileSync(Path.join(upper, "etc/hosts"), "changed")
      Fs.writeFileSync(Path.join(upper, "etc/new"), "n")
      ChildProcess.execFileSync("mknod", [Path.join(upper, "etc/alias"), "c", "0", "0"])
      Fs.mkdirSync(Path.join(upper, "same"))
      ChildProcess.execFileSync("setfattr", ["-n", "trusted.overlay.opaque", "-v", "y", Path.join(upper, "same")])
      Fs.writeFileSync(Path.join(upper, "same/file"), "hidden lower")
      const source = LayerChanges.overlay(upper, [parent])
      expect(yield* LayerChanges.changes(source)).toEqual([
        { Path: "/etc", Kind: 0 },
        { Path: "/etc/alias", Kind: 2 },
        { Path: "/etc/hosts", Kind: 0 },
        { Path: "/etc/new", Kind: 1 },
        { Path: "/same", Kind: 0 },
        // Below an opaque folder nothing of the lower layers shows: the file is new.
        { Path: "/same/file", Kind: 1 }
      ])
      expect(yield* LayerChanges.size(source)).toBe(7 + 1 + 12)
    })
  )
})
