/**
 * Starting a bench's bare plugin (bench/bare-*-plugin.ts: the cheapest Node plugin of a kind, the floor its
 * driver is measured against) as a child process, on the socket where the daemon finds a plugin named `name`.
 */
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"

/** Starts `script` (a file name in bench/) for plugin `name`; resolves once it listens. */
export const serveBare = (script: string, name: string): Promise<ChildProcess.ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(
      process.execPath,
      [Path.join(import.meta.dirname, script), `/run/docker/plugins/${name}.sock`],
      { stdio: ["ignore", "pipe", "inherit"] }
    )
    child.stdout.once("data", () => resolve(child))
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)))
  })
