/** One line of the stress table. */
export interface Row {
  readonly scenario: string
  readonly driver: string
  /** Requests sent, or iterations for the crash scenario. */
  readonly count: number
  /** Times the plugin process died on its own (or could not start again). */
  readonly crashes: number
  /** Requests that got no answer. */
  readonly unanswered: number
  /** Acknowledged state missing afterwards, or state changed by rejected requests. */
  readonly lost: number
  /** Files created, changed or removed outside the driver's root. */
  readonly escapes: number
  /** Answers a correct plugin would not give (invalid input accepted, bad field not named, needless errors). */
  readonly wrong: number
  readonly peakRssMb: number
  /** What else was measured, and examples of anything that went wrong. */
  readonly notes: ReadonlyArray<string>
}

/** Whether a row shows nothing wrong. */
export const clean = (row: Row): boolean =>
  row.crashes === 0 && row.unanswered === 0 && row.lost === 0 && row.escapes === 0 && row.wrong === 0

/** MiB, one decimal. */
export const mib = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10
