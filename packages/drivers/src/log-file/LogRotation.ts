/**
 * Rotation of a container's log files, as decisions and plans without I/O: the current file is `BASE`, older ones
 * `BASE.1` (the most recent) to `BASE.N-1`, or `BASE.1.gz` to `BASE.N-1.gz` with `compress`; rotating drops the
 * oldest, shifts the others by one, and starts a new current file. A compressed rotation first renames the current
 * file to `BASE.1` and then compresses it to `BASE.1.gz`, which the driver does beside the writes (the new current
 * file does not wait for the compression); until it has, `BASE.1` is read instead.
 *
 * @since 0.1.0
 */
import type { Options } from "./LogFileOptions.ts"

/**
 * One file operation of a rotation.
 *
 * @since 0.1.0
 */
export type Step =
  | { readonly _tag: "Remove"; readonly path: string }
  | { readonly _tag: "Rename"; readonly from: string; readonly to: string }
  | { readonly _tag: "Compress"; readonly from: string; readonly to: string }

/**
 * The name of generation `n` of a container's files: 0 is the current file, 1 the most recent rotated one.
 *
 * @since 0.1.0
 */
export const generationName = (base: string, n: number, compressed = false): string =>
  n === 0 ? base : `${base}.${n}${compressed ? ".gz" : ""}`

/**
 * Whether to rotate before appending `incoming` bytes to a file of `size` bytes: when the file would grow past
 * `maxSize`. An empty file is never rotated, so a record larger than `maxSize` still gets a file of its own.
 *
 * @since 0.1.0
 */
export const shouldRotate = (options: Pick<Options, "maxSize">, size: number, incoming: number): boolean =>
  options.maxSize !== undefined && size > 0 && size + incoming > options.maxSize

/**
 * The steps of one rotation. With `maxFile` 1 the current file is simply removed (the new one starts empty). A
 * rotated generation moves under both its names, whatever `compress` says now: with it, one left uncompressed (a
 * compression cut short by a stop) is neither overwritten nor read out of order; without it, compressed files an
 * earlier `compress=true` left are dropped or shifted with their generation instead of staying where a newer plain
 * file goes, which `ReadLogs` (preferring the compressed name) would show in its place.
 *
 * @since 0.1.0
 */
export const plan = (base: string, maxFile: number, compress = false): ReadonlyArray<Step> => {
  const last = maxFile - 1
  // The names generation `n` may have: a rotated one compressed, then plain; the current file only plain.
  const forms = (n: number): ReadonlyArray<boolean> => (n > 0 ? [true, false] : [false])
  const steps: Array<Step> = forms(last).map((c) => ({ _tag: "Remove", path: generationName(base, last, c) }))
  for (let n = last - 1; n >= 0; n--) {
    for (const c of forms(n)) {
      steps.push({ _tag: "Rename", from: generationName(base, n, c), to: generationName(base, n + 1, c) })
    }
  }
  if (compress && last > 0) {
    steps.push({ _tag: "Compress", from: generationName(base, 1), to: generationName(base, 1, true) })
  }
  return steps
}

/**
 * One generation of a container's files: its compressed name (absent for the current file) and its plain one. The
 * compressed file is preferred: a finished compression writes it whole before it removes the plain file.
 *
 * @since 0.1.0
 */
export interface Generation {
  readonly compressed: string | undefined
  readonly plain: string
}

/**
 * The generations of a container's files, `count` of them, oldest first (the order to read them in).
 *
 * @since 0.1.0
 */
export const generations = (base: string, count: number): ReadonlyArray<Generation> =>
  Array.from({ length: count }, (_, i) => {
    const n = count - 1 - i
    return { compressed: n === 0 ? undefined : generationName(base, n, true), plain: generationName(base, n) }
  })

/**
 * A run of consecutive records that go into one file, and whether the files rotate before it.
 *
 * @since 0.1.0
 */
export interface Run {
  readonly start: number
  readonly end: number
  readonly rotateBefore: boolean
}

/**
 * Splits records (by their size in bytes) into runs that each go into one file, starting from a current file of
 * `size` bytes: a run ends where the next record would take the file past `maxSize`.
 *
 * @since 0.1.0
 */
export const split = (
  options: Pick<Options, "maxSize">,
  size: number,
  sizes: ReadonlyArray<number>
): ReadonlyArray<Run> => {
  const runs: Array<Run> = []
  let current = size
  let start = 0
  let rotateBefore = false
  sizes.forEach((bytes, i) => {
    if (shouldRotate(options, current, bytes)) {
      if (i > start) runs.push({ start, end: i, rotateBefore })
      start = i
      rotateBefore = true
      current = 0
    }
    current += bytes
  })
  if (start < sizes.length) runs.push({ start, end: sizes.length, rotateBefore })
  return runs
}
