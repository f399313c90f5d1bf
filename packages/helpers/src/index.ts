/**
 * Libraries for writing each kind of plugin, one folder per plugin API (as go-plugins-helpers has one package
 * per API): what every author of that kind of plugin would otherwise write by hand.
 *
 * @since 0.1.0
 */
export * as LogBuffer from "./log/LogBuffer.ts"
export * as LogEntry from "./log/LogEntry.ts"
export * as LogFifo from "./log/LogFifo.ts"
export * as LogFraming from "./log/LogFraming.ts"
export * as LogStreams from "./log/LogStreams.ts"
