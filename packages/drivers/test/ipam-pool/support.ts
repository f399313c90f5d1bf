/**
 * Calling a plugin socket as the daemon does, for the tests that drive `dpk serve ipam-pool` processes.
 */
import * as Http from "node:http"

const agent = new Http.Agent({ keepAlive: true, maxSockets: 16 })

/** One POST over a plugin socket: status and parsed body, or `undefined` when the connection was cut. */
export const call = (socket: string, path: string, body: unknown) =>
  new Promise<{ status: number; body: any } | undefined>((resolve) => {
    const payload = `${JSON.stringify(body)}\n`
    const request = Http.request(
      { socketPath: socket, path, method: "POST", headers: { "Content-Length": Buffer.byteLength(payload) }, agent },
      (response) => {
        let text = ""
        response.on("data", (c) => {
          text += c
        })
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }))
        response.on("error", () => resolve(undefined))
      }
    )
    request.on("error", () => resolve(undefined))
    request.end(payload)
  })
