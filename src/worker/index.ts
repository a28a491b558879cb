/**
 * x3m-system/worker: a Worker's wiring — the HTTP gateway, other Workers as nodes, and the read
 * side on Queues, D1 and Workflows. It imports nothing from `cloudflare:*` (the runtime's classes
 * are in `x3m-system/objects`), so a gateway can be made and called in a unit test on any runtime.
 *
 * This file is the entry point's public API, chosen name by name; api/worker.api.md is its
 * report.
 */
export { createGateway, type GatewayOptions, type GatewayPages } from "./gateway/gateway.js";
export type { GatewayEnv } from "./gateway/gateway-middleware.js";
export type { Identify, PrincipalOf } from "./gateway/caller.js";
export { jwtIdentity, type JwtIdentityOptions } from "./identity/jwt-identity.js";
export { accessIdentity, type AccessIdentityOptions } from "./identity/access-identity.js";
export type { AdminOptions } from "./gateway/stream-routes.js";
export type { Envelope } from "./gateway/envelope.js";
export { httpStatus } from "./gateway/http-status.js";
export { remoteNodesOf, serviceBindingNode, type NodeBindings } from "./nodes/service-binding-node.js";
export { readSide, type ReadSide, type ReadSideOptions } from "./readside/read-side.js";
export { workflowLauncher } from "./readside/workflow-launcher.js";
