/** What the `kill -9` rounds ask of each API they are written for, and the bookkeeping they share. */

/** The plugin as it runs in one round. */
export interface Round {
  readonly socket: string
  /** Its pid: `/proc/PID/root` shows its files as it sees them (in its own mount namespace, if any). */
  readonly pid: number
  /** The folder holding the plugin's own folders. */
  readonly dir: string
}

/** What one driver's rounds check and do. */
export interface Subject {
  /** Once, before the first round's work (after the first start). */
  readonly setup: (round: Round) => Promise<string | undefined>
  /** After a restart: what was lost or is wrong, compared with what was acknowledged. */
  readonly verify: (round: Round) => Promise<{ readonly lost: Array<string>; readonly wrong: Array<string> }>
  /**
   * One state-changing step of a worker (the key it touches is unsure until acknowledged); `false` when the key it
   * drew was busy and it made no call.
   */
  readonly step: (socket: string, killed: () => boolean) => Promise<boolean>
  /** After the kill: forget what was in flight. */
  readonly settle: () => void
}

/** Keys (names, addresses) acknowledged present (true) or absent (false), and those with a call in flight. */
export const ledger = <K, V = boolean>() => {
  const known = new Map<K, V>()
  const unsure = new Set<K>()
  return {
    known,
    unsure,
    settle: () => {
      for (const key of unsure) known.delete(key)
      unsure.clear()
    }
  }
}

/** One of `items`, at random. */
export const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(Math.random() * items.length)]!

/**
 * Makes `calls` one after the other until one fails; answers the failed one's text, or undefined when all succeeded
 * (the checks that a restarted plugin still takes new work).
 */
export const firstFailure = async (
  calls: ReadonlyArray<() => Promise<{ readonly ok: boolean; readonly text: string }>>
): Promise<string | undefined> => {
  for (const call of calls) {
    const result = await call()
    if (!result.ok) return result.text
  }
  return undefined
}
