/**
 * x3m-system: the runtime-agnostic building blocks — messages and their answers, routers and the
 * dispatcher, event-sourced aggregates and their follow-ups, the scheduler's contract, and the
 * read side's subscribers, with in-memory adapters for Node, Deno and Bun. Nothing here imports
 * `cloudflare:*` or `node:*`; the Durable Objects are in `x3m-system/objects`, the Worker's wiring
 * in `x3m-system/worker`.
 *
 * This file is the package's public API: what an application calls, chosen name by name (the
 * library's own plumbing is imported from its modules, never from here). api/core.api.md is its
 * report; a change to it is a CHANGELOG line.
 */

// JSON, and the rule for ids that callers choose.
export { isJsonObject, type Json, type JsonObject } from "./shared/json.js";
export { readKey } from "./shared/keys.js";

// Messages and their answers.
export {
  addEvent,
  assign,
  created,
  error,
  halt,
  newCausedBy,
  newMessage,
  ok,
  prepareAggregateId,
  putInRawRequest,
  putRequest,
  putValidationErrors,
  toService,
  tryAnotherNode,
  validateRequest,
  type DomainEvent,
  type DryRun,
  type Message,
  type TraceContext,
} from "./messaging/message.js";
export { response, type ServiceResponse } from "./messaging/response.js";

// Routers and the dispatcher.
export { noReply, Router, type Authorize, type AuthorizeResult, type RouterOptions, type ServicesOf, type ValidatedMessage } from "./messaging/router.js";
export type { DispatchOptions, ServiceContext, ServiceHandler } from "./messaging/contracts.js";
export { Dispatcher } from "./messaging/dispatcher.js";
export type { ChooseNode, RemoteNode } from "./messaging/node-directory.js";

// Logs and telemetry.
export { jsonLogger, silentLogger, type LogFields, type LogFormat, type Logger } from "./shared/logger.js";
export { logTelemetry, Telemetry, type TelemetryEvent, type TelemetryHandler } from "./messaging/telemetry.js";

// Aggregates: definitions, decisions, follow-ups, serving them, testing them.
export { Aggregate, type AggregateOptions } from "./aggregates/aggregate.js";
export { accept, invalid, reject, reply, type CommandContext, type Decision } from "./aggregates/decision.js";
export type { FollowUp } from "./scheduling/follow-up.js";
export { aggregateRouter } from "./aggregates/aggregate-router.js";
export type { AggregateClient, StreamPage } from "./aggregates/aggregate-protocol.js";
export type { StreamUsage, UsageBudget } from "./aggregates/stream-usage.js";
export { renamed, type Upcasters } from "./aggregates/upcasting.js";
export { aggregateSpec } from "./aggregates/testing.js";
export { MemoryAggregates, type MemoryAggregatesOptions } from "./aggregates/memory-aggregates.js";

// The scheduler's contract, and the scheduler in memory.
export type { MissedRuns, ScheduleSpec } from "./scheduling/schedule.js";
export {
  EVERY_OWNER,
  retryTransientFailures,
  type SchedulerClient,
  type SchedulerHooks,
  type ServiceRespondedDecision,
} from "./scheduling/scheduler.js";
export { MemoryScheduler } from "./scheduling/memory-scheduler.js";

// The read side: subscribers, processes, and the read side in memory.
export { projectedEvent, type ProjectedEvent } from "./readside/event-envelope.js";
export { statement, type ReadStatement } from "./readside/read-statement.js";
export { projection, type Subscriber } from "./readside/subscriber.js";
export type { ErasureNotice, ErasureReceipt } from "./readside/erasure-receipt.js";
export type { EraseRequest } from "./readside/erasure.js";
export type { ReadStore } from "./readside/read-store.js";
export type { ProcessContext, ProcessDefinition, ProcessLauncher, ReviveResult } from "./readside/process.js";
export { processManager, type ProcessManager } from "./readside/process-manager.js";
export { MemoryProcesses } from "./readside/memory-processes.js";
export { MemoryQueue, publishToQueue } from "./readside/memory-queue.js";
export { SqlReadStore } from "./readside/sql-read-store.js";
export { sqliteExecutor } from "./readside/sql-executor.js";
export { SubscriptionRunner } from "./readside/subscription-runner.js";
export { aggregateSource } from "./readside/event-source.js";
export { catchUp, rebuild } from "./readside/rebuild.js";
export { sweep } from "./readside/sweep.js";
