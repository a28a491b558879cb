/**
 * x3m-system core: the runtime-agnostic building blocks (Message, Response, Router, Dispatcher,
 * telemetry). Nothing here imports `cloudflare:*` or `node:*`; it runs unchanged on workerd,
 * Deno, Bun and Node.
 */
export * from "./shared/json.js";
export * from "./shared/ids.js";
export * from "./messaging/response.js";
export * from "./messaging/message.js";
export * from "./messaging/message-schema.js";
export * from "./shared/logger.js";
export * from "./messaging/telemetry.js";
export * from "./messaging/contracts.js";
export * from "./messaging/router.js";
export * from "./messaging/service-registry.js";
export * from "./messaging/dispatcher.js";
export * from "./messaging/wiring.js";
export * from "./shared/timeout.js";
export * from "./shared/keys.js";
export * from "./shared/backoff.js";
export * from "./aggregates/aggregate.js";
export * from "./aggregates/aggregate-protocol.js";
export * from "./aggregates/aggregate-instance.js";
export * from "./aggregates/aggregate-router.js";
export * from "./aggregates/decision.js";
export * from "./aggregates/upcasting.js";
export * from "./aggregates/event-encoding.js";
export * from "./aggregates/testing.js";
export * from "./aggregates/stream-store.js";
export * from "./aggregates/memory-stream-store.js";
export * from "./scheduling/schedule.js";
export * from "./scheduling/schedule-store.js";
export * from "./scheduling/memory-schedule-store.js";
export * from "./scheduling/scheduler.js";
export type { FollowUp, FollowUpChanges, PendingFollowUp } from "./scheduling/follow-up.js";
export * from "./messaging/node-directory.js";
export * from "./aggregates/memory-aggregates.js";
export * from "./scheduling/memory-scheduler.js";
export * from "./readside/event-envelope.js";
export * from "./readside/read-statement.js";
export * from "./readside/subscriber.js";
export * from "./readside/delivery-plan.js";
export * from "./readside/read-store.js";
export * from "./readside/sql-executor.js";
export * from "./readside/sql-read-store.js";
export * from "./readside/event-source.js";
export * from "./readside/subscription-runner.js";
export * from "./readside/outbox-publisher.js";
export * from "./readside/rebuild.js";
export * from "./readside/sweep.js";
export * from "./readside/process.js";
export * from "./readside/process-manager.js";
export * from "./readside/memory-processes.js";
export * from "./readside/memory-queue.js";
