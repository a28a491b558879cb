import { Dispatcher, newMessage, silentLogger } from "../../src/core/index.js";
import { NodeDirectory } from "../../src/core/messaging/node-directory.js";
import { remoteNodesOf } from "../../src/worker/index.js";
import { type EventEnvelope } from "../../src/core/readside/event-envelope.js";
import { aggregateObject, schedulerObject } from "../../src/objects/index.js";
import demo from "../../examples/worker.js";
import type { Env } from "../../examples/env.js";
import { filtered, ledger, ledgerTelemetry, stateful, unloading, usageEvents } from "./test-aggregates.js";
import { deadLettersQueued, lostEvents, publishedTallies } from "./test-read-side.js";
import { scheduledServices, seen, testClock, testHooks, testReidentify } from "./test-scheduling.js";

// The Worker the test suites run against: the demo, plus Durable Objects for test aggregates.
export { AccountObject, ConsoleSessionObject, SchedulerObject, TransferObject, TransferWorkflow } from "../../examples/worker.js";
export { FlakyTallyObject, FlakyTransferWorkflow, TallyObject } from "./test-read-side.js";
export { LoanObject } from "./test-loans.js";

/**
 * A dispatcher over node-b kept across requests, as a gateway keeps its directory: what
 * `/test/nodes/only_b` dispatches with (distribution.test.ts cancels one of its requests).
 */
let overNodeB: Dispatcher<Env & { NODE_B: Fetcher }> | undefined;

/**
 * The demo's HTTP (and `/test/nodes/only_b`: node-b's `only_b` called through a dispatcher kept
 * across requests) and events queue; what the test tallies publish and the dead letters are
 * recorded instead.
 */
export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    if (new URL(request.url).pathname !== "/test/nodes/only_b") return demo.fetch(request, env, ctx);
    const withNode = env as Env & { NODE_B: Fetcher };
    overNodeB ??= new Dispatcher({ services: [], node: "test", nodes: remoteNodesOf({ "node-b": (e: typeof withNode) => e.NODE_B }, withNode), directory: new NodeDirectory({ listTimeoutMs: 2000 }), logger: silentLogger });
    return overNodeB.dispatch(newMessage("only_b"), { env: withNode, waitUntil: (promise) => ctx.waitUntil(promise) }).then((reply) => Response.json({ response: reply.response }));
  },
  async queue(batch: MessageBatch, env: Env, ctx: ExecutionContext): Promise<void> {
    if (batch.queue === "x3m-test-tally-events") {
      for (const message of batch.messages) publishedTallies.push(message.body as EventEnvelope);
      return batch.ackAll();
    }
    if (batch.queue === "x3m-bank-dead-letters") {
      for (const message of batch.messages) deadLettersQueued.push(message.body);
      return batch.ackAll();
    }
    if (lostEvents.on) {
      lostEvents.lost += batch.messages.length;
      return batch.ackAll();
    }
    return demo.queue(batch, env, ctx);
  },
} satisfies ExportedHandler<Env>;

/** A ledger per object. */
export const LedgerObject = aggregateObject(ledger, {
  logger: silentLogger,
  telemetry: [(event) => void ledgerTelemetry.push(event.name)],
});
/** Ledgers with a cost budget: a command that reads and writes more than 10 rows, or an object over 40 kB, is logged. */
export const BudgetedObject = aggregateObject(ledger, {
  budget: { rowsPerCommand: 10, storageBytes: 40_000 },
  telemetry: [(event) => void (event.name === "aggregate_usage" ? usageEvents.push(event) : undefined)],
});
/** Ledgers whose rejections are filtered out before they are stored. */
export const FilteredObject = aggregateObject(filtered, { logger: silentLogger });
/** State-based ledgers. */
export const StatefulObject = aggregateObject(stateful, { logger: silentLogger });
/** Ledgers with unload rules. */
export const UnloadingObject = aggregateObject(unloading, { logger: silentLogger });

/** A scheduler over the test services, with the test hooks (test-scheduling.ts) and a movable clock. */
export const TestSchedulerObject = schedulerObject({
  services: [scheduledServices],
  hooks: testHooks,
  reidentify: testReidentify,
  telemetry: [(event) => void (event.name.startsWith("scheduled_") && seen.telemetry.push(event))],
  // Tests schedule a thousand anonymous messages on one key.
  limits: { perOwner: 10_000 },
  logger: silentLogger,
  lateAfterMs: 100,
  now: testClock.now,
});
