/**
 * The floor for `pnpm bench graph`: a bare `node:http` graph plugin with the tar library the kit uses (tar-stream)
 * and Node's synchronous file calls, and nothing else: no path checks, no whiteouts, no owners' or modes' rules, no
 * Effect. `ApplyDiff?id=ID` writes the body's regular files, folders and symlinks under ROOT/ID as they arrive;
 * `Diff` (`{"ID":…}`) walks ROOT/ID and streams it back as a tar built by tar-stream's packer. Whatever this costs
 * more than `tar` is the cost of doing the job in Node on this host: `graph-overlay`'s figures are read against it.
 * `Constant?bytes=N` streams N bytes that cost nothing to make: the ceiling of what a reader takes from a Node plugin.
 *
 * Usage: node bench/bare-graph-plugin.ts SOCKET_PATH ROOT
 */
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Path from "node:path"
import { pipeline } from "node:stream/promises"
import * as TarStreamLib from "tar-stream"

const [socketPath, root] = process.argv.slice(2)
if (socketPath === undefined || root === undefined) throw new Error("usage: bare-graph-plugin.ts SOCKET_PATH ROOT")

const createFlags = Fs.constants.O_WRONLY | Fs.constants.O_CREAT | Fs.constants.O_EXCL

const writeAll = (fd: number, chunk: Uint8Array) => {
  for (let offset = 0; offset < chunk.length; ) offset += Fs.writeSync(fd, chunk, offset, chunk.length - offset)
}

/** Extracts the tar in `body` into `dir`. */
const apply = async (body: NodeJS.ReadableStream, dir: string) => {
  const extract = TarStreamLib.extract()
  extract.on("entry", (header, stream, next) => {
    const path = Path.join(dir, header.name)
    if (header.type === "file") {
      const fd = Fs.openSync(path, createFlags, 0o600)
      stream.on("data", (chunk) => writeAll(fd, chunk as Uint8Array))
      stream.on("end", () => {
        Fs.fchownSync(fd, header.uid ?? 0, header.gid ?? 0)
        Fs.fchmodSync(fd, header.mode ?? 0o644)
        Fs.futimesSync(fd, header.mtime ?? new Date(), header.mtime ?? new Date())
        Fs.closeSync(fd)
        next()
      })
      return
    }
    if (header.type === "directory") Fs.mkdirSync(path, { recursive: true, mode: header.mode ?? 0o755 })
    else if (header.type === "symlink") Fs.symlinkSync(header.linkname ?? "", path)
    stream.on("end", () => next())
    stream.resume()
  })
  await pipeline(body, extract)
}

/** Streams `dir` as a tar into `out`, each file read whole (the layer's files fit in memory one at a time). */
const diff = async (dir: string, out: NodeJS.WritableStream) => {
  const pack = TarStreamLib.pack()
  const piped = pipeline(pack, out)
  const add = (header: Parameters<TarStreamLib.Pack["entry"]>[0], content?: Uint8Array) =>
    new Promise<void>((resolve, reject) => {
      const done = (e?: Error | null) => (e ? reject(e) : resolve())
      if (content === undefined) pack.entry(header, done)
      else pack.entry(header, content, done)
    })
  const walk = async (rel: string): Promise<void> => {
    for (const name of Fs.readdirSync(Path.join(dir, rel))) {
      const child = rel === "" ? name : `${rel}/${name}`
      const path = Path.join(dir, child)
      const s = Fs.lstatSync(path)
      const header = { name: child, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, mtime: s.mtime }
      if (s.isDirectory()) {
        await add({ ...header, type: "directory" })
        await walk(child)
      } else if (s.isSymbolicLink()) await add({ ...header, type: "symlink", linkname: Fs.readlinkSync(path) })
      else if (s.isFile()) await add({ ...header, type: "file", size: s.size }, Fs.readFileSync(path))
    }
  }
  await walk("")
  pack.finalize()
  await piped
}

const idOf = (url: URL, body: string) => url.searchParams.get("id") ?? (JSON.parse(body) as { ID: string }).ID

/** One chunk of `/Constant`: what a plugin with nothing to make would write. */
const constantChunk = Buffer.alloc(1024 * 1024, 7)

/**
 * `/Constant?bytes=N`: N bytes of one buffer written again and again, no file read and no tar made. How fast a
 * reader takes a stream from a Node plugin that costs nothing to produce: the most any Diff it reads can reach.
 */
const constant = (bytes: number, response: Http.ServerResponse) => {
  response.writeHead(200, { "content-type": "application/x-tar" })
  let left = bytes
  const pump = () => {
    while (left > 0) {
      const chunk = left >= constantChunk.length ? constantChunk : constantChunk.subarray(0, left)
      left -= chunk.length
      if (!response.write(chunk)) return void response.once("drain", pump)
    }
    response.end()
  }
  pump()
}

const server = Http.createServer(async (request, response) => {
  const url = new URL(request.url ?? "/", "http://plugin")
  try {
    if (url.pathname === "/Constant") return constant(Number(url.searchParams.get("bytes")), response)
    if (url.pathname === "/GraphDriver.ApplyDiff") {
      const dir = Path.join(root, idOf(url, ""))
      Fs.mkdirSync(dir, { recursive: true })
      await apply(request, dir)
      const body = JSON.stringify({ Size: 0 })
      response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
      return void response.end(body)
    }
    let text = ""
    for await (const chunk of request) text += chunk
    if (url.pathname === "/GraphDriver.Diff") {
      response.writeHead(200, { "content-type": "application/x-tar" })
      return void (await diff(Path.join(root, idOf(url, text)), response))
    }
    response.writeHead(404).end()
  } catch (e) {
    response.destroy(e as Error)
  }
})
process.on("SIGTERM", () => server.close(() => process.exit(0)))
Fs.rmSync(socketPath, { force: true })
server.listen(socketPath, () => console.log(`bare graph plugin: listening on ${socketPath}`))
