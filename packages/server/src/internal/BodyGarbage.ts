/**
 * Keeps a long streamed request body (a layer sent to `GraphDriver.ApplyDiff`) from raising the plugin's resident
 * memory with the chunks it has already handed on.
 *
 * Node's HTTP parser gives every body chunk (up to 64 KiB) a buffer of its own, outside V8's heap, freed only when
 * a collection finds the chunk's small JavaScript object dead. A driver writing a large file allocates almost
 * nothing else per chunk, so the young generation hardly fills and no scavenge comes: the dead chunks pile up
 * until V8's limit on memory outside its heap asks for a full collection. Measured on a 1 GiB layer applied by
 * graph-overlay, those chunks peaked at 26–38 MB, and the plugin's peak resident memory moved between 113 and
 * 141 MB from run to run. Scavenging the young generation every `collectEveryBytes` of body (about 0.2 ms with the
 * served drivers' 1–2 MB young generation) frees them as they die: ~10 MB of chunks at most, and 102–107 MB peak.
 *
 * The scavenge function comes from a context of its own made with `--expose-gc` on for that moment only (the way
 * Jest's leak detector gets one), so the plugin's global object gets no `gc` and node needs no flag.
 */
import * as V8 from "node:v8"
import * as Vm from "node:vm"

/**
 * Body bytes between two scavenges: at a few hundred MB/s, about a hundred a second, each a fraction of a
 * millisecond.
 */
export const collectEveryBytes = 4 * 1024 * 1024

type Gc = (options: { readonly type: "minor" }) => void

let scavenge: (() => void) | null | undefined

/** V8's scavenge, made on first use; `null` where it cannot be had (a runtime refusing the flag). */
const scavenger = (): (() => void) | null => {
  if (scavenge !== undefined) return scavenge
  // Node started with --expose-gc: its `gc` is used, and the flag is left as it was.
  const exposed = (globalThis as { gc?: Gc }).gc
  if (typeof exposed === "function") {
    scavenge = () => exposed({ type: "minor" })
    return scavenge
  }
  try {
    V8.setFlagsFromString("--expose-gc")
    const gc = Vm.runInNewContext("gc") as Gc | undefined
    scavenge = typeof gc === "function" ? () => gc({ type: "minor" }) : null
  } catch {
    scavenge = null
  } finally {
    V8.setFlagsFromString("--no-expose-gc")
  }
  return scavenge
}

/**
 * A counter of one body's bytes that runs `collect` each time another `everyBytes` have gone by (V8's scavenge by
 * default; nothing where there is none).
 */
export const counter = (
  everyBytes: number = collectEveryBytes,
  collect: (() => void) | null = scavenger()
): ((bytes: number) => void) => {
  if (collect === null) return () => {}
  let since = 0
  return (bytes) => {
    since += bytes
    if (since < everyBytes) return
    since = 0
    collect()
  }
}
