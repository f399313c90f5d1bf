/** What every scenario does around its work: a temp folder, the plugin served from it, clean-up. */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Plugin from "../plugin.ts"
import type { Target } from "../targets.ts"

/** A temp folder holding the plugin's own folders (`plugin/`), its socket, and anything else the scenario needs. */
export interface Workspace {
  readonly base: string
  readonly dir: string
  readonly socket: string
  readonly start: (options?: Plugin.StartOptions) => Promise<Plugin.Plugin>
}

/** Runs `body` in a fresh workspace for `target`, removed afterwards. */
export const withWorkspace = async <A>(
  scenario: string,
  target: Target,
  body: (workspace: Workspace) => Promise<A>
): Promise<A> => {
  const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), `dpk-stress-${scenario}-`))
  const dir = Path.join(base, "plugin")
  const socket = Path.join(base, `${target.driver}.sock`)
  try {
    return await body({
      base,
      dir,
      socket,
      start: (options) => Plugin.start(target.driver, socket, target.args(dir), target.wrap, options)
    })
  } finally {
    Fs.rmSync(base, { recursive: true, force: true })
  }
}

/** Waits `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
