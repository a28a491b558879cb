import { afterEach, describe, expect, it } from "vitest";
import {
  aggregateRouter,
  EVERY_OWNER,
  MemoryScheduler,
  newMessage,
  ok,
  projectedEvent,
  projection,
  silentLogger,
  statement,
  SubscriptionRunner,
  sweep,
  type ErasureReceipt,
  type ProjectedEvent,
  type Subscriber,
} from "../../../src/core/index.js";
import { envelopeOf } from "../../../src/core/readside/event-envelope.js";
import { eraseAggregate } from "../../../src/core/readside/erasure.js";
import type { Delivery } from "../../../src/core/readside/subscription-runner.js";
import type { ErrorResponse } from "../../../src/core/messaging/response.js";
import { account, type AccountEvent } from "../../../examples/bank/account.js";
import { accountsView, bankTotals } from "../../../examples/bank/read-models.js";
import { transferManager } from "../../../examples/bank/transfer-process.js";
import { closeBanks, memoryBank } from "./memory-bank.js";

afterEach(closeBanks);

const schedulers: MemoryScheduler[] = [];
afterEach(() => {
  for (const scheduler of schedulers.splice(0)) scheduler.close();
});

/** A scheduler that delivers nothing (its entries are due in an hour). */
function scheduler(): MemoryScheduler {
  const made = new MemoryScheduler({ logger: silentLogger, dispatch: async (message) => ok(message) });
  schedulers.push(made);
  return made;
}

/** The owners each account was opened by: a projection with no erase hook. */
const ownersDefinition = {
  name: "owners",
  streams: ["account"],
  on: { AccountOpened: (e: ProjectedEvent<Extract<AccountEvent, { type: "AccountOpened" }>>) => statement`INSERT INTO owners (id, owner) VALUES (${e.aggregateId}, ${e.data.owner})` },
  reset: [statement`DELETE FROM owners`],
};
const owners = projection<AccountEvent>(ownersDefinition);

/** A bank with `accountsView`, `bankTotals`, the transfer manager and (when asked) `owners`. */
function bank(extra: Subscriber[] = []) {
  const made = memoryBank({ subscribers: (processes) => [accountsView, bankTotals, transferManager(() => processes), ...extra] });
  made.db.exec("CREATE TABLE owners (id TEXT PRIMARY KEY, owner TEXT NOT NULL)");
  const router = aggregateRouter(account, made.accounts, { authorize: () => "ok" });
  const erase = (id: string, more: { scheduler?: MemoryScheduler } = {}) =>
    eraseAggregate(made.runner, {}, { aggregate: router, id, by: { via: "code", operator: "test" }, reason: "request 42", ...more }, silentLogger);
  /** Rows of the read side's own tables naming `streamName`. */
  const readSideRows = async (streamName: string) => {
    const count = async (table: string) => (await made.store.query<{ n: number }>({ sql: `SELECT count(*) AS n FROM ${table} WHERE stream = ?`, params: [streamName] }))[0]?.n;
    return { checkpoints: await count("x3m_checkpoints"), catalog: await count("x3m_streams"), usage: await count("x3m_stream_usage"), deadLetters: await count("x3m_dead_letters") };
  };
  const accountIds = async () => (await made.store.query<{ id: string }>(statement`SELECT id FROM bank_accounts ORDER BY id`)).map((row) => row.id);
  return { ...made, router, erase, readSideRows, accountIds };
}

/** The receipt, or the test fails saying what came instead. */
function receiptOf(answer: ErasureReceipt | ErrorResponse): ErasureReceipt {
  if ("status" in answer) throw new Error(`expected a receipt, got ${JSON.stringify(answer)}`);
  return answer;
}

/** Every event of `streamName` as the queue carried it. */
async function envelopes(made: ReturnType<typeof bank>, streamName: string) {
  const page = await made.accounts.readStream({}, streamName, { from: 0, limit: 100 });
  return page.events.map((event) => envelopeOf(projectedEvent("account", streamName, event), event.recordedAt).envelope);
}

describe("erasing an aggregate (in memory, on Node)", () => {
  it("removes its stream, its schedules, its rows in every projection that handles erasure and its read side rows, and says so in the receipt", async () => {
    const made = bank();
    await made.call("open_account", { account_id: "a" });
    await made.call("deposit", { account_id: "a", amount: 40 });
    await made.call("open_account", { account_id: "b" });
    await made.settle();
    await made.store.deadLetter({ subscriber: "bank_accounts", streamName: "account-a", version: 1, error: "boom", attempts: 5, envelope: { amount: 40 }, recordedAt: "2026-01-01T00:00:00.000Z" });
    const schedules = scheduler();
    await schedules.schedule({}, { key: "a", message: newMessage("deposit", { rawRequest: { account_id: "a", amount: 1 } }), spec: { inMs: 3_600_000 } });
    await schedules.schedule({}, { key: "b", message: newMessage("deposit", { rawRequest: { account_id: "b", amount: 1 } }), spec: { inMs: 3_600_000 } });

    const receipt = receiptOf(await made.erase("a", { scheduler: schedules }));

    expect(receipt).toMatchObject({
      stream: "account",
      streamName: "account-a",
      by: { via: "code", operator: "test" },
      reason: "request 42",
      complete: true,
      // In memory the aggregate's client does not say what it removed.
      object: { found: true, removed: null },
      schedules: [{ key: "a", cancelled: 1 }],
      subscribers: [
        { name: "bank_accounts", kind: "projection", outcome: "erased", statements: 1 },
        { name: "bank_totals", kind: "projection", outcome: "erased", statements: 0 },
      ],
      // Two projections' checkpoints; no usage row in memory (the outbox records none there).
      readSide: { checkpoints: 2, catalog: 1, usage: 0, deadLetters: 1 },
    });
    expect(receipt.erasureId).toMatch(/^[0-9a-f-]{36}$/);
    // Nothing of what was erased: not the amount, not the owner (ids and times left aside, they may hold any digits).
    expect(JSON.stringify({ ...receipt, erasureId: "", erasedAt: "" })).not.toMatch(/40|ada|owner|amount|balance/);
    expect(await made.accountIds()).toEqual(["b"]);
    expect(await made.readSideRows("account-a")).toEqual({ checkpoints: 0, catalog: 0, usage: 0, deadLetters: 0 });
    expect((await made.accounts.readStream({}, "account-a", { from: 0, limit: 10 })).status).toBe("missing");
    expect(await schedules.list({}, "a", EVERY_OWNER)).toEqual([]);
    expect(await schedules.list({}, "b", EVERY_OWNER)).toHaveLength(1);
    // The audit log keeps the receipt.
    expect(await made.store.erasures({ streamName: "account-a", limit: 10 })).toEqual([receipt]);
    // Another account is untouched.
    expect(await made.readSideRows("account-b")).toMatchObject({ checkpoints: 2, catalog: 1 });
  });

  it("answers the same receipt when erased again, and not_found for an id nothing was ever stored under", async () => {
    const made = bank();
    await made.call("open_account", { account_id: "a" });
    await made.settle();
    const first = receiptOf(await made.erase("a"));
    expect(await made.erase("a")).toEqual(first);
    expect(await made.erase("never")).toEqual({ status: "error", reason: "not_found" });
    expect(await made.store.erasures({ limit: 10 })).toEqual([first]);
  });

  it("drops the erased stream's events still in flight, and projects an aggregate opened again under its id from its first event", async () => {
    const made = bank();
    await made.call("open_account", { account_id: "a" });
    await made.call("deposit", { account_id: "a", amount: 40 });
    await made.settle();
    const inFlight = await envelopes(made, "account-a");
    receiptOf(await made.erase("a"));

    // The queue delivers the erased stream's events again (a redelivery, a late copy).
    const deliveries: Delivery[] = inFlight.map((body, index) => ({ id: `late-${index}`, attempts: 1, body }));
    expect(await made.runner.deliver(deliveries, made.scope)).toEqual(deliveries.map(() => ({ kind: "ack" })));
    expect(await made.accountIds()).toEqual([]);
    expect(await made.readSideRows("account-a")).toEqual({ checkpoints: 0, catalog: 0, usage: 0, deadLetters: 0 });

    // The same id, opened again: a new aggregate, projected from its version 0.
    await new Promise((resolve) => setTimeout(resolve, 2));
    expect(await made.call("open_account", { account_id: "a" })).toMatchObject({ status: "created", version: 0 });
    await made.call("deposit", { account_id: "a", amount: 7 });
    await made.settle();
    expect(await made.store.query(statement`SELECT id, balance, version FROM bank_accounts`)).toEqual([{ id: "a", balance: 7, version: 1 }]);
  });

  it("drops the erased stream's events even when another stream of the batch is redone after a conflict", async () => {
    const made = bank();
    await made.call("open_account", { account_id: "a" });
    await made.settle();
    const inFlight = await envelopes(made, "account-a");
    receiptOf(await made.erase("a"));
    await made.call("open_account", { account_id: "c" });
    const [opened] = await envelopes(made, "account-c");
    // Another consumer applies c's event to bank_accounts just before this batch commits: its unit conflicts, and c is redone alone.
    let raced = false;
    const store = new Proxy(made.store, {
      get(target, property) {
        if (property !== "commit") {
          const value: unknown = Reflect.get(target, property);
          return typeof value === "function" ? value.bind(target) : value;
        }
        return async (...args: Parameters<typeof target.commit>) => {
          if (!raced) {
            raced = true;
            await target.commit([{ subscriber: "bank_accounts", streamName: "account-c", expected: -1, version: 0, statements: [] }]);
          }
          return target.commit(...args);
        };
      },
    });
    const runner = new SubscriptionRunner({ subscribers: made.runner.subscribers, store, logger: silentLogger });
    const deliveries: Delivery[] = [...inFlight, opened].map((body, index) => ({ id: `d-${index}`, attempts: 1, body }));
    expect(await runner.deliver(deliveries, made.scope)).toEqual(deliveries.map(() => ({ kind: "ack" })));
    expect(raced).toBe(true);
    expect(await made.accountIds()).toEqual([]);
  });

  it("refuses the commit of events read before an erasure that overtook them, and takes the events recorded after it", async () => {
    const made = bank();
    await made.call("open_account", { account_id: "a" });
    await made.settle();
    const receipt = receiptOf(await made.erase("a"));
    const unit = (firstRecordedAt: string) => ({
      subscriber: "bank_accounts",
      streamName: "account-a",
      expected: -1,
      version: 0,
      statements: [statement`INSERT INTO bank_accounts (id, owner, balance, status, opened_at, updated_at, version) VALUES ('a', 'ada', 0, 'open', '', '', 0)`],
      firstRecordedAt,
    });
    expect(await made.store.commit([unit(receipt.erasedAt)])).toEqual([{ ok: false, conflict: true }]);
    expect(await made.accountIds()).toEqual([]);
    // Committed one by one too (a batch whose other unit fails): the overtaken unit is still refused.
    const broken = { subscriber: "bank_totals", streamName: "account-z", expected: -1, version: 0, statements: [statement`UPDATE nowhere SET x = 1`] };
    expect(await made.store.commit([unit(receipt.erasedAt), broken])).toEqual([
      { ok: false, conflict: true },
      { ok: false, conflict: false, error: expect.stringContaining("no such table") },
    ]);
    expect(await made.accountIds()).toEqual([]);
    const later = new Date(Date.parse(receipt.erasedAt) + 1).toISOString();
    expect(await made.store.commit([unit(later)])).toEqual([{ ok: true }]);
    expect(await made.accountIds()).toEqual(["a"]);
  });

  it("names a projection without an erase hook as not handling erasure, and leaves its rows", async () => {
    const made = bank([owners]);
    await made.call("open_account", { account_id: "a" });
    await made.settle();
    const receipt = receiptOf(await made.erase("a"));
    expect(receipt.complete).toBe(true);
    expect(receipt.subscribers).toContainEqual({ name: "owners", kind: "projection", outcome: "not_handled", statements: 0 });
    expect(await made.store.query(statement`SELECT id, owner FROM owners`)).toEqual([{ id: "a", owner: "ada" }]);
    expect(await made.accountIds()).toEqual([]);
    // Its checkpoint goes all the same: an account opened again under the id starts at version 0.
    expect(await made.readSideRows("account-a")).toMatchObject({ checkpoints: 0 });
    // Erased again unchanged: the same receipt.
    expect(await made.erase("a")).toEqual(receipt);

    // Given a hook, erasing again runs it.
    const handled = projection<AccountEvent>({ ...ownersDefinition, erase: (notice) => statement`DELETE FROM owners WHERE id = ${notice.aggregateId}` });
    const runner = new SubscriptionRunner({ subscribers: [accountsView, bankTotals, handled], store: made.store, logger: silentLogger });
    const again = receiptOf(await eraseAggregate(runner, {}, { aggregate: made.router, id: "a", by: { via: "code" } }, silentLogger));
    expect(again.erasureId).not.toBe(receipt.erasureId);
    expect(again).toMatchObject({ complete: true, object: { found: false } });
    expect(again.subscribers).toContainEqual({ name: "owners", kind: "projection", outcome: "erased", statements: 1 });
    expect(await made.store.query(statement`SELECT id FROM owners`)).toEqual([]);
  });

  it("says which subscriber failed, erases the rest, and completes when erased again once the cause is fixed", async () => {
    const archive: Subscriber = {
      name: "archive",
      streams: ["account"],
      handle: () => [],
      reset: () => [],
      erase: (notice) => [statement`DELETE FROM archive WHERE id = ${notice.aggregateId}`],
    };
    const made = bank([archive]);
    await made.call("open_account", { account_id: "a" });
    await made.settle();

    const first = receiptOf(await made.erase("a"));
    expect(first.complete).toBe(false);
    expect(first.subscribers).toContainEqual({ name: "archive", kind: "other", outcome: "failed", statements: 1, error: expect.stringContaining("no such table") });
    expect(first.subscribers).toContainEqual({ name: "bank_accounts", kind: "projection", outcome: "erased", statements: 1 });
    expect(await made.accountIds()).toEqual([]);

    made.db.exec("CREATE TABLE archive (id TEXT PRIMARY KEY)");
    const second = receiptOf(await made.erase("a"));
    expect(second).toMatchObject({ complete: true, object: { found: false, removed: null } });
    expect(second.erasureId).not.toBe(first.erasureId);
    expect(second.subscribers).toContainEqual({ name: "archive", kind: "other", outcome: "erased", statements: 1 });
    // Now a retry answers the complete receipt.
    expect(await made.erase("a")).toEqual(second);
    expect((await made.store.erasures({ streamName: "account-a", limit: 10 })).map((r) => r.erasureId)).toEqual([second.erasureId, first.erasureId]);
  });

  it("records a hook that throws as failed", async () => {
    const broken: Subscriber = { name: "broken", streams: ["account"], handle: () => [], reset: () => [], erase: () => { throw new Error("no way"); } };
    const made = bank([broken]);
    await made.call("open_account", { account_id: "a" });
    await made.settle();
    const receipt = receiptOf(await made.erase("a"));
    expect(receipt.complete).toBe(false);
    expect(receipt.subscribers).toContainEqual({ name: "broken", kind: "other", outcome: "failed", statements: 0, error: "no way" });
  });
});

describe("an aggregate opened again while its erasure runs", () => {
  it("the new stream's rows reach the read models through the next sweep, though the erasure's batch removed what the consumer had seen of it", async () => {
    const bank = memoryBank({ subscribers: (processes) => [accountsView, bankTotals, transferManager(() => processes)] });
    await bank.call("open_account", { account_id: "again" }, "ada");
    await bank.call("deposit", { account_id: "again", amount: 40 }, "ada");
    await bank.settle();
    const accounts = aggregateRouter(account, bank.accounts, { authorize: () => "ok" });
    // A subscriber whose erase hook takes a while (a remote call): meanwhile the account is opened
    // again under its id — a new stream, whose events the consumer takes for the old stream's (its
    // checkpoint still stands) — a few milliseconds after the erasure's instant.
    const slow: Subscriber = {
      name: "slow_hook",
      streams: ["account"],
      handle: () => [],
      reset: () => [],
      erase: async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        await bank.call("open_account", { account_id: "again" }, "bob");
        await bank.call("deposit", { account_id: "again", amount: 7 }, "bob");
        await bank.settle();
        return [];
      },
    };
    const runner = new SubscriptionRunner({ subscribers: [...bank.runner.subscribers, slow], store: bank.store, logger: silentLogger });
    expect(await eraseAggregate(runner, {}, { aggregate: accounts, id: "again", by: { via: "code" } }, silentLogger)).toMatchObject({ stream: "account", complete: true });
    expect((await bank.accounts.readStream({}, "account-again", { from: 0, limit: 10 })).events.map((e) => e.type)).toEqual(["AccountOpened", "MoneyDeposited"]);

    await sweep(bank.runner, bank.scope, { quietMs: 0, logger: silentLogger });
    expect(await bank.store.query(statement`SELECT id, owner, balance FROM bank_accounts WHERE id = 'again'`)).toEqual([{ id: "again", owner: "bob", balance: 7 }]);
  });

  it("an erasure that cannot look whether the aggregate was opened again meanwhile still answers its receipt (erasing again would remove a new aggregate)", async () => {
    const bank = memoryBank();
    await bank.call("open_account", { account_id: "looked" }, "ada");
    await bank.settle();
    const router = aggregateRouter(account, bank.accounts, { authorize: () => "ok" });
    let reads = 0;
    // The stream's read fails (an overloaded object, the network) once the hard delete is done.
    const aggregate = {
      stream: router.stream,
      deleteStream: (env: unknown, id: string, options: { mode: "soft" | "hard" }) => router.deleteStream(env, id, options),
      readStream: () => {
        reads += 1;
        return Promise.reject(new Error("the object is overloaded"));
      },
    };
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (message: string) => void warnings.push(message) };
    expect(await eraseAggregate(bank.runner, {}, { aggregate, id: "looked", by: { via: "code" } }, logger)).toMatchObject({ stream: "account", complete: true });
    expect(reads).toBe(1);
    expect(warnings).toEqual(["erasure: could not look whether the aggregate was opened again meanwhile"]);
  });
});
