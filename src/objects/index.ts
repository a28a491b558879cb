/**
 * x3m-system/objects: the classes the Workers runtime runs — the Durable Objects that hold
 * aggregates and scheduler shards, the entrypoint other Workers reach this one's services
 * through, and processes as Workflows — and the clients that reach the objects. Export a class
 * made here from your Worker as a class declaration (`export class AccountObject extends
 * aggregateObject(account) {}`) and bind it in wrangler.toml.
 *
 * This file is the entry point's public API, chosen name by name; api/objects.api.md is its
 * report.
 */
export { aggregateObject, type AggregateObjectOptions, type FollowUpOptions, type OutboxOptions } from "./aggregate-object.js";
export { durableObjectAggregates, type DurableObjectAggregatesOptions } from "./durable-aggregate-client.js";
export type { Residency, ResidencyTarget } from "./stream-residency.js";
export { schedulerObject, type SchedulerObjectOptions } from "./scheduler-object.js";
export { durableObjectScheduler } from "./durable-scheduler-client.js";
export { nodeEntrypoint, type NodeEntrypointOptions } from "./node-entrypoint.js";
export { processWorkflow, type ProcessWorkflowOptions } from "./process-workflow.js";
