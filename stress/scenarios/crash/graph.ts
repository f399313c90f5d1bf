/**
 * The `kill -9` rounds of a GraphDriver (graph-vfs, graph-overlay): workers create layers (some on a parent),
 * apply a small tar to each as the daemon does right after `Create`, and remove layers without children, on 16 IDs.
 * The files of a layer are derived from its ID, so what a `Get` shows can be checked: its own files and its
 * ancestors', and `top` holding its own ID (an upper layer's file hides its parent's).
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { tarOf as tarOfFiles } from "../../tar.ts"
import { attempt, exchange, request } from "../../wire.ts"
import { firstFailure, ledger, pick, type Subject } from "./subject.ts"

const ids = Array.from({ length: 16 }, (_, i) => `layer${i}`)

/** A layer acknowledged as created: its parent, and whether its ApplyDiff was acknowledged. */
interface Layer {
  readonly parent?: string
  readonly applied: boolean
}

/** The files a layer's tar holds (paths relative to the layer). */
const filesOf = (id: string): Array<[string, string]> => [
  [`${id}/a`, `${id} a\n`],
  [`${id}/b`, `${id} b\n`.repeat(50)],
  ["top", id]
]

// Made once per ID (the content is the ID's), not at every ApplyDiff: a tar is a process of its own.
const tars = new Map<string, Buffer>()
const tarOf = (id: string): Buffer => {
  let made = tars.get(id)
  if (made === undefined) {
    made = tarOfFiles(Os.tmpdir(), { [`${id}/`]: "", ...Object.fromEntries(filesOf(id)) })
    tars.set(id, made)
  }
  return made
}

const graph = (socket: string, method: string, body: unknown) => attempt(socket, `/GraphDriver.${method}`, body)

const applyDiff = async (socket: string, id: string, parent: string) => {
  const what = `ApplyDiff ${id}`
  const { answers } = await exchange(
    socket,
    [request(`/GraphDriver.ApplyDiff?id=${id}&parent=${parent}`, tarOf(id), { "Content-Type": "application/x-tar" })],
    { expect: 1 }
  )
  const answer = answers[0]
  if (answer === undefined) return { ok: false, text: `${what}: no answer` }
  const json = answer.body === "" ? undefined : JSON.parse(answer.body)
  const ok = answer.status === 200 && json?.Err === undefined && typeof json?.Size === "number"
  return { ok, text: ok ? "" : `${what}: ${json?.Err ?? answer.status}` }
}

/** The subject. `root` is where the driver keeps its layers, inside the plugin's folder. */
export const subject = (root: (dir: string) => string): Subject => {
  const { known, unsure, settle } = ledger<string, Layer | false>()
  // Parents of a Create in flight: their state does not change, but they must not be removed meanwhile.
  const busy = new Map<string, number>()
  const errors: Array<string> = []
  let fresh = 0
  const hold = (id: string, by: number) => busy.set(id, (busy.get(id) ?? 0) + by)

  /** The files `Get` of `id` must show: its own and its ancestors' (nearest first wins for `top`). */
  const expected = (id: string): Map<string, string> => {
    const files = new Map<string, string>()
    for (let at: string | undefined = id; at !== undefined; ) {
      const layer: Layer | false | undefined = known.get(at)
      if (layer === undefined || layer === false) break
      if (layer.applied) for (const [name, content] of filesOf(at)) if (!files.has(name)) files.set(name, content)
      at = layer.parent
    }
    return files
  }

  return {
    setup: async () => {
      for (const id of ids) known.set(id, false)
      return undefined
    },
    verify: async ({ socket, pid, dir }) => {
      const lost: Array<string> = []
      const wrong = errors.splice(0)
      // On disk: nothing but layers of the set (what a crash interrupted is cleared at start).
      const listed = Fs.readdirSync(root(dir))
      for (const name of listed)
        if (!ids.includes(name)) (name.startsWith(".") ? wrong : lost).push(`left in the root: ${name}`)
      for (const ID of ids) {
        const exists = await graph(socket, "Exists", { ID })
        if (!exists.ok) {
          wrong.push(exists.text)
          continue
        }
        const there = exists.json.Exists === true
        if (there !== listed.includes(ID))
          wrong.push(`${ID}: Exists says ${there}, its folder is ${there ? "not " : ""}there`)
        const layer = known.get(ID)
        if (layer === undefined) {
          // Its Create, ApplyDiff or Remove was in flight at the kill: either way is right, and a layer whose
          // ApplyDiff did not finish is removed, as the daemon does with a layer it did not register.
          if (there) {
            const removed = await graph(socket, "Remove", { ID })
            if (!removed.ok) wrong.push(`after restart ${removed.text}`)
          }
          known.set(ID, false)
        } else if (layer === false) {
          if (there) lost.push(`${ID} was acknowledged as removed, and exists`)
        } else if (!there) {
          lost.push(`${ID} was acknowledged as created, and is gone`)
        }
      }
      // Every acknowledged layer shows its files and its ancestors', as applied.
      for (const [ID, layer] of known) {
        if (layer === false) continue
        const got = await graph(socket, "Get", { ID, MountLabel: "" })
        if (!got.ok) {
          wrong.push(`after restart ${got.text}`)
          continue
        }
        // Seen as the plugin sees it: graph-overlay's mounts are in its own mount namespace.
        const seen = Path.join(`/proc/${pid}/root`, got.json.Dir)
        for (const [name, content] of expected(ID)) {
          let text: string | undefined
          try {
            text = Fs.readFileSync(Path.join(seen, name), "utf8")
          } catch {}
          if (text !== content)
            lost.push(
              `${ID}: ${name} ${text === undefined ? "is missing" : `holds ${JSON.stringify(text.slice(0, 40))}`}`
            )
        }
        const put = await graph(socket, "Put", { ID })
        if (!put.ok) wrong.push(`after restart ${put.text}`)
      }
      const status = await graph(socket, "Status", {})
      const count = (status.json?.Status as Array<[string, string]> | undefined)?.find(([k]) => k === "Layers")?.[1]
      const expectedCount = [...known.values()].filter((l) => l !== false).length
      if (count !== String(expectedCount)) wrong.push(`Status says ${count} layers, ${expectedCount} expected`)
      // The next calls work: a layer on an acknowledged one, its tar applied, removed.
      const ID = `fresh${fresh++}`
      const parents = [...known].filter(([, l]) => l !== false).map(([id]) => id)
      const Parent = parents.length === 0 ? undefined : pick(parents)
      const failed = await firstFailure([
        () => graph(socket, "Create", Parent === undefined ? { ID } : { ID, Parent }),
        () => applyDiff(socket, ID, Parent ?? ""),
        () => graph(socket, "Remove", { ID })
      ])
      if (failed !== undefined) wrong.push(`after restart ${failed}`)
      return { lost, wrong }
    },
    step: async (socket, killed) => {
      const ID = pick(ids)
      const layer = known.get(ID)
      if (layer === undefined || unsure.has(ID) || busy.has(ID)) return false
      if (layer === false) {
        const parents = ids.filter((p) => {
          const l = known.get(p)
          return p !== ID && l !== undefined && l !== false && l.applied && !unsure.has(p)
        })
        const Parent = parents.length > 0 && Math.random() < 0.6 ? pick(parents) : undefined
        unsure.add(ID)
        if (Parent !== undefined) hold(Parent, 1)
        const method = Math.random() < 0.5 ? "Create" : "CreateReadWrite"
        const created = await graph(socket, method, { ID, ...(Parent === undefined ? {} : { Parent }), MountLabel: "" })
        if (killed()) return true
        if (Parent !== undefined) {
          hold(Parent, -1)
          if (busy.get(Parent) === 0) busy.delete(Parent)
        }
        if (!created.ok) {
          errors.push(created.text)
          unsure.delete(ID)
          return true
        }
        known.set(ID, Parent === undefined ? { applied: false } : { parent: Parent, applied: false })
        const applied = await applyDiff(socket, ID, Parent ?? "")
        if (killed()) return true
        if (applied.ok) known.set(ID, Parent === undefined ? { applied: true } : { parent: Parent, applied: true })
        else errors.push(applied.text)
        unsure.delete(ID)
        return true
      }
      // Only a layer without children can go (the driver refuses the others).
      if ([...known.values()].some((l) => l !== false && l.parent === ID)) return false
      unsure.add(ID)
      const removed = await graph(socket, "Remove", { ID })
      if (killed()) return true
      if (removed.ok) known.set(ID, false)
      else errors.push(removed.text)
      unsure.delete(ID)
      return true
    },
    settle: () => {
      settle()
      busy.clear()
    }
  }
}
