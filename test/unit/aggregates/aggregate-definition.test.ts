import { describe, expect, it } from "vitest";
import {
  addEvent,
  Aggregate,
  AggregateInstance,
  MemoryStreamStore,
  newMessage,
  ok,
  putRequest,
  silentLogger,
  type Message,
  type ValidatedMessage,
} from "../../../src/core/index.js";
import { ledger, type LedgerEvent, type LedgerState } from "../../support/test-aggregates.js";

type Counter = { n: number };
type Counted = { type: "Counted"; data: { by: number } };

const counter = (schema: number) =>
  new Aggregate<Counter, Counted>({
    stream: "counter",
    initialState: () => ({ n: 0 }),
    apply: (state, event) => ({ n: state.n + event.data.by }),
    snapshot: { every: 5, schema },
  }).command("count", (message) => ok(addEvent(message, { type: "Counted", data: { by: 1 } })));

const command = (service: string, rawRequest = {}) =>
  ({ ...putRequest(newMessage(service, { rawRequest }), rawRequest), valid: true }) as ValidatedMessage<unknown, LedgerEvent>;

describe("an aggregate is pure and testable without I/O", () => {
  it("initialState, and apply folds events (events with no effect leave the state as it is)", () => {
    const { initialState, apply } = ledger.options;
    const events: LedgerEvent[] = [
      { type: "Opened", data: { owner: "ada" } },
      { type: "Deposited", data: { amount: 5 } },
      { type: "WithdrawalRejected", data: { amount: 100 } },
      { type: "Withdrawn", data: { amount: 2 } },
    ];
    expect(initialState()).toEqual({ owner: null, balance: 0 });
    expect(events.reduce(apply, initialState())).toEqual({ owner: "ada", balance: 3 });
  });

  it("a decision returns events without applying them", async () => {
    const decide = ledger.commandNamed("deposit_twice")?.decide;
    const state: LedgerState = { owner: "ada", balance: 1 };
    const message = { ...command("deposit_twice", { amount: 2 }), request: { amount: 2, delayMs: 0 } };
    const decided = (await decide?.(message, state)) as Message<unknown, LedgerEvent>;
    expect(decided.events).toEqual([
      { type: "Deposited", data: { amount: 2 } },
      { type: "Deposited", data: { amount: 2 } },
    ]);
    expect(decided.response).toEqual({ status: "ok" });
    expect(state).toEqual({ owner: "ada", balance: 1 });
  });

  it("a decision may add a rejection event and still answer an error", async () => {
    const decide = ledger.commandNamed("withdraw")?.decide;
    const message = { ...command("withdraw"), request: { amount: 10, delayMs: 0 } };
    const decided = await decide?.(message, { owner: "ada", balance: 1 });
    expect(decided?.events).toEqual([{ type: "WithdrawalRejected", data: { amount: 10 } }]);
    expect(decided?.response).toEqual({ status: "error", reason: "insufficient_funds" });
  });

  it("refuses bad definitions at startup", () => {
    const base = { initialState: () => ({}), apply: (s: object) => s };
    expect(() => new Aggregate({ ...base, stream: "has-dash" })).toThrow(/stream/);
    expect(() => new Aggregate({ ...base, stream: "" })).toThrow(/stream/);
    expect(() => new Aggregate({ ...base, stream: "ok", snapshot: { every: 0 } })).toThrow(/snapshot/);
    expect(() => counter(1).command("count", (m) => ok(m))).toThrow(/declared twice/);
    expect(counter(1).commandNames).toEqual(["count"]);
  });
});

describe("an aggregate instance over the in-memory store", () => {
  const run = (instance: AggregateInstance<Counter, Counted>, id = newMessage("count").id) =>
    instance.execute({ streamName: "counter-1", command: "count", mode: "maybe", message: { ...newMessage("count", { id }), aggregateMeta: { id: "1" } } });

  it("a snapshot written with another schema number is ignored: everything is replayed", async () => {
    const store = new MemoryStreamStore();
    const v1 = new AggregateInstance(counter(1), store, { streamName: "counter-1", logger: silentLogger });
    for (let i = 0; i < 12; i += 1) await run(v1);
    const sameSchema = new AggregateInstance(counter(1), store, { streamName: "counter-1", logger: silentLogger });
    expect((await run(sameSchema)).response).toEqual({ status: "ok", version: 12 });
    expect(sameSchema.stats).toMatchObject({ snapshotVersion: 9, replayedEvents: 2 });
    const newSchema = new AggregateInstance(counter(2), store, { streamName: "counter-1", logger: silentLogger });
    expect((await run(newSchema)).response).toEqual({ status: "ok", version: 13 });
    expect(newSchema.stats).toMatchObject({ snapshotVersion: null, replayedEvents: 13 });
  });

  it("an unknown command answers unknown_command", async () => {
    const instance = new AggregateInstance(counter(1), new MemoryStreamStore(), { streamName: "counter-1", logger: silentLogger });
    const reply = await instance.execute({ streamName: "counter-1", command: "nope", mode: "existing", message: newMessage("nope") });
    expect(reply.response).toEqual({ status: "error", reason: "unknown_command", details: { command: "nope" } });
  });

  it("a storage failure answers internal_error, stores nothing, and the next command reloads", async () => {
    const store = new MemoryStreamStore();
    const instance = new AggregateInstance(counter(1), store, { streamName: "counter-1", logger: silentLogger });
    await run(instance);
    const append = store.append.bind(store);
    store.append = () => Promise.reject(new Error("disk full"));
    expect((await run(instance)).response).toEqual({ status: "error", reason: "internal_error" });
    store.append = append;
    expect((await run(instance)).response).toEqual({ status: "ok", version: 1 });
    expect(instance.stats.loads).toBe(2);
  });
});
