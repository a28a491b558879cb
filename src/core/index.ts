/**
 * x3m-system core: the runtime-agnostic building blocks (Message, Response, Router, Dispatcher,
 * telemetry). Nothing here imports `cloudflare:*` or `node:*`; it runs unchanged on workerd,
 * Deno, Bun and Node.
 */
export * from "./json.js";
export * from "./ids.js";
export * from "./response.js";
export * from "./message.js";
export * from "./logger.js";
export * from "./telemetry.js";
export * from "./router.js";
export * from "./service-registry.js";
export * from "./dispatcher.js";
export * from "./timeout.js";
export * from "./aggregate.js";
export * from "./aggregate-protocol.js";
export * from "./aggregate-instance.js";
export * from "./aggregate-handlers.js";
export * from "./stream-store.js";
export * from "./memory-stream-store.js";
export * from "./schedule.js";
export * from "./schedule-store.js";
export * from "./scheduler.js";
export * from "./node-directory.js";
export * from "./memory-aggregates.js";
export * from "./memory-scheduler.js";
