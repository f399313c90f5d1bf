/**
 * The floor for `pnpm bench log`: a bare `node:http` log plugin that drains each FIFO and throws the bytes away, with
 * no decoding and no file (the pipe, non-blocking, emptied every 2 ms, so the daemon's writes never wake it), which
 * leaves what the daemon itself spends to hand each line to a plugin: `log-file`'s figures are read against it.
 * It says it can read logs, as log-file does (an answer of no lines): a plugin that cannot makes the daemon keep
 * its own copy of every line as well ("dual logging"), which would charge the floor with a second driver.
 *
 * Usage: node bench/bare-log-plugin.ts SOCKET_PATH
 */
import * as Fs from "node:fs"
import { listenBare } from "./bare-plugin.ts"

const buffer = Buffer.allocUnsafe(64 * 1024)
const fifos = new Map<string, number>()
/** Reads everything the pipe holds now; answers false at EOF. */
const drain = (fd: number): boolean => {
  try {
    while (true) if (Fs.readSync(fd, buffer, 0, buffer.length, null) === 0) return false
  } catch {
    return true // EAGAIN: empty for now
  }
}
setInterval(() => {
  for (const [file, fd] of fifos) {
    if (!drain(fd)) {
      Fs.closeSync(fd)
      fifos.delete(file)
    }
  }
}, 2)

const answer = (url: string, body: { File?: string }): unknown => {
  switch (url) {
    case "/Plugin.Activate":
      return { Implements: ["LogDriver"] }
    case "/LogDriver.StartLogging":
      fifos.set(body.File!, Fs.openSync(body.File!, Fs.constants.O_RDONLY | Fs.constants.O_NONBLOCK))
      return {}
    case "/LogDriver.StopLogging": {
      const fd = fifos.get(body.File!)
      if (fd !== undefined) drain(fd)
      return {}
    }
    case "/LogDriver.Capabilities":
      return { Cap: { ReadLogs: true } }
    default:
      return { Err: `${url} is not implemented` }
  }
}

listenBare("bare log plugin", (url, text) =>
  url === "/LogDriver.ReadLogs"
    ? // A stream of frames: none.
      { body: "", contentType: "application/x-json-stream" }
    : { body: JSON.stringify(answer(url, text.trim() === "" ? {} : JSON.parse(text))) }
)
