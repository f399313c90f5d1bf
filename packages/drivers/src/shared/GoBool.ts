/**
 * Go's `strconv.ParseBool`, which the engine's own drivers use for their boolean options (the bridge driver's,
 * json-file's `compress`): a plugin that takes the same options must take the same spellings. Shared by the drivers;
 * not part of the package's API.
 *
 * @since 0.1.0
 */

const spellings: Readonly<Record<string, boolean>> = {
  "1": true,
  t: true,
  T: true,
  true: true,
  TRUE: true,
  True: true,
  "0": false,
  f: false,
  F: false,
  false: false,
  FALSE: false,
  False: false
}

/**
 * The boolean `text` spells, or `undefined` when Go would refuse it (`yes`, `on`, ...).
 *
 * @since 0.1.0
 */
export const parse = (text: string): boolean | undefined =>
  Object.hasOwn(spellings, text) ? spellings[text] : undefined
