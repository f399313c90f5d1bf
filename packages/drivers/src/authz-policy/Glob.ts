/**
 * Glob patterns of policy rules (`images`, `routes`, `securityOpts`): `*` is any text, `/` and line breaks
 * included, everything else is literal, and the whole text must match (case-sensitive).
 *
 * Matching takes time linear in the pattern and the text. A rule's text comes from the request (an image name in
 * the body, a route), so a backtracking matcher would let one request stall the plugin and, with it, every Engine
 * API call the daemon waits to have authorised.
 *
 * @since 0.1.0
 */

/**
 * A literal piece between two stars, with its failure table for the Knuth-Morris-Pratt search.
 *
 * @since 0.1.0
 */
export interface Piece {
  readonly text: string
  /** For each prefix of `text`, the length of its longest proper prefix that is also a suffix. */
  readonly fallback: Int32Array
}

/**
 * A pattern split at its stars, ready to match many texts.
 *
 * @since 0.1.0
 */
export interface Compiled {
  /** The whole pattern when it has no star: the text must equal it. */
  readonly exact: string | undefined
  /** What the text must start with (the part before the first star). */
  readonly head: string
  /** The parts between stars, in order; empty ones (from `**`) are dropped since they match anywhere. */
  readonly middle: ReadonlyArray<Piece>
  /** What the text must end with (the part after the last star). */
  readonly tail: string
}

const fallbackOf = (text: string): Int32Array => {
  const table = new Int32Array(text.length)
  let k = 0
  for (let i = 1; i < text.length; i++) {
    while (k > 0 && text.charCodeAt(i) !== text.charCodeAt(k)) k = table[k - 1]!
    if (text.charCodeAt(i) === text.charCodeAt(k)) k++
    table[i] = k
  }
  return table
}

/**
 * Splits a pattern at its stars.
 *
 * @since 0.1.0
 */
export const compile = (pattern: string): Compiled => {
  const parts = pattern.split("*")
  if (parts.length === 1) return { exact: pattern, head: "", middle: [], tail: "" }
  return {
    exact: undefined,
    head: parts[0]!,
    middle: parts
      .slice(1, -1)
      .filter((text) => text.length > 0)
      .map((text) => ({ text, fallback: fallbackOf(text) })),
    tail: parts[parts.length - 1]!
  }
}

/**
 * Where `piece` first occurs in `text` between `from` and `end`, or -1. Knuth-Morris-Pratt: never steps back in
 * the text, so the search is linear whatever the engine's `indexOf` does on repetitive input.
 */
const find = (piece: Piece, text: string, from: number, end: number): number => {
  const { fallback, text: wanted } = piece
  let k = 0
  for (let i = from; i < end; i++) {
    const c = text.charCodeAt(i)
    while (k > 0 && c !== wanted.charCodeAt(k)) k = fallback[k - 1]!
    if (c === wanted.charCodeAt(k)) k++
    if (k === wanted.length) return i - k + 1
  }
  return -1
}

/**
 * Whether `text` matches a compiled pattern. The head and tail are pinned to the ends; each middle piece is taken
 * at its leftmost place after the previous one, which is never worse than any later place (the star before the next
 * piece absorbs the difference), so no choice is ever revisited.
 *
 * @since 0.1.0
 */
export const matches = (compiled: Compiled, text: string): boolean => {
  if (compiled.exact !== undefined) return text === compiled.exact
  const { head, middle, tail } = compiled
  // The head and tail must not overlap: "a*a" does not match "a".
  if (text.length < head.length + tail.length || !text.startsWith(head) || !text.endsWith(tail)) return false
  const end = text.length - tail.length
  let position = head.length
  for (const piece of middle) {
    const at = find(piece, text, position, end)
    if (at === -1) return false
    position = at + piece.text.length
  }
  return true
}
