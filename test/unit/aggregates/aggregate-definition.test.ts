import { describe, expect, it } from "vitest";
import { z } from "zod";
import { addEvent, Aggregate, aggregateSpec, invalid, newMessage, reject, reply, silentLogger, type CommandContext, type Message, type ValidatedMessage } from "../../../src/core/index.js";
import { AggregateInstance } from "../../../src/core/aggregates/aggregate-instance.js";
import { MemoryStreamStore } from "../../../src/core/aggregates/memory-stream-store.js";
import { putRequest } from "../../../src/core/messaging/message.js";
import { account } from "../../../examples/bank/account.js";
import { ledger, type LedgerEvent } from "../../support/test-aggregates.js";

type Counter = { n: number };
type Counted = { type: "Counted"; data: { by: number } };

const counter = (schema: number) =>
  new Aggregate<Counter, Counted>({
    stream: "counter",
    initialState: () => ({ n: 0 }),
    apply: (state, event) => ({ n: state.n + event.data.by }),
    snapshot: { every: 5, schema },
  }).command("count", { creates: "if-missing" }, () => ({ type: "Counted", data: { by: 1 } }));

const context = (overrides: Partial<CommandContext> = {}): CommandContext => ({
  id: "a-1",
  version: 0,
  exists: true,
  caller: { user: "ada", admin: false },
  principal: "ada",
  dryRun: false,
  now: Date.parse("2026-01-01T00:00:00Z"),
  message: newMessage("x"),
  ...overrides,
});

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

  it("a decider-shaped command answers one event, nothing, a rejection with its event, invalid or a reply", async () => {
    const decide = async (command: string, request: object, state: object) => {
      const definition = account.commandNamed(command);
      const message = { ...putRequest(newMessage(command, { rawRequest: { ...request } }), request), valid: true } as ValidatedMessage<unknown, never>;
      return (await definition?.run(message, state as never, context()))?.message;
    };
    const open = { owner: "ada", balance: 10, status: "open" };
    expect((await decide("deposit", { account_id: "a-1", amount: 5 }, open))?.events).toEqual([{ type: "MoneyDeposited", data: { amount: 5 } }]);
    const rejected = await decide("withdraw", { account_id: "a-1", amount: 50 }, open);
    expect(rejected?.events).toEqual([{ type: "WithdrawalRejected", data: { amount: 50, balance: 10 } }]);
    expect(rejected?.response).toEqual({ status: "error", reason: "insufficient_funds", details: { balance: 10 } });
    const closed = await decide("deposit", { account_id: "a-1", amount: 5 }, { ...open, status: "closed" });
    expect(closed?.response).toEqual({ status: "validation_error", errors: [{ path: "account_id", message: "the account is closed" }] });
    expect((await decide("get_account", { account_id: "a-1" }, open))?.response).toEqual({ status: "ok", payload: { id: "a-1", ...open } });
    expect((await decide("ensure_account", { account_id: "a-1" }, open))?.events).toEqual([]);
  });

  it("the library builds the reply: created with the id for a creating command, ok otherwise", async () => {
    const spec = aggregateSpec(account);
    await spec.when("open_account", {}, { caller: { user: "ada" } }).thenReply({ status: "created", id: "test-1", version: 0 });
    await spec
      .given({ type: "AccountOpened", data: { owner: "ada" } })
      .when("deposit", { account_id: "test-1", amount: 5 }, { caller: { user: "ada" } })
      .thenReply({ status: "ok", version: 1 });
    await spec.when("ensure_account", { account_id: "test-1" }, { caller: { user: "ada" } }).thenReply({ status: "created", version: 0 });
    await spec
      .given({ type: "AccountOpened", data: { owner: "ada" } })
      .when("ensure_account", { account_id: "test-1" }, { caller: { user: "ada" } })
      .thenReply({ status: "ok", version: 0 });
  });

  it("reject, invalid and reply say what they mean", () => {
    expect(reject("insufficient_funds", { details: { balance: 1 } })).toEqual({
      outcome: "rejected",
      response: { status: "error", reason: "insufficient_funds", details: { balance: 1 } },
      events: [],
    });
    expect(invalid("amount", "too big").response).toEqual({ status: "validation_error", errors: [{ path: "amount", message: "too big" }] });
    expect(reply({ n: 1 }, { type: "Counted", data: { by: 1 } })).toEqual({ outcome: "accepted", reply: { n: 1 }, events: [{ type: "Counted", data: { by: 1 } }] });
  });

  it("a message-form command (the escape hatch) returns its message with events and response", async () => {
    const decide = ledger.commandNamed("withdraw")?.run;
    const message = { ...putRequest(newMessage("withdraw"), { amount: 10, delayMs: 0 }), valid: true } as ValidatedMessage<unknown, LedgerEvent>;
    const decided = (await decide?.(message, { owner: "ada", balance: 1 }, context()))?.message as Message<unknown, LedgerEvent>;
    expect(decided.events).toEqual([{ type: "WithdrawalRejected", data: { amount: 10 } }]);
    expect(decided.response).toEqual({ status: "error", reason: "insufficient_funds" });
  });

  it("refuses bad definitions at startup", () => {
    const base = { initialState: () => ({}), apply: (s: object) => s };
    expect(() => new Aggregate({ ...base, stream: "has-dash" })).toThrow(/stream/);
    expect(() => new Aggregate({ ...base, stream: "" })).toThrow(/stream/);
    expect(() => new Aggregate({ ...base, stream: "ok", snapshot: { every: 0 } })).toThrow(/snapshot/);
    expect(() => counter(1).command("count", {}, () => undefined)).toThrow(/declared twice/);
    expect(counter(1).commandNames).toEqual(["count"]);
  });

  it("a command names its id field and how it treats a missing aggregate", () => {
    expect(account.commandNamed("open_account")).toMatchObject({ mode: "new", idField: "account_id", generateId: true });
    expect(account.commandNamed("ensure_account")).toMatchObject({ mode: "maybe", idField: "account_id", generateId: false });
    expect(account.commandNamed("deposit")).toMatchObject({ mode: "existing", idField: "account_id", generateId: false });
  });
});

describe("aggregateSpec: given events, when a command, then events, a rejection or a state", () => {
  const ada = { caller: { user: "ada", admin: false } };
  const opened = { type: "AccountOpened", data: { owner: "ada" } } as const;

  it("then the events the command stored", async () => {
    await aggregateSpec(account).given(opened).when("deposit", { account_id: "test-1", amount: 5 }, ada).thenEvents([{ type: "MoneyDeposited", data: { amount: 5 } }]);
  });

  it("then a rejection, with the events stored anyway", async () => {
    await aggregateSpec(account)
      .given(opened, { type: "MoneyDeposited", data: { amount: 3 } })
      .when("withdraw", { account_id: "test-1", amount: 10 }, ada)
      .thenRejects("insufficient_funds", [{ type: "WithdrawalRejected", data: { amount: 10, balance: 3 } }]);
  });

  it("the aggregate id is the request's id field, as the router reads it (else test-1, or the id option)", async () => {
    await aggregateSpec(account).when("open_account", { account_id: "a-7" }, ada).thenReply({ status: "created", id: "a-7", version: 0 });
    // Normalised as the router normalises it: "é" typed as e and a combining accent is one id.
    expect((await aggregateSpec(account).when("open_account", { account_id: "cafe\u0301" }, ada).result()).reply.aggregateMeta.id).toBe("caf\u00e9");
    await aggregateSpec(account).when("open_account", {}, ada).thenReply({ status: "created", id: "test-1", version: 0 });
    await aggregateSpec(account).when("open_account", {}, { ...ada, id: "a-9" }).thenReply({ status: "created", id: "a-9", version: 0 });
  });

  it("then the state after the command", async () => {
    await aggregateSpec(account).given(opened).when("deposit", { account_id: "test-1", amount: 5 }, ada).thenState({ owner: "ada", balance: 5, status: "open" });
  });

  it("runs the real pipeline: the schema, and who may know that an aggregate exists", async () => {
    await aggregateSpec(account).given(opened).when("deposit", { account_id: "test-1", amount: -5 }, ada).thenRejects("validation_error");
    const bob = { caller: { user: "bob", admin: false } };
    await aggregateSpec(account).given(opened).when("get_account", { account_id: "test-1" }, bob).thenRejects("not_found");
    await aggregateSpec(account).when("get_account", { account_id: "test-1" }, bob).thenRejects("not_found");
  });

  it("a failed expectation says what was expected and what happened", async () => {
    const run = aggregateSpec(account).given(opened).when("deposit", { account_id: "test-1", amount: 5 }, ada);
    await expect(run.thenEvents([{ type: "MoneyDeposited", data: { amount: 6 } }])).rejects.toThrow(/expected the events .*amount":6.* but got .*amount":5/);
    await expect(aggregateSpec(account).given(opened).when("deposit", { account_id: "test-1", amount: 5 }, ada).thenRejects("forbidden")).rejects.toThrow(
      /refused with forbidden, but it answered \{"status":"ok"/,
    );
  });

  it("works with any Standard Schema library (zod here)", async () => {
    const tally = new Aggregate<Counter, Counted>({ stream: "tally", initialState: () => ({ n: 0 }), apply: (s, e) => ({ n: s.n + e.data.by }) }).command(
      "add",
      { creates: "if-missing", schema: z.object({ by: z.number().int().positive() }) },
      ({ by }) => ({ type: "Counted", data: { by } }),
    );
    await aggregateSpec(tally).when("add", { by: 2 }).thenState({ n: 2 });
    await aggregateSpec(tally).when("add", { by: 0 }).thenRejects("validation_error");
  });
});

describe("event upcasting", () => {
  type V2 = { type: "MoneyDeposited"; data: { amount: number; currency: string } };
  const definition = (upcast: boolean) =>
    new Aggregate<{ total: number; currencies: string[] }, V2>({
      stream: "wallet",
      initialState: () => ({ total: 0, currencies: [] }),
      apply: (state, event) => ({ total: state.total + event.data.amount, currencies: [...state.currencies, event.data.currency] }),
      // Version 1 stored cents and no currency; version 2 stores units and a currency.
      ...(upcast ? { upcasters: { MoneyDeposited: [(data) => ({ amount: (data as { cents: number }).cents / 100, currency: "EUR" })] } } : {}),
    }).command("deposit", { creates: "if-missing", schema: z.object({ amount: z.number(), currency: z.string() }) }, (request) => ({
      type: "MoneyDeposited",
      data: request,
    }));

  it("events written at version 1 load in today's shape after the aggregate is redeployed with an upcaster", async () => {
    const store = new MemoryStreamStore();
    const streamName = "wallet-1";
    // Written by the first deployment: version 1 of the event, in cents.
    await store.append({
      streamName,
      expectedVersion: -1,
      events: [{ type: "MoneyDeposited", data: { cents: 250 }, schemaVersion: 1, metadata: { messageId: "m0", correlationId: "m0", causationId: "m0", service: "deposit" } }],
      newVersion: 0,
      principal: "",
      messageId: "m0",
      fingerprint: "",
      response: { status: "ok" },
    });
    const redeployed = new AggregateInstance(definition(true), store, { streamName, logger: silentLogger });
    const send = (request: object) => redeployed.execute({ streamName, command: "deposit", message: newMessage("deposit", { rawRequest: { id: "1", ...request } }) });
    expect((await send({ amount: 1, currency: "USD" })).response).toEqual({ status: "ok", version: 1 });
    // The new event is stored at version 2; the old one stays as it was stored.
    const stored = await store.readEvents(0, 10);
    expect(stored.map((event) => [event.schemaVersion, event.data])).toEqual([
      [1, { cents: 250 }],
      [2, { amount: 1, currency: "USD" }],
    ]);
    // Reads show today's shape, and the stored one beside it where they differ.
    const page = await redeployed.read(0, 10);
    expect(page.events[0]).toMatchObject({ data: { amount: 2.5, currency: "EUR" }, schemaVersion: 2, stored: { data: { cents: 250 }, schemaVersion: 1 } });
    expect(page.events[1]).not.toHaveProperty("stored");
    // A fresh instance (a cold start) replays both into the same state.
    const cold = new AggregateInstance(definition(true), store, { streamName, logger: silentLogger });
    const state = await cold.execute({ streamName, command: "deposit", message: newMessage("deposit", { rawRequest: { id: "1", amount: 0, currency: "CHF" } }) });
    expect(state.response).toEqual({ status: "ok", version: 2 });
    expect(cold.stats).toMatchObject({ replayedEvents: 2 });
  });

  it("aggregateSpec's given takes older shapes with their version", async () => {
    await aggregateSpec(definition(true))
      .given({ type: "MoneyDeposited", data: { cents: 100 }, schemaVersion: 1 })
      .when("deposit", { amount: 2, currency: "USD" })
      .thenState({ total: 3, currencies: ["EUR", "USD"] });
  });
});

describe("an aggregate instance over the in-memory store", () => {
  const run = (instance: AggregateInstance<Counter, Counted>, id = newMessage("count").id) =>
    instance.execute({ streamName: "counter-1", command: "count", message: { ...newMessage("count", { id }), aggregateMeta: { id: "1" } } });

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
    const answer = await instance.execute({ streamName: "counter-1", command: "nope", message: newMessage("nope") });
    expect(answer.response).toEqual({ status: "error", reason: "unknown_command", details: { command: "nope" } });
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

  it("one caller's message ids neither block nor reveal another's; a caller's own retry is answered as before", async () => {
    const store = new MemoryStreamStore();
    const instance = new AggregateInstance(counter(1), store, { streamName: "counter-1", logger: silentLogger });
    const as = (principal: string, id: string) =>
      instance.execute({ streamName: "counter-1", command: "count", message: { ...newMessage("count", { id, assigns: { principal } }), aggregateMeta: { id: "1" } } });
    expect((await as("bob", "pay-2")).response).toEqual({ status: "created", id: "1", version: 0 });
    expect((await as("ada", "pay-2")).response).toEqual({ status: "ok", version: 1 });
    expect((await as("ada", "pay-2")).response).toEqual({ status: "ok", version: 1 });
    expect((await store.readEvents(0, 10)).length).toBe(2);
  });

  it("idempotency records are compacted by age and count, while recent retries are still recognised", async () => {
    const tally = (keepLast: number, keepForMs: number) =>
      new Aggregate<Counter, Counted>({
        stream: "counter",
        initialState: () => ({ n: 0 }),
        apply: (state, event) => ({ n: state.n + event.data.by }),
        idempotency: { keepLast, keepForMs },
      }).command("count", { creates: "if-missing" }, () => ({ type: "Counted", data: { by: 1 } }));
    let now = Date.parse("2026-01-01T00:00:00Z");
    const store = new MemoryStreamStore({ now: () => now });
    const instance = new AggregateInstance(tally(50, 60_000), store, { streamName: "counter-1", logger: silentLogger, now: () => now });
    const send = (id: string) => instance.execute({ streamName: "counter-1", command: "count", message: { ...newMessage("count", { id }), aggregateMeta: { id: "1" } } });
    for (let i = 0; i < 100; i += 1) await send(`m-${i}`);
    // Every record is still there: compaction runs once every 100 versions.
    expect(await store.processed("", "m-0")).not.toBeNull();
    await send("m-100");
    // At version 100 the records beyond the newest 50 went; the newest are still recognised.
    expect(await store.processed("", "m-0")).toBeNull();
    expect(await store.processed("", "m-50")).toBeNull();
    expect(await store.processed("", "m-51")).not.toBeNull();
    expect((await send("m-100")).response).toEqual({ status: "ok", version: 100 });
    expect(instance.stats.version).toBe(100);

    // Age alone: with room for a thousand, records older than keepForMs still go at the next compaction.
    const clock = { now: () => now };
    const aging = new AggregateInstance(tally(1000, 60_000), new MemoryStreamStore(clock), { streamName: "counter-2", logger: silentLogger, now: () => now });
    const sendAging = (id: string) => aging.execute({ streamName: "counter-2", command: "count", message: { ...newMessage("count", { id }), aggregateMeta: { id: "2" } } });
    for (let i = 0; i < 50; i += 1) await sendAging(`a-${i}`);
    now += 120_000;
    for (let i = 50; i <= 100; i += 1) await sendAging(`a-${i}`);
    // a-0 opened the counter; aged out, it runs again as a plain count.
    expect((await sendAging("a-0")).response).toEqual({ status: "ok", version: 101 });
    expect((await sendAging("a-49")).response).toEqual({ status: "ok", version: 102 });
    expect((await sendAging("a-50")).response).toEqual({ status: "ok", version: 50 }); // young: answered from its record
    expect(aging.stats.version).toBe(102);
  });

  it("a message-form decision that adds events and no response answers ok", async () => {
    const plain = new Aggregate<Counter, Counted>({ stream: "plain", initialState: () => ({ n: 0 }), apply: (s, e) => ({ n: s.n + e.data.by }) }).messageCommand(
      "count",
      { creates: "if-missing" },
      (message) => addEvent(message, { type: "Counted", data: { by: 1 } }),
    );
    const instance = new AggregateInstance(plain, new MemoryStreamStore(), { streamName: "plain-1", logger: silentLogger });
    const answer = await instance.execute({ streamName: "plain-1", command: "count", message: { ...newMessage("count"), aggregateMeta: { id: "1" } } });
    expect(answer.response).toEqual({ status: "ok", version: 0 });
  });
});
