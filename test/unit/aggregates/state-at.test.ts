import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { Aggregate, aggregateRouter, MemoryAggregates, newMessage, reject, reply, silentLogger, type JsonObject } from "../../../src/core/index.js";
import { AggregateInstance } from "../../../src/core/aggregates/aggregate-instance.js";
import type { PastState } from "../../../src/core/aggregates/aggregate-protocol.js";
import { MemoryStreamStore } from "../../../src/core/aggregates/memory-stream-store.js";
import type { ErrorResponse } from "../../../src/core/messaging/response.js";

type Purse = { owner: string | null; balance: number };
type PurseEvent =
  | { type: "Opened"; data: { owner: string } }
  | { type: "Deposited"; data: { amount: number } }
  | { type: "Withdrawn"; data: { amount: number } };

const Money = v.object({ purse: v.string(), amount: v.pipe(v.number(), v.integer(), v.minValue(1)) });
const owner = (caller: JsonObject | null) => (typeof caller?.["user"] === "string" ? caller["user"] : null);

/**
 * A purse whose deposits were first stored in cents (`{ cents }`, schema 1) and are now stored in
 * units (`{ amount }`, schema 2); only its owner may learn that it exists; a snapshot every 3 events.
 */
const purse = new Aggregate<Purse, PurseEvent>({
  stream: "purse",
  id: "purse",
  initialState: () => ({ owner: null, balance: 0 }),
  apply: (state, event) => {
    switch (event.type) {
      case "Opened":
        return { ...state, owner: event.data.owner };
      case "Deposited":
        return { ...state, balance: state.balance + event.data.amount };
      case "Withdrawn":
        return { ...state, balance: state.balance - event.data.amount };
    }
  },
  upcasters: { Deposited: [(data) => ({ amount: (data as { cents: number }).cents / 100 })] },
  access: (state, { caller }) => owner(caller) === state.owner,
  snapshot: { every: 3 },
})
  .command("open", { creates: true }, (_request, _state, { caller }) => ({ type: "Opened", data: { owner: owner(caller) ?? "nobody" } }))
  .command("deposit", { schema: Money }, ({ amount }) => ({ type: "Deposited", data: { amount } }))
  .command("withdraw", { schema: Money }, ({ amount }, { balance }) =>
    amount > balance ? reject("insufficient_funds", { details: { balance } }) : { type: "Withdrawn", data: { amount } },
  )
  .command("balance", {}, (_request, { balance }) => reply({ balance }))
  .command("audit", {}, () => undefined);

const ADA = { identity: { user: "ada" }, principal: "ada" };
const T0 = Date.parse("2026-12-01T10:00:00.000Z");
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

/** One purse's instance over a store, on a clock that moves a second per event, and a way to send it commands. */
function purseOf() {
  let clock = T0;
  const store = new MemoryStreamStore({ now: () => clock });
  const instance = new AggregateInstance(purse, store, { streamName: "purse-p", logger: silentLogger, now: () => clock });
  const send = async (command: string, request: JsonObject = {}) => {
    const reply = await instance.execute({ streamName: "purse-p", command, message: newMessage(command, { rawRequest: { purse: "p", ...request }, assigns: ADA }) });
    clock += 1000;
    return reply.response;
  };
  const lookBack = (point: { version: number } | { at: string }, dryRun?: { command: string; request: JsonObject; id?: string; assigns?: JsonObject }) =>
    instance.stateAt({
      point,
      ...(dryRun === undefined
        ? {}
        : { dryRun: { command: dryRun.command, message: newMessage(dryRun.command, { id: dryRun.id ?? `dry-${Math.random()}`, rawRequest: { purse: "p", ...dryRun.request }, assigns: dryRun.assigns ?? ADA, dryRun: true }) } }),
    });
  return { store, instance, send, lookBack };
}

/** A look back that must have answered a state. */
function past(answer: PastState | ErrorResponse): PastState {
  if ("status" in answer) throw new Error(`refused: ${JSON.stringify(answer)}`);
  return answer;
}

describe("the state at a version", () => {
  it("is the fold of the events up to that version, with when that event was recorded and the stream as it is now", async () => {
    const p = purseOf();
    await p.send("open"); // v0 at T0
    await p.send("deposit", { amount: 100 }); // v1 at T0 + 1 s
    await p.send("withdraw", { amount: 30 }); // v2
    await p.send("deposit", { amount: 5 }); // v3
    const expected = [0, 100, 70, 75];
    for (const [version, balance] of expected.entries()) {
      expect(past(await p.lookBack({ version }))).toEqual({
        stream: "purse-p",
        version,
        recordedAt: at(version),
        state: { owner: "ada", balance },
        upcastEvents: 0,
        now: { status: "live", version: 3 },
      });
    }
  });

  it("goes through today's upcasters: a deposit stored in cents by an older release counts in units", async () => {
    const p = purseOf();
    await p.send("open");
    // What the release before the upcaster stored: schema 1, in cents.
    const old = { messageId: "old", correlationId: "old", causationId: "old", service: "deposit" };
    const appended = await p.store.append({
      streamName: "purse-p",
      expectedVersion: 0,
      events: [{ type: "Deposited", data: { cents: 2500 }, metadata: old, schemaVersion: 1 }],
      newVersion: 1,
      principal: "ada",
      messageId: "old",
      fingerprint: "old",
      response: { status: "ok", version: 1 },
    });
    expect(appended.ok).toBe(true);
    const fresh = new AggregateInstance(purse, p.store, { streamName: "purse-p", logger: silentLogger });
    await fresh.execute({ streamName: "purse-p", command: "deposit", message: newMessage("deposit", { rawRequest: { purse: "p", amount: 10 }, assigns: ADA }) });

    expect(past(await fresh.stateAt({ point: { version: 1 } }))).toMatchObject({ version: 1, state: { balance: 25 }, upcastEvents: 1 });
    expect(past(await fresh.stateAt({ point: { version: 2 } }))).toMatchObject({ version: 2, state: { balance: 35 }, upcastEvents: 1 });
    expect(past(await fresh.stateAt({ point: { version: 0 } }))).toMatchObject({ version: 0, state: { balance: 0 }, upcastEvents: 0 });
  });

  it("is not the snapshot's, when a snapshot was taken after that version", async () => {
    const p = purseOf();
    await p.send("open");
    for (let i = 1; i <= 6; i += 1) await p.send("deposit", { amount: i });
    const snapshot = await p.store.latestSnapshot(1);
    expect(snapshot?.version).toBe(5);
    expect(past(await p.lookBack({ version: 2 })).state).toEqual({ owner: "ada", balance: 3 });
    expect(past(await p.lookBack({ version: 5 })).state).toEqual(snapshot?.state);
    expect(past(await p.lookBack({ version: 6 })).state).toEqual({ owner: "ada", balance: 21 });
  });
});

describe("the state at a time", () => {
  it("is that of the last event recorded at or before it", async () => {
    const p = purseOf();
    await p.send("open"); // T0
    await p.send("deposit", { amount: 100 }); // T0 + 1 s
    await p.send("withdraw", { amount: 30 }); // T0 + 2 s
    expect(past(await p.lookBack({ at: at(1) }))).toMatchObject({ version: 1, recordedAt: at(1), state: { balance: 100 } });
    expect(past(await p.lookBack({ at: "2026-12-01T10:00:01.999Z" }))).toMatchObject({ version: 1 });
    // The same instant in another offset.
    expect(past(await p.lookBack({ at: "2026-12-01T11:00:01.500+01:00" }))).toMatchObject({ version: 1 });
    expect(past(await p.lookBack({ at: "2030-01-01T00:00:00Z" }))).toMatchObject({ version: 2, state: { balance: 70 } });
  });

  it("before the first event is refused, saying when the stream began", async () => {
    const p = purseOf();
    await p.send("open");
    expect(await p.lookBack({ at: "2026-12-01T09:59:59Z" })).toEqual({
      status: "error",
      reason: "invalid_request",
      details: `nothing was recorded in this stream at or before 2026-12-01T09:59:59Z: its first event was recorded at ${at(0)}`,
    });
  });
});

describe("a dry run against the state at a version", () => {
  it("answers what the command would have answered then, with the events it would have appended, and stores nothing", async () => {
    const p = purseOf();
    await p.send("open");
    await p.send("deposit", { amount: 100 }); // v1: 100
    await p.send("withdraw", { amount: 80 }); // v2: 20
    const before = await p.store.readEvents(0, 100);

    // Possible at version 1, not now.
    const then = past(await p.lookBack({ version: 1 }, { command: "withdraw", request: { amount: 50 }, id: "dry-then" }));
    expect(then.dryRun).toEqual({ response: { status: "ok", version: 1 }, events: [{ type: "Withdrawn", data: { amount: 50 } }] });
    const now = past(await p.lookBack({ version: 2 }, { command: "withdraw", request: { amount: 50 } }));
    expect(now.dryRun).toEqual({ response: { status: "error", reason: "insufficient_funds", details: { balance: 20 } }, events: [] });
    // And the other way round: refused at version 0, possible now.
    expect(past(await p.lookBack({ version: 0 }, { command: "withdraw", request: { amount: 10 } })).dryRun?.response).toMatchObject({ reason: "insufficient_funds" });
    expect(await p.send("withdraw", { amount: 10 })).toEqual({ status: "ok", version: 3 });

    // Nothing stored by the dry runs: the events are those of the commands, and no record of the dry run's message.
    expect((await p.store.readEvents(0, 100)).slice(0, 3)).toEqual(before);
    expect((await p.store.streamState()).version).toBe(3);
    expect(await p.store.processed("ada", "dry-then")).toBeNull();
  });

  it("keeps the decision's own answer (its payload), at the version it ran at", async () => {
    const p = purseOf();
    await p.send("open");
    await p.send("deposit", { amount: 100 });
    await p.send("deposit", { amount: 1 });
    expect(past(await p.lookBack({ version: 1 }, { command: "balance", request: {} })).dryRun).toEqual({ response: { status: "ok", payload: { balance: 100 }, version: 1 }, events: [] });
  });

  it("runs the command's schema, and the access rule with the caller it runs as", async () => {
    const p = purseOf();
    await p.send("open");
    expect(past(await p.lookBack({ version: 0 }, { command: "deposit", request: { amount: -1 } })).dryRun?.response).toMatchObject({ status: "validation_error" });
    const bob = { identity: { user: "bob" }, principal: "bob" };
    expect(past(await p.lookBack({ version: 0 }, { command: "deposit", request: { amount: 1 }, assigns: bob })).dryRun?.response).toEqual({ status: "error", reason: "not_found" });
    // A creating command: the aggregate existed at that version.
    expect(past(await p.lookBack({ version: 0 }, { command: "open", request: {} })).dryRun?.response).toEqual({ status: "error", reason: "already_exists" });
  });
});

describe("looking back through an aggregate's router", () => {
  const router = (purses: MemoryAggregates<Purse, PurseEvent>) =>
    aggregateRouter(purse, purses, { authorize: (message) => (message.assigns["identity"] === undefined ? "unauthorized" : "ok"), private: ["audit"] });

  async function opened() {
    const purses = new MemoryAggregates(purse, { logger: silentLogger });
    const send = (command: string, request: JsonObject) => purses.execute({}, { streamName: "purse-p", command, message: newMessage(command, { rawRequest: { purse: "p", ...request }, assigns: ADA }) });
    await send("open", {});
    await send("deposit", { amount: 100 });
    await send("withdraw", { amount: 60 });
    return { purses, routes: router(purses) };
  }

  it("judges the caller by the router's authorize first: a refusal is the dry run's answer, and the state is still shown", async () => {
    const { routes } = await opened();
    const anonymous = past(await routes.stateAt({}, "p", { version: 1 }, { command: "withdraw", request: { amount: 50 }, assigns: {} }));
    expect(anonymous).toMatchObject({ version: 1, state: { balance: 100 }, dryRun: { response: { status: "unauthorized" }, events: [] } });
    const ada = past(await routes.stateAt({}, "p", { version: 1 }, { command: "withdraw", request: { amount: 50 }, assigns: ADA }));
    expect(ada.dryRun).toEqual({ response: { status: "ok", version: 1 }, events: [{ type: "Withdrawn", data: { amount: 50 } }] });
  });

  it("fills in the aggregate id, and refuses a request that names another aggregate", async () => {
    const { routes } = await opened();
    expect(past(await routes.stateAt({}, "p", { version: 1 }, { command: "withdraw", request: { amount: 5 }, assigns: ADA })).dryRun?.response).toEqual({ status: "ok", version: 1 });
    expect(await routes.stateAt({}, "p", { version: 1 }, { command: "withdraw", request: { purse: "q", amount: 5 }, assigns: ADA })).toEqual({
      status: "error",
      reason: "invalid_request",
      details: "the request's purse names another aggregate than p",
    });
  });

  it("refuses an unknown command and a private one alike, naming the public commands", async () => {
    const { routes } = await opened();
    for (const command of ["steal", "audit"]) {
      expect(await routes.stateAt({}, "p", { version: 1 }, { command, request: {}, assigns: ADA })).toEqual({
        status: "error",
        reason: "invalid_request",
        details: { problem: `${command} is not a public command of purse`, commands: ["open", "deposit", "withdraw", "balance"] },
      });
    }
  });

  it("refuses a version beyond the stream, a version or time that is not one, and answers not_found for a stream that holds nothing", async () => {
    const { purses, routes } = await opened();
    expect(await routes.stateAt({}, "p", { version: 3 })).toEqual({ status: "error", reason: "invalid_request", details: "version 3 is beyond the stream's last, 2" });
    expect(await routes.stateAt({}, "p", { version: -1 })).toMatchObject({ reason: "invalid_request", details: "version must be a whole number >= 0" });
    expect(await routes.stateAt({}, "p", { at: "yesterday" })).toMatchObject({ reason: "invalid_request", details: expect.stringMatching(/^at must be an RFC 3339 date-time/) });
    expect(await routes.stateAt({}, "nobody", { version: 0 })).toEqual({ status: "error", reason: "not_found" });
    // Asking about a stream that holds nothing leaves nothing behind.
    expect(purses.streamCount).toBe(1);
    expect((await purses.readStream({}, "purse-p", { from: 0, limit: 10 })).version).toBe(2);
  });

  it("replays at most 10,000 events: a point further from the stream's start is refused, saying so", async () => {
    const store = new MemoryStreamStore();
    const metadata = { messageId: "m", correlationId: "m", causationId: "m", service: "deposit" };
    const events = Array.from({ length: 10_001 }, () => ({ type: "Deposited", data: { amount: 1 }, metadata, schemaVersion: 2 }));
    expect((await store.append({ streamName: "purse-p", expectedVersion: -1, events, newVersion: 10_000, principal: "", messageId: "m", fingerprint: "f", response: { status: "ok" } })).ok).toBe(true);
    const instance = new AggregateInstance(purse, store, { streamName: "purse-p", logger: silentLogger });
    expect(await instance.stateAt({ point: { version: 9_999 } })).toMatchObject({ version: 9_999, state: { balance: 10_000 } });
    expect(await instance.stateAt({ point: { version: 10_000 } })).toEqual({
      status: "error",
      reason: "invalid_request",
      details: "looking back replays at most 10000 events from the stream's start: version 10000 is further",
    });
    expect(await instance.stateAt({ point: { at: new Date(Date.now() + 60_000).toISOString() } })).toMatchObject({ reason: "invalid_request", details: expect.stringMatching(/^looking back replays at most 10000 events/) });
  });

  it("refuses any point of a state-based aggregate: it keeps no events to replay", async () => {
    const counter = new Aggregate<{ n: number }, { type: "Counted"; data: { by: number } }>({
      stream: "counter",
      initialState: () => ({ n: 0 }),
      apply: (state, event) => ({ n: state.n + event.data.by }),
      persistence: "state",
    }).command("count", { creates: "if-missing" }, () => ({ type: "Counted", data: { by: 1 } }));
    const counters = new MemoryAggregates(counter, { logger: silentLogger });
    await counters.execute({}, { streamName: "counter-c", command: "count", message: newMessage("count", { rawRequest: { id: "c" } }) });
    const routes = aggregateRouter(counter, counters, { authorize: () => "ok" });
    expect(await routes.stateAt({}, "c", { version: 0 })).toMatchObject({ reason: "invalid_request", details: expect.stringContaining("no past to look back at") });
  });
});
