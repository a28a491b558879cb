import { silentLogger } from "../../src/core/index.js";
import { aggregateObject, schedulerObject } from "../../src/objects/index.js";
import { filtered, ledger, ledgerTelemetry, stateful, unloading } from "./test-aggregates.js";
import { scheduledServices, seen, testClock, testHooks, testReidentify } from "./test-scheduling.js";

// The Worker the test suites run against: the demo, plus Durable Objects for test aggregates.
export { AccountObject, SchedulerObject, default } from "../../examples/worker.js";

/** A ledger per object. */
export const LedgerObject = aggregateObject(ledger, {
  logger: silentLogger,
  telemetry: [(event) => void ledgerTelemetry.push(event.name)],
});
/** Ledgers whose rejections are filtered out before they are stored. */
export const FilteredObject = aggregateObject(filtered, { logger: silentLogger });
/** State-based ledgers. */
export const StatefulObject = aggregateObject(stateful, { logger: silentLogger });
/** Ledgers with unload rules. */
export const UnloadingObject = aggregateObject(unloading, { logger: silentLogger });

/** A scheduler over test services, with the original test scheduler's hooks and a movable clock. */
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
