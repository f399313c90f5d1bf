/**
 * Serve Docker Engine plugin drivers over a Unix socket or TCP.
 *
 * @since 0.1.0
 */
export * as EndpointHandler from "./EndpointHandler.ts"
export * as Listener from "./Listener.ts"
export * as PluginRouter from "./PluginRouter.ts"
export * as PluginServer from "./PluginServer.ts"
