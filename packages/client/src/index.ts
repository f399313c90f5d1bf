/**
 * The daemon's side of the plugin protocol: discovery, activation, typed calls with the daemon's retries,
 * timeouts and error model, and remote plugins as driver Layers.
 *
 * @since 0.1.0
 */
export * from "./ClientError.ts"
export * as DaemonText from "./DaemonText.ts"
export * as Discovery from "./Discovery.ts"
export * as GoJson from "./GoJson.ts"
export * as NodeTransport from "./NodeTransport.ts"
export * as PluginClient from "./PluginClient.ts"
export * as RemoteDriver from "./RemoteDriver.ts"
export * as Retry from "./Retry.ts"
export * as Target from "./Target.ts"
export * as Timeouts from "./Timeouts.ts"
export * as Transport from "./Transport.ts"
