/**
 * `network-bridge`: the driver, its state machine, its options, its persisted state and start-up reconciliation,
 * the `Links` port and the `Nat` port, each with its host and memory Layers.
 *
 * @since 0.1.0
 */
export * as NetworkBridge from "./NetworkBridge.ts"
export * as BridgeErrors from "./BridgeErrors.ts"
export * as BridgeOptions from "./BridgeOptions.ts"
export * as BridgeReconcile from "./BridgeReconcile.ts"
export * as BridgeState from "./BridgeState.ts"
export * as BridgeTable from "./BridgeTable.ts"
export * as Links from "./Links.ts"
export * as LinksMemory from "./LinksMemory.ts"
export * as LinksNode from "./LinksNode.ts"
export * as Nat from "./Nat.ts"
export * as NatMemory from "./NatMemory.ts"
export * as NatNode from "./NatNode.ts"
