/**
 * Serve Docker Engine plugin drivers over a Unix socket or TCP.
 *
 * @since 0.1.0
 */
export * as BodyLimits from "./BodyLimits.ts"
export * as CallLog from "./CallLog.ts"
export * as ClosedOutput from "./ClosedOutput.ts"
export * as EndpointHandler from "./EndpointHandler.ts"
export * as ExitCode from "./ExitCode.ts"
export * as ListenError from "./ListenError.ts"
export * as Listener from "./Listener.ts"
export * as PluginName from "./PluginName.ts"
export * as PluginRouter from "./PluginRouter.ts"
export * as PluginServer from "./PluginServer.ts"
export * as SystemdListener from "./SystemdListener.ts"
export * as TcpListener from "./TcpListener.ts"
export * as UnixListener from "./UnixListener.ts"
