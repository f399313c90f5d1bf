/**
 * Rotation of a container's log files, as decisions and plans without I/O: the current file is `BASE`, older ones
 * `BASE.1` (the most recent) to `BASE.N-1`; rotating drops the oldest, shifts the others by one, and starts a new
 * current file.
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

/**
 * Whether to rotate before appending `incoming` bytes to a file of `size` bytes: when the file would grow past
 * `maxSize`. An empty file is never rotated, so a record larger than `maxSize` still gets a file of its own.
 *
 * @since 0.1.0
 */
export const shouldRotate = (options: Options, size: number, incoming: number): boolean =>
  options.maxSize !== undefined && size > 0 && size + incoming > options.maxSize

/**
 * The steps of one rotation. With `maxFile` 1 the current file is simply removed (the new one starts empty).
 *
 * @since 0.1.0
 */
export const plan = (base: string, maxFile: number): ReadonlyArray<Step> => {
  const name = (n: number) => (n === 0 ? base : `${base}.${n}`)
  const steps: Array<Step> = [{ _tag: "Remove", path: name(maxFile - 1) }]
  for (let n = maxFile - 2; n >= 0; n--) steps.push({ _tag: "Rename", from: name(n), to: name(n + 1) })
  return steps
}

/**
 * Every file of a container, oldest first (the order to read them in).
 *
 * @since 0.1.0
 */
export const files = (base: string, maxFile: number): ReadonlyArray<string> =>
  Array.from({ length: maxFile }, (_, i) => (maxFile - 1 - i === 0 ? base : `${base}.${maxFile - 1 - i}`))

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
export const split = (options: Options, size: number, sizes: ReadonlyArray<number>): ReadonlyArray<Run> => {
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
