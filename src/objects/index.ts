/**
 * x3m-system's Durable Objects: the Cloudflare adapters of the core's storage ports.
 */
export * from "./aggregate-object.js";
export * from "./durable-aggregate-client.js";
export * from "./sqlite-stream-store.js";
export * from "./scheduler-object.js";
export * from "./scheduler-routes.js";
export * from "./aggregate-routes.js";
export * from "./hono-protocol.js";
export * from "./durable-scheduler-client.js";
export * from "./sqlite-schedule-store.js";
export * from "./sql.js";
export * from "./sqlite-migrations.js";
export * from "./queue-sender.js";
export * from "./console-session-object.js";
