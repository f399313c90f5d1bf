/** What the daemon hands a log driver, made as the daemon makes it: for the scenarios that stand in for the daemon. */

import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { LogEntry, LogFraming } from "@docker-plugin-kit/helpers"

/** The `Info` the daemon sends with StartLogging and ReadLogs, for container `id`. */
export const logInfo = (id: string, config: Record<string, string> = {}) => ({
  Config: config,
  ContainerID: id,
  ContainerName: `/${id.slice(0, 12)}`,
  ContainerEntrypoint: "sh",
  ContainerArgs: [],
  ContainerImageID: "sha256:0",
  ContainerImageName: "busybox",
  ContainerCreated: "2026-01-01T00:00:00Z",
  ContainerEnv: [],
  ContainerLabels: {},
  LogPath: "",
  DaemonName: "docker"
})

/** A FIFO made and held open for writing as the daemon does before StartLogging. */
export const fifo = (folder: string): { readonly File: string; readonly fd: number; readonly close: () => void } => {
  const File = Path.join(folder, `${Crypto.randomUUID()}.fifo`)
  ChildProcess.execFileSync("mkfifo", ["-m", "0700", File])
  const fd = Fs.openSync(File, Fs.constants.O_RDWR | Fs.constants.O_NONBLOCK)
  return {
    File,
    fd,
    close: () => {
      Fs.closeSync(fd)
      Fs.rmSync(File, { force: true })
    }
  }
}

/** Framed entries as the daemon writes them to the FIFO. */
export const frames = (lines: ReadonlyArray<string>): Uint8Array =>
  LogFraming.encodeFrames(
    lines.map((line) => LogEntry.make({ source: "stdout", timeNano: BigInt(Date.now()) * 1_000_000n, line }))
  )
