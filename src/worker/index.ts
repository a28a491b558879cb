/**
 * x3m-system on Cloudflare Workers: the HTTP gateway and what wires the core to a Worker.
 */
export * from "./gateway.js";
export * from "./envelope.js";
export * from "./request-headers.js";
export * from "./stream-routes.js";
export * from "./admin-throttle.js";
export * from "./gateway-middleware.js";
export * from "./schedule-routes.js";
export * from "./caller.js";
export * from "./request-body.js";
export * from "./replies.js";
export * from "./http-status.js";
export * from "./node-entrypoint.js";
export * from "./node-routes.js";
export * from "./service-binding-node.js";
export * from "./openapi.js";
export * from "./json-schema.js";
export * from "./read-side.js";
export * from "./d1-executor.js";
export * from "./process-workflow.js";
