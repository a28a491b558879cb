import * as v from "valibot";
import { Aggregate, silentLogger, type EventEnvelope } from "../../src/core/index.js";
import { aggregateObject } from "../../src/objects/index.js";
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

/** Everything the tally objects published, as the test Worker's queue handler received it. */
export const publishedTallies: EventEnvelope[] = [];

/** Faults of the flaky tally objects' queue: how many sends fail before one goes through. */
export const tallyQueueFaults = { failNext: 0, failed: 0 };

/** Tallies that publish to TALLY_EVENTS. */
export const TallyObject = aggregateObject(tally, { logger: silentLogger, outbox: { queue: (env: Env & { TALLY_EVENTS: Queue }) => env.TALLY_EVENTS } });

/** Tallies whose queue refuses the next `tallyQueueFaults.failNext` sends; retried from 50 ms. */
export const FlakyTallyObject = aggregateObject(tally, {
  logger: silentLogger,
  outbox: {
    queue: (env: Env & { TALLY_EVENTS: Queue }) => flaky(env.TALLY_EVENTS),
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
