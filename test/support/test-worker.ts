import { silentLogger } from "../../src/core/index.js";
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

/** The demo's HTTP and events queue; what the test tallies publish and the dead letters are recorded instead. */
export default {
  fetch: demo.fetch,
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
