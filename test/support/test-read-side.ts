import * as v from "valibot";
import { Aggregate, Dispatcher, halt, projection, response, Router, silentLogger, statement, type Subscriber } from "../../src/core/index.js";
import { type EventEnvelope } from "../../src/core/readside/event-envelope.js";
import { aggregateObject, durableObjectAggregates } from "../../src/objects/index.js";
import { readSide } from "../../src/worker/index.js";
import { processWorkflow } from "../../src/objects/process-workflow.js";
import { bank, transferServices } from "../../examples/bank/services.js";
import { transferProcess, type TransferInput } from "../../examples/bank/transfer-process.js";
import type { Env } from "../../examples/env.js";

/** A tally: the read side's test aggregate. */
export type TallyEvent = { type: "Added"; data: { amount: number } } | { type: "Noted"; data: { text: string } };

const AddRequest = v.object({ id: v.string(), amount: v.pipe(v.number(), v.integer()) });
const NoteRequest = v.object({ id: v.string(), text: v.pipe(v.string(), v.maxLength(1_000_000)) });

/** Adds up amounts; `add_twice` stores two events in one command, `note` stores any text (large ones too). */
export const tally = new Aggregate<{ total: number }, TallyEvent>({
  stream: "tally",
  initialState: () => ({ total: 0 }),
  apply: (state, event) => (event.type === "Added" ? { total: state.total + event.data.amount } : state),
})
  .command("add", { creates: "if-missing", schema: AddRequest }, ({ amount }) => ({ type: "Added", data: { amount } }))
  .command("add_twice", { creates: "if-missing", schema: AddRequest }, ({ amount }) => [
    { type: "Added", data: { amount } },
    { type: "Added", data: { amount } },
  ])
  .command("note", { creates: "if-missing", schema: NoteRequest }, ({ text }) => ({ type: "Noted", data: { text } }));

/** The bindings of the tallies: their objects and the queue they publish to (test/wrangler.toml). */
type TallyEnv = Env & { TALLY: DurableObjectNamespace; TALLY_EVENTS: Queue };

/** Everything the tally objects published, as the test Worker's queue handler received it. */
export const publishedTallies: EventEnvelope[] = [];

/**
 * While `on`, the test Worker acknowledges the demo's events queue (EVENTS) without delivering
 * anything: queue messages lost after the outboxes sent them, as when `wrangler dev` stops.
 */
export const lostEvents = { on: false, lost: 0 };

/** What reached the dead-letter queue (the test Worker consumes it). */
export const deadLettersQueued: unknown[] = [];

/**
 * Faults of the flaky tally objects' queue: how many sends fail before one goes through, and
 * whether sends hang (until `holding` is false again) — a send still in flight, as when the
 * object is about to be evicted.
 */
export const tallyQueueFaults = { failNext: 0, failed: 0, holding: false };

/** Tallies that publish to TALLY_EVENTS. */
export const TallyObject = aggregateObject(tally, { logger: silentLogger, outbox: { queue: (env: TallyEnv) => env.TALLY_EVENTS, catalog: (env: TallyEnv) => tallyReadSide.store(env) },
});

/** Tallies whose queue refuses the next `tallyQueueFaults.failNext` sends; retried from 50 ms. */
export const FlakyTallyObject = aggregateObject(tally, {
  logger: silentLogger,
  outbox: {
    queue: (env: TallyEnv) => flaky(env.TALLY_EVENTS),
    catalog: (env: TallyEnv) => tallyReadSide.store(env),
    retry: { baseMs: 50, maxMs: 100, jitter: 0 },
    checkAfterMs: 200,
  },
});

/** A queue that refuses sends while `tallyQueueFaults.failNext` is above zero (a network failure). */
function flaky(queue: Queue): Queue {
  return new Proxy(queue, {
    get(target, property) {
      if (property !== "sendBatch") return Reflect.get(target, property) as unknown;
      return async (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
        // Polled, not awaited on a promise of the test's: a promise resolved from another request does not wake this one.
        while (tallyQueueFaults.holding) await new Promise((resolve) => setTimeout(resolve, 5));
        if (tallyQueueFaults.failNext > 0) {
          tallyQueueFaults.failNext -= 1;
          tallyQueueFaults.failed += 1;
          throw new Error("queue unreachable (injected)");
        }
        return target.sendBatch(messages, options);
      };
    },
  });
}

/** Tables of the test projections (D1). */
export const TALLY_TABLES = [
  statement`CREATE TABLE IF NOT EXISTS test_tally (id TEXT PRIMARY KEY, total INTEGER NOT NULL, events INTEGER NOT NULL)`,
  // One row per applied (projection, stream, version): applying one twice fails its INSERT.
  statement`CREATE TABLE IF NOT EXISTS test_tally_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, version INTEGER NOT NULL,
    UNIQUE (stream, version))`,
  // One row per event the curable projection applied: applying one twice fails its INSERT.
  statement`CREATE TABLE IF NOT EXISTS test_curable (stream TEXT NOT NULL, version INTEGER NOT NULL, amount INTEGER NOT NULL, UNIQUE (stream, version))`,
];

/** Totals per tally, and a log of what was applied in which order. */
export const tallyTotals = projection<TallyEvent>({
  name: "test_tally",
  streams: ["tally"],
  on: {
    Added: (e) => [
      statement`INSERT INTO test_tally (id, total, events) VALUES (${e.aggregateId}, ${e.data.amount}, 1)
        ON CONFLICT (id) DO UPDATE SET total = total + excluded.total, events = events + 1`,
      statement`INSERT INTO test_tally_log (stream, version) VALUES (${e.streamName}, ${e.version})`,
    ],
    Noted: (e) => [
      statement`INSERT INTO test_tally (id, total, events) VALUES (${e.aggregateId}, 0, 1) ON CONFLICT (id) DO UPDATE SET events = events + 1`,
      statement`INSERT INTO test_tally_log (stream, version) VALUES (${e.streamName}, ${e.version})`,
    ],
  },
  reset: [statement`DELETE FROM test_tally`, statement`DELETE FROM test_tally_log`],
});

/** A projection whose handler fails on the amount 13, every time (a poison event). */
export const superstitious = projection<TallyEvent>({
  name: "test_superstitious",
  streams: ["tally"],
  on: {
    Added: (e) => {
      if (e.data.amount === 13) throw new Error("13 is unlucky");
      return [];
    },
  },
});

/** The read side the consumer tests drive themselves (with batches they build). */
export const tallyReadSide = readSide<TallyEnv>({
  subscribers: [tallyTotals, superstitious],
  database: (env) => env.READ_MODELS,
  sources: { tally: durableObjectAggregates((env: TallyEnv) => env.TALLY) },
  deadLetterQueue: (env) => env.DEAD_LETTERS,
  maxAttempts: 3,
  logger: silentLogger,
});

/** Message ids whose first reply the flaky services lost. */
export const lostReplies = new Set<string>();

// The real services, behind the flaky ones.
const realServices = new Dispatcher<Env>({ services: [bank, transferServices], logger: silentLogger });

/**
 * The transfer's commands, applied by the real services — but the first reply to each message id
 * is lost (`service_timeout`), as when a connection drops after the command ran.
 */
const flakyServices = new Router<Env>({ authorize: () => "ok" });
for (const name of ["get_transfer", "withdraw", "deposit", "complete_transfer", "owe_refund", "fail_transfer"]) {
  flakyServices.service(name, async (message, { env }) => {
    const reply = await realServices.dispatch(message, { env });
    if (lostReplies.has(message.id)) return reply;
    lostReplies.add(message.id);
    return halt(message, response.serviceTimeout(name, message.id, 1));
  });
}

/** The transfer process over services that lose every first reply. */
export class FlakyTransferWorkflow extends processWorkflow<Env, TransferInput>(transferProcess, {
  services: [flakyServices],
  logger: silentLogger,
  step: { retries: { limit: 5, delay: 10, backoff: "constant" }, timeout: "30 seconds" },
}) {}

/** Each (stream, version) the effects subscriber saw, in the order it saw them: a duplicate shows twice. */
export const tallyEffects: string[] = [];

/**
 * A subscriber whose effect is not a statement (it records what it saw, as one that sends mail
 * or starts a process would act): what a lost queue message would cost without the sweep.
 */
export const effects: Subscriber = {
  name: "test_effects",
  streams: ["tally"],
  handle(event) {
    tallyEffects.push(`${event.streamName}@${event.version}`);
    return [];
  },
  reset: () => [],
};

/** Whether the curable projection's bug is fixed (until then it fails on the amount 13). */
export const cure = { cured: false };

/** A projection that fails on 13 until `cure.cured`: a dead letter whose cause gets fixed. */
export const curable = projection<TallyEvent>({
  name: "test_curable",
  streams: ["tally"],
  on: {
    Added: (e) => {
      if (e.data.amount === 13 && !cure.cured) throw new Error("13 is unlucky (for now)");
      return statement`INSERT INTO test_curable (stream, version, amount) VALUES (${e.streamName}, ${e.version}, ${e.data.amount})`;
    },
  },
});

/** The tallies' read side that the sweep tests drive: it sweeps streams as soon as they are recorded. */
export const sweptTallies = readSide<TallyEnv>({
  subscribers: [tallyTotals, effects, curable],
  database: (env) => env.READ_MODELS,
  sources: { tally: durableObjectAggregates((env: TallyEnv) => env.TALLY) },
  maxAttempts: 2,
  logger: silentLogger,
  sweep: { quietMs: 0 },
});
