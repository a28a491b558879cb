import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ledgerHarness } from "../support/aggregate-harness.js";
import { filtered, hookLog, ledger, ledgerTelemetry, stateful, unloading } from "../support/test-aggregates.js";
import { sleep } from "../support/recorders.js";

const ledgers = ledgerHarness(ledger, (e) => e.LEDGER);
const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function openLedger(h = ledgers, owner = "ada") {
  const id = h.freshId();
  const reply = await h.send("open", { id, owner });
  expect(reply.response).toMatchObject({ status: "created", id, version: 0 });
  return id;
}

describe("the request a command's decision gets", () => {
  it("is what the command's schema made, even when that is not JSON (a Date), across the object's boundary", async () => {
    const id = await openLedger();
    const reply = await ledgers.send("date_of", { id, at: "2026-11-27T12:00:00Z" });
    expect(reply.response).toMatchObject({ status: "ok", payload: "2026-11-27T12:00:00.000Z" });
  });
});

describe("creating aggregates", () => {
  it("a creating command answers {created, id, version 0} and stores event 0 in stream <stream>-<id> with the message id", async () => {
    const id = ledgers.freshId();
    const reply = await ledgers.send("open", { id, owner: "ada" }, { id: "msg-open-1", assigns: { tenant: "acme" } });
    expect(reply.response).toEqual({ status: "created", id, version: 0 });
    const page = await ledgers.handlers.readStream(env, id, { from: 0, limit: 10 });
    expect(page.stream).toBe(`ledger-${id}`);
    expect(page.events).toEqual([
      {
        version: 0,
        type: "Opened",
        data: { owner: "ada" },
        metadata: {
          tenant: "acme",
          messageId: "msg-open-1",
          correlationId: "msg-open-1",
          causationId: "msg-open-1",
          service: "open",
          // A message without a trace starts one in the object: every stored event has its span.
          traceparent: expect.stringMatching(/^00-[\da-f]{32}-[\da-f]{16}-01$/),
        },
        recordedAt: expect.any(String),
        schemaVersion: 1,
      },
    ]);
  });

  it("without an id, a creating command takes the message id (a UUIDv7); a command on an existing aggregate answers missing_id", async () => {
    const reply = await ledgers.send("open", { owner: "ada" });
    expect(reply.response).toMatchObject({ status: "created", version: 0 });
    const id = reply.response?.status === "created" ? reply.response.id : "";
    expect(id).toMatch(uuidV7);
    expect(id).toBe(reply.id);
    expect(await ledgers.events(id)).toHaveLength(1);
    // So a retry of the same message reaches the same aggregate and is applied once.
    const retry = await ledgers.send("open", { owner: "ada" }, { id: reply.id });
    expect(retry.response).toEqual(reply.response);
    expect(await ledgers.events(id)).toHaveLength(1);
    expect((await ledgers.send("deposit", { amount: 1 })).response).toEqual({ status: "missing_id", field: "id" });
  });

  it("a new-aggregate command on an id that has events answers already_exists, and nothing more", async () => {
    const id = await openLedger();
    await ledgers.send("deposit", { id, amount: 5 });
    const again = await ledgers.send("open", { id, owner: "bob" });
    expect(again.response).toEqual({ status: "error", reason: "already_exists" });
    expect(await ledgers.events(id)).toHaveLength(2);
    // It answers the same after a restart, when the object knows the id only from its stored events.
    await evictDurableObject(ledgers.stub(id));
    expect((await ledgers.send("open", { id })).response).toEqual({ status: "error", reason: "already_exists" });
  });

  it("a dry run of a new aggregate answers {ok, version -1} and leaves no storage behind", async () => {
    const id = ledgers.freshId();
    expect((await ledgers.send("open", { id }, { dryRun: true })).response).toEqual({ status: "ok", version: -1 });
    const verbose = await ledgers.send("open", { id }, { dryRun: "verbose" });
    expect(verbose.response).toEqual({ status: "ok", payload: [{ type: "Opened", data: { owner: "ada" } }], version: -1 });
    expect(await ledgers.tables(id)).toEqual([]);
  });

  it("a new aggregate whose decision produces no events answers {ok, version -1}; nothing is stored", async () => {
    const id = ledgers.freshId();
    expect((await ledgers.send("open_nothing", { id })).response).toEqual({ status: "ok", version: -1 });
    // Even a decision that says created: nothing was stored, so nothing was created.
    expect((await ledgers.send("create_nothing", { id })).response).toEqual({ status: "ok", version: -1 });
    expect(await ledgers.tables(id)).toEqual([]);
    expect((await ledgers.send("open", { id })).response).toMatchObject({ status: "created", version: 0 });
  });
});

describe("commands on existing aggregates", () => {
  it("a command on an unknown id answers not_found and creates no storage", async () => {
    const id = ledgers.freshId();
    expect((await ledgers.send("deposit", { id, amount: 1 })).response).toEqual({ status: "error", reason: "not_found" });
    expect(await ledgers.tables(id)).toEqual([]);
  });

  it("after a restart the state is rebuilt from the stream and the command runs: {ok, version 1}, stored as event 1", async () => {
    const id = await openLedger();
    await evictDurableObject(ledgers.stub(id));
    expect((await ledgers.send("deposit", { id, amount: 7 })).response).toEqual({ status: "ok", version: 1 });
    expect((await ledgers.events(id)).map((e) => [e.version, e.type])).toEqual([
      [0, "Opened"],
      [1, "Deposited"],
    ]);
    expect((await ledgers.send("balance", { id })).response).toEqual({ status: "ok", payload: { owner: "ada", balance: 7 }, version: 1 });
    expect((await ledgers.stats(id)).loads).toBe(1);
  });

  it("maybe-new creates when missing {created, 0}; no change {ok, 0} and no event; a change {ok, 1}", async () => {
    const id = ledgers.freshId();
    expect((await ledgers.send("ensure", { id, owner: "ada" })).response).toEqual({ status: "created", id, version: 0 });
    expect((await ledgers.send("ensure", { id, owner: "ada" })).response).toEqual({ status: "ok", version: 0 });
    expect((await ledgers.send("ensure", { id, owner: "bob" })).response).toEqual({ status: "ok", version: 1 });
    expect((await ledgers.events(id)).map((e) => e.type)).toEqual(["Opened", "OwnerChanged"]);
    // Without an id, maybe-new answers missing_id unless asked to generate one.
    expect((await ledgers.send("ensure", {})).response).toEqual({ status: "missing_id", field: "id" });
    expect((await ledgers.send("ensure_generating", {})).response).toMatchObject({ status: "created", version: 0 });
  });

  it("a command may produce several events; the version becomes the last event's number", async () => {
    const id = await openLedger();
    expect((await ledgers.send("deposit_twice", { id, amount: 3 })).response).toEqual({ status: "ok", version: 2 });
    expect((await ledgers.events(id)).map((e) => e.version)).toEqual([0, 1, 2]);
    expect((await ledgers.send("balance", { id })).response).toMatchObject({ payload: { balance: 6 }, version: 2 });
  });

  it("the decision sees the version the command runs at; X-Expected-Version is enforced", async () => {
    const id = await openLedger();
    expect((await ledgers.send("seen_version", { id })).response).toEqual({ status: "ok", payload: 0, version: 0 });
    expect((await ledgers.send("deposit", { id, amount: 1 }, { expectedVersion: 0 })).response).toEqual({ status: "ok", version: 1 });
    const stale = await ledgers.send("deposit", { id, amount: 1 }, { expectedVersion: 0 });
    expect(stale.response).toEqual({ status: "error", reason: "wrong_expected_version", details: { expected: 0, actual: 1 } });
    expect(await ledgers.events(id)).toHaveLength(2);
    const fresh = ledgers.freshId();
    expect((await ledgers.send("open", { id: fresh }, { expectedVersion: -1 })).response).toMatchObject({ status: "created" });
  });

  it("an aggregate answers a read (ok with payload and version) without storing anything", async () => {
    const id = await openLedger();
    expect((await ledgers.send("balance", { id })).response).toEqual({ status: "ok", payload: { owner: "ada", balance: 0 }, version: 0 });
    expect(await ledgers.events(id)).toHaveLength(1);
  });

  it("a request that fails the command's schema answers validation_error and stores nothing", async () => {
    const id = await openLedger();
    const reply = await ledgers.send("deposit", { id, amount: "lots" });
    expect(reply.response).toMatchObject({ status: "validation_error", errors: [{ path: "amount" }] });
    expect(await ledgers.events(id)).toHaveLength(1);
  });
});

describe("idempotency", () => {
  it("the same message twice stores one event, and is answered as the first time", async () => {
    const id = await openLedger();
    const first = await ledgers.send("deposit", { id, amount: 5 }, { id: "dep-1" });
    const second = await ledgers.send("deposit", { id, amount: 5 }, { id: "dep-1" });
    expect(first.response).toEqual({ status: "ok", version: 1 });
    expect(second.response).toEqual(first.response);
    expect(await ledgers.events(id)).toHaveLength(2);
  });

  it("holds after the object restarted", async () => {
    const id = await openLedger();
    await ledgers.send("deposit", { id, amount: 5 }, { id: "dep-restart" });
    await evictDurableObject(ledgers.stub(id));
    expect((await ledgers.send("deposit", { id, amount: 5 }, { id: "dep-restart" })).response).toEqual({ status: "ok", version: 1 });
    expect(await ledgers.events(id)).toHaveLength(2);
  });

  it("ten concurrent copies of one message store one event", async () => {
    const id = await openLedger();
    const replies = await Promise.all(Array.from({ length: 10 }, () => ledgers.send("deposit", { id, amount: 1 }, { id: "dep-10" })));
    expect(replies.every((r) => r.response?.status === "ok")).toBe(true);
    expect((await ledgers.events(id)).filter((e) => e.type === "Deposited")).toHaveLength(1);
  });

  it("a rejected withdrawal is remembered too: its retry gets the same error and stores nothing more", async () => {
    const id = await openLedger();
    const first = await ledgers.send("withdraw", { id, amount: 50 }, { id: "wd-1" });
    expect(first.response).toEqual({ status: "error", reason: "insufficient_funds" });
    expect((await ledgers.send("withdraw", { id, amount: 50 }, { id: "wd-1" })).response).toEqual(first.response);
    expect((await ledgers.events(id)).map((e) => e.type)).toEqual(["Opened", "WithdrawalRejected"]);
  });
});

describe("a message id names one command and request of one caller", () => {
  it("reusing an id for another request or command answers idempotency_key_reused and applies nothing", async () => {
    const id = await openLedger();
    const ada = { identity: { user: "ada" }, principal: "ada" };
    await ledgers.send("deposit", { id, amount: 5 }, { id: `pay-${id}`, assigns: ada });
    const reused = { status: "error", reason: "idempotency_key_reused", details: { messageId: `pay-${id}` } };
    expect((await ledgers.send("deposit", { id, amount: 6 }, { id: `pay-${id}`, assigns: ada })).response).toEqual(reused);
    expect((await ledgers.send("withdraw", { id, amount: 5 }, { id: `pay-${id}`, assigns: ada })).response).toEqual(reused);
    // Key order does not make a request different.
    expect((await ledgers.send("deposit", { amount: 5, id }, { id: `pay-${id}`, assigns: ada })).response).toEqual({ status: "ok", version: 1 });
    expect(await ledgers.events(id)).toHaveLength(2);
  });

  it("a dry run with an id already used answers what the call would: its first answer, or the refusal of a reused id", async () => {
    const id = await openLedger();
    const ada = { identity: { user: "ada" }, principal: "ada" };
    await ledgers.send("deposit", { id, amount: 5 }, { id: `dry-${id}`, assigns: ada });
    expect((await ledgers.send("deposit", { id, amount: 5 }, { id: `dry-${id}`, assigns: ada, dryRun: true })).response).toEqual({ status: "ok", version: 1 });
    const reused = { status: "error", reason: "idempotency_key_reused", details: { messageId: `dry-${id}` } };
    expect((await ledgers.send("deposit", { id, amount: 50 }, { id: `dry-${id}`, assigns: ada, dryRun: true })).response).toEqual(reused);
    // A fresh id's dry run is not recorded: the real call with it is applied afterwards.
    expect((await ledgers.send("deposit", { id, amount: 7 }, { id: `next-${id}`, assigns: ada, dryRun: true })).response).toEqual({ status: "ok", version: 1 });
    expect((await ledgers.send("deposit", { id, amount: 7 }, { id: `next-${id}`, assigns: ada })).response).toEqual({ status: "ok", version: 2 });
  });

  it("another caller's use of the same id is their own message: it neither blocks nor reveals the first", async () => {
    const id = await openLedger();
    const ada = { identity: { user: "ada" }, principal: "ada" };
    const bob = { identity: { user: "bob" }, principal: "bob" };
    // Bob uses the id first; Ada's own message with that id is still applied, and answered as hers.
    expect((await ledgers.send("deposit", { id, amount: 1 }, { id: `squat-${id}`, assigns: bob })).response).toEqual({ status: "ok", version: 1 });
    expect((await ledgers.send("deposit", { id, amount: 5 }, { id: `squat-${id}`, assigns: ada })).response).toEqual({ status: "ok", version: 2 });
    expect((await ledgers.send("deposit", { id, amount: 5 }, { id: `squat-${id}`, assigns: ada })).response).toEqual({ status: "ok", version: 2 });
    expect((await ledgers.send("balance", { id })).response).toMatchObject({ payload: { balance: 6 } });
  });
});

describe("dry runs", () => {
  it("a dry run answers {ok, version}, stores nothing, calls rollback and not commit", async () => {
    const id = await openLedger();
    const reply = await ledgers.send("deposit", { id, amount: 5 }, { id: `dry-${id}`, dryRun: true });
    expect(reply.response).toEqual({ status: "ok", version: 0 });
    expect(reply.events).toEqual([]);
    expect(await ledgers.events(id)).toHaveLength(1);
    expect(hookLog).toContain(`rollback dry-${id}`);
    expect(hookLog).not.toContain(`commit dry-${id}`);
    await ledgers.send("deposit", { id, amount: 5 }, { id: `real-${id}` });
    expect(hookLog).toContain(`commit real-${id}`);
    expect(hookLog).not.toContain(`rollback real-${id}`);
  });

  it("a verbose dry run answers {ok, payload: events, version} and stores nothing", async () => {
    const id = await openLedger();
    const reply = await ledgers.send("deposit_twice", { id, amount: 2 }, { dryRun: "verbose" });
    const events = [
      { type: "Deposited", data: { amount: 2 } },
      { type: "Deposited", data: { amount: 2 } },
    ];
    expect(reply.response).toEqual({ status: "ok", payload: events, version: 0 });
    expect(reply.events).toEqual(events);
    expect(await ledgers.events(id)).toHaveLength(1);
    expect((await ledgers.send("balance", { id })).response).toMatchObject({ payload: { balance: 0 } });
  });

  it("a dry run of a failing command answers its error", async () => {
    const id = await openLedger();
    expect((await ledgers.send("withdraw", { id, amount: 9 }, { dryRun: true })).response).toEqual({
      status: "error",
      reason: "insufficient_funds",
    });
    expect(await ledgers.events(id)).toHaveLength(1);
  });
});

describe("failures store nothing", () => {
  it("a decision that throws answers internal_error; nothing is stored and the aggregate keeps working", async () => {
    const id = await openLedger();
    expect((await ledgers.send("throws", { id })).response).toEqual({ status: "error", reason: "internal_error" });
    expect((await ledgers.send("returns_other", { id })).response).toEqual({ status: "error", reason: "internal_error" });
    expect(await ledgers.events(id)).toHaveLength(1);
    expect((await ledgers.send("deposit", { id, amount: 1 })).response).toEqual({ status: "ok", version: 1 });
  });

  it("events that are not JSON answer invalid_event and store nothing", async () => {
    const id = await openLedger();
    for (const command of ["not_json", "undefined_data", "date_data"]) {
      const reply = await ledgers.send(command, { id });
      expect(reply.response).toMatchObject({ status: "error", reason: "invalid_event", details: { type: "Deposited" } });
    }
    expect(await ledgers.events(id)).toHaveLength(1);
  });

  it("an event larger than a storage row answers event_too_large and stores nothing", async () => {
    const id = await openLedger();
    const reply = await ledgers.send("huge", { id });
    expect(reply.response).toMatchObject({ status: "error", reason: "event_too_large", details: { maxBytes: 2_000_000 } });
    expect(await ledgers.events(id)).toHaveLength(1);
    expect((await ledgers.send("deposit", { id, amount: 1 })).response).toEqual({ status: "ok", version: 1 });
  });

  it("ids that are too long or hold control characters answer invalid_id and reach no object", async () => {
    for (const id of ["x".repeat(201), "bad\nid", "tab\tid", "nul\u0000id"]) {
      expect((await ledgers.send("open", { id })).response).toMatchObject({ status: "error", reason: "invalid_id", details: { field: "id" } });
    }
    expect((await ledgers.send("open", { id: "" })).response).toEqual({ status: "missing_id", field: "id" });
  });
});

describe("hooks and telemetry", () => {
  it("a commit hook that throws is logged; the command stays stored and answered", async () => {
    const id = await openLedger();
    const reply = await ledgers.send("deposit", { id, amount: 3 }, { id: `commit-throws-${id}` });
    expect(reply.response).toEqual({ status: "ok", version: 1 });
    expect(hookLog).toContain(`commit commit-throws-${id}`);
    expect(await ledgers.events(id)).toHaveLength(2);
  });

  it("the object emits new_aggr_spawned when it loads an instance, handle_msg before each decision and aggregate_usage after each command", async () => {
    const id = ledgers.freshId();
    const before = ledgerTelemetry.length;
    await ledgers.send("open", { id });
    await ledgers.send("deposit", { id, amount: 1 });
    expect(ledgerTelemetry.slice(before)).toEqual(["new_aggr_spawned", "handle_msg", "aggregate_usage", "handle_msg", "aggregate_usage"]);
  });
});

describe("a command that overruns its deadline (commandTimeoutMs)", () => {
  const h = ledgerHarness(unloading, (e) => e.UNLOADING);

  it("answers service_timeout, frees the queue, and its late result is discarded", async () => {
    const id = await openLedger(h);
    const late = await h.send("late_deposit", { id });
    expect(late.response).toMatchObject({ status: "service_timeout", timeoutMs: 300 });
    expect((await h.send("deposit", { id, amount: 2 })).response).toEqual({ status: "ok", version: 1 });
    await sleep(300);
    expect((await h.events(id)).map((e) => e.data)).toEqual([{ owner: "ada" }, { amount: 2 }]);
  });

  it("a decision that never settles does not block the aggregate", async () => {
    const id = await openLedger(h);
    const [hung, deposit] = await Promise.all([h.send("hang", { id }), h.send("deposit", { id, amount: 1 })]);
    expect(hung.response?.status).toBe("service_timeout");
    expect(deposit.response).toEqual({ status: "ok", version: 1 });
  });
});

describe("one command at a time", () => {
  it("commands are serialised even while a decision awaits I/O", async () => {
    const id = await openLedger();
    // Each decision waits (a timer lets other requests into the object); had two run at once,
    // both would have seen the same version and one append would have been refused.
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => ledgers.send("deposit", { id, amount: 1, delayMs: (i % 3) * 5 })));
    expect(replies.map((r) => r.response?.status)).toEqual(Array(20).fill("ok"));
    const versions = replies.map((r) => (r.response?.status === "ok" ? r.response.version : -1)).sort((a, b) => (a ?? 0) - (b ?? 0));
    expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect((await ledgers.events(id)).map((e) => e.version)).toEqual(Array.from({ length: 21 }, (_, i) => i));
  });
});

describe("snapshots and cold starts", () => {
  it("a cold start loads the newest snapshot and replays only the events after it", async () => {
    const id = await openLedger();
    for (let i = 0; i < 24; i += 1) await ledgers.send("deposit", { id, amount: 1 });
    // 25 events (versions 0-24), a snapshot every 10 events: the newest is at version 19.
    await evictDurableObject(ledgers.stub(id));
    expect((await ledgers.send("balance", { id })).response).toEqual({ status: "ok", payload: { owner: "ada", balance: 24 }, version: 24 });
    const stats = await ledgers.stats(id);
    expect(stats).toMatchObject({ loads: 1, snapshotVersion: 19, replayedEvents: 5, version: 24 });
  });

  it("without a snapshot every event is replayed", async () => {
    const h = ledgerHarness(filtered, (e) => e.FILTERED);
    const id = await openLedger(h);
    for (let i = 0; i < 12; i += 1) await h.send("deposit", { id, amount: 1 });
    await evictDurableObject(h.stub(id));
    await h.send("balance", { id });
    expect(await h.stats(id)).toMatchObject({ snapshotVersion: null, replayedEvents: 13 });
  });
});

describe("beforeAppend", () => {
  it("can keep a rejection event out of the stream while the caller still gets insufficient_funds", async () => {
    const h = ledgerHarness(filtered, (e) => e.FILTERED);
    const id = await openLedger(h);
    expect((await h.send("withdraw", { id, amount: 10 })).response).toEqual({ status: "error", reason: "insufficient_funds" });
    expect((await h.events(id)).map((e) => e.type)).toEqual(["Opened"]);
    // Without the hook (the ledger) the rejection is stored.
    const plain = await openLedger();
    await ledgers.send("withdraw", { id: plain, amount: 10 });
    expect((await ledgers.events(plain)).map((e) => e.type)).toEqual(["Opened", "WithdrawalRejected"]);
  });
});

describe("state-based aggregates", () => {
  const h = ledgerHarness(stateful, (e) => e.STATEFUL);

  it("saves the state with its version instead of events, and reloads it after a restart", async () => {
    const id = await openLedger(h);
    await h.send("deposit", { id, amount: 250 });
    expect(await h.events(id)).toEqual([]);
    const saved = await runInDurableObject(h.stub(id), (_instance, state) =>
      state.storage.sql.exec<{ state: string }>("SELECT state FROM stream").one().state,
    );
    expect(JSON.parse(saved)).toEqual({ owner: "ada", balance: 250, format: "v1" });
    await evictDurableObject(h.stub(id));
    expect((await h.send("deposit", { id, amount: 100 })).response).toEqual({ status: "ok", version: 2 });
    expect((await h.send("balance", { id })).response).toEqual({ status: "ok", payload: { owner: "ada", balance: 350 }, version: 2 });
    expect((await h.stats(id)).replayedEvents).toBe(0);
  });

  it("a dry run leaves the saved state unchanged; idempotency holds", async () => {
    const id = await openLedger(h);
    await h.send("deposit", { id, amount: 10 }, { id: "st-1" });
    await h.send("deposit", { id, amount: 10 }, { id: "st-1" });
    await h.send("deposit", { id, amount: 99 }, { dryRun: true });
    await evictDurableObject(h.stub(id));
    expect((await h.send("balance", { id })).response).toMatchObject({ payload: { balance: 10 }, version: 1 });
  });
});

describe("unload rules", () => {
  const h = ledgerHarness(unloading, (e) => e.UNLOADING);

  it("an event rule drops the in-memory state after its delay; the next command reloads it", async () => {
    const id = await openLedger(h);
    await h.send("deposit", { id, amount: 5 });
    await h.send("withdraw", { id, amount: 1 });
    expect(await h.stats(id)).toMatchObject({ loads: 1, loaded: true });
    await sleep(40);
    expect((await h.send("balance", { id })).response).toMatchObject({ payload: { balance: 4 } });
    expect((await h.stats(id)).loads).toBe(2);
  });

  it("the state rule unloads now, later, or keeps the state; a throwing rule keeps it", async () => {
    const leaver = await openLedger(h, "leaver");
    expect(await h.stats(leaver)).toMatchObject({ loaded: false, loads: 1 });

    const rich = await openLedger(h);
    await h.send("deposit", { id: rich, amount: 1000 });
    expect((await h.stats(rich)).loaded).toBe(true);
    await sleep(40);
    await h.send("balance", { id: rich });
    expect((await h.stats(rich)).loads).toBe(2);

    const odd = await openLedger(h);
    await h.send("deposit", { id: odd, amount: 13 });
    await sleep(40);
    await h.send("balance", { id: odd });
    expect(await h.stats(odd)).toMatchObject({ loaded: true, loads: 1 });
  });
});

describe("deleting streams", () => {
  it("soft: the aggregate answers not_found, its events are kept, its id cannot be opened again", async () => {
    const id = await openLedger();
    await ledgers.send("deposit", { id, amount: 5 });
    const wrong = await ledgers.handlers.deleteStream(env, id, { mode: "soft", expectedVersion: 0 });
    expect(wrong).toEqual({ status: "error", reason: "wrong_expected_version", details: { expected: 0, actual: 1 } });
    expect(await ledgers.handlers.deleteStream(env, id, { mode: "soft", expectedVersion: 1 })).toEqual({ status: "ok" });
    expect((await ledgers.send("deposit", { id, amount: 5 })).response).toEqual({ status: "error", reason: "not_found" });
    expect((await ledgers.send("ensure", { id })).response).toEqual({ status: "error", reason: "not_found" });
    expect((await ledgers.send("open", { id })).response).toEqual({ status: "error", reason: "already_exists" });
    const page = await ledgers.handlers.readStream(env, id, { from: 0, limit: 10 });
    expect(page.status).toBe("deleted");
    expect(page.events).toHaveLength(2);
    await evictDurableObject(ledgers.stub(id));
    expect((await ledgers.send("balance", { id })).response).toEqual({ status: "error", reason: "not_found" });
  });

  it("hard: the storage is removed, what went is reported, and the id starts afresh", async () => {
    const id = await openLedger();
    await ledgers.send("deposit", { id, amount: 5 });
    expect(await ledgers.handlers.deleteStream(env, id, { mode: "hard" })).toEqual({
      status: "ok",
      payload: { deletedAt: expect.any(String), events: 2, snapshots: 0, idempotencyRecords: 2, outbox: 0, followUps: 0, alarm: false },
    });
    expect(await ledgers.tables(id)).toEqual([]);
    expect((await ledgers.send("balance", { id })).response).toEqual({ status: "error", reason: "not_found" });
    expect((await ledgers.send("open", { id, owner: "bob" })).response).toEqual({ status: "created", id, version: 0 });
    expect((await ledgers.send("balance", { id })).response).toMatchObject({ payload: { owner: "bob", balance: 0 } });
  });

  it("deleting a stream that does not exist answers not_found", async () => {
    expect(await ledgers.handlers.deleteStream(env, ledgers.freshId(), { mode: "soft" })).toEqual({ status: "error", reason: "not_found" });
    expect(await ledgers.handlers.deleteStream(env, ledgers.freshId(), { mode: "hard" })).toEqual({ status: "error", reason: "not_found" });
  });
});

describe("the object's own protocol refuses bad requests", () => {
  it("garbage, a foreign stream, or a stream the object does not hold get 400, never a crash", async () => {
    const id = await openLedger();
    const stub = ledgers.stub(id);
    const post = (body: string) => stub.fetch("https://aggregate.x3m/command", { method: "POST", body, headers: { "Content-Type": "application/json" } });
    const notJson = await post("not json");
    expect({ status: notJson.status, body: await notJson.json() }).toEqual({ status: 400, body: { error: "request: the body is not JSON" } });
    const empty = await post("{}");
    expect({ status: empty.status, body: await empty.json() }).toEqual({ status: 400, body: { error: expect.stringMatching(/^streamName: /) } });
    const request = (streamName: string) =>
      JSON.stringify({ streamName, command: "deposit", mode: "existing", message: { serviceName: "x" } });
    expect((await post(request(`ledger-${id}`))).status).toBe(400);
    const wellFormed = (streamName: string) =>
      JSON.stringify({
        streamName,
        command: "balance",
        mode: "existing",
        message: {
          serviceName: "balance", id: "m", correlationId: "m", causationId: "m", invokedAt: "2026-01-01T00:00:00.000Z",
          trace: {}, dryRun: false, rawRequest: null, request: null, valid: true, assigns: {}, response: null,
          events: [], aggregateMeta: {}, halted: false,
        },
      });
    expect((await post(wellFormed("account-1"))).status).toBe(400);
    expect((await post(wellFormed("ledger-someone-else"))).status).toBe(400);
    expect((await post(wellFormed(`ledger-${id}`))).status).toBe(200);
    expect((await stub.fetch("https://aggregate.x3m/nowhere")).status).toBe(404);
  });
});
