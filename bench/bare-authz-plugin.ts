/**
 * The floor for `pnpm bench authz`: a bare `node:http` authorization plugin that reads each hook's JSON body and
 * allows it, with no policy, no schema and no audit line. What the daemon's two extra round trips per API call cost
 * through the cheapest Node plugin there is; `authz-policy`'s figures are read against it.
 *
 * Usage: node bench/bare-authz-plugin.ts SOCKET_PATH
 */
import { listenBare } from "./bare-plugin.ts"

const activate = JSON.stringify({ Implements: ["authz"] })
const allow = JSON.stringify({ Allow: true })

listenBare("bare authz plugin", (url, text) => {
  try {
    if (text.trim() !== "") JSON.parse(text)
  } catch (e) {
    throw new Error(`request body is not valid JSON (${(e as Error).message})`)
  }
  return { body: url === "/Plugin.Activate" ? activate : allow }
})
