import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { projectedEvent, projection, silentLogger, statement, type ErasureReceipt, type JsonObject } from "../../src/core/index.js";
import { envelopeOf, type EventEnvelope } from "../../src/core/readside/event-envelope.js";
import { newId } from "../../src/core/shared/ids.js";
import { createGateway, readSide } from "../../src/worker/index.js";
import type { AccountEvent } from "../../examples/bank/account.js";
import { bankReadSide } from "../../examples/bank/read-side.js";
import { accountsView, bankTotals } from "../../examples/bank/read-models.js";
import { bank, transferServices } from "../../examples/bank/services.js";
import type { Env } from "../../examples/env.js";
import { call, eventually, openAccount } from "../support/read-side-helpers.js";
import { lostEvents } from "../support/test-read-side.js";

const ADMIN = { Authorization: "Bearer dev-admin" };
const demo = (path: string, init?: RequestInit) => exports.default.fetch(`http://demo${path}`, { redirect: "manual", ...init });

afterEach(() => {
  lostEvents.on = false;
});

/** `POST /v1/streams/:stream/:id/erase` as the admin (or with `headers`), with `body`. */
async function erase(stream: string, id: string, body: unknown = {}, headers: Record<string, string> = ADMIN) {
  const answer = await demo(`/v1/streams/${stream}/${encodeURIComponent(id)}/erase`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "Content-Type": "application/json", ...headers },
  });
  return { status: answer.status, body: (await answer.json()) as ErasureReceipt & { response?: JsonObject } };
}

/** Rows of a D1 query. */
async function rows<Row = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<Row[]> {
  return (await env.READ_MODELS.prepare(sql).bind(...params).all<Row>()).results;
}

/** How many rows each of the read side's own tables holds of `streamName`. */
async function readSideRows(streamName: string) {
  const count = async (table: string) => (await rows<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE stream = ?`, streamName))[0]?.n;
  return { checkpoints: await count("x3m_checkpoints"), catalog: await count("x3m_streams"), usage: await count("x3m_stream_usage"), deadLetters: await count("x3m_dead_letters") };
}

/** The tables an aggregate object's SQLite database holds (the runtime's own left out), and its alarm. */
function objectStorage(namespace: DurableObjectNamespace, name: string) {
  return runInDurableObject(namespace.get(namespace.idFromName(name)), async (_object, state) => ({
    tables: state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .toArray()
      .map((row) => row.name)
      .filter((table) => !table.startsWith("_cf")),
    alarm: await state.storage.getAlarm(),
  }));
}

/** Every event of an account, as envelopes the queue could still be carrying. */
async function envelopesOf(id: string): Promise<EventEnvelope[]> {
  const page = await bank.readStream(env, id, { from: 0, limit: 100 });
  return page.events.map((event) => envelopeOf(projectedEvent("account", `account-${id}`, event), event.recordedAt).envelope);
}

/** The pending schedules on `key`, as the admin sees them. */
async function schedulesOn(key: string): Promise<unknown[]> {
  return ((await (await demo(`/v1/schedules?key=${encodeURIComponent(key)}`, { headers: ADMIN })).json()) as { schedules: unknown[] }).schedules;
}

/**
 * An account of ada's with 100 deposited and 30 withdrawn, projected by both bank projections and
 * recorded in the catalog with its usage, with a dead letter and a deposit scheduled on its key.
 */
async function adasFullAccount(): Promise<string> {
  const id = await openAccount("ada", 100);
  expect((await call("withdraw", { account_id: id, amount: 30 })).status).toBe(200);
  const streamName = `account-${id}`;
  await eventually(() => readSideRows(streamName), (found) => found.checkpoints === 2 && found.catalog === 1 && found.usage === 1);
  await eventually(
    () => rows<{ subscriber: string; version: number }>("SELECT subscriber, version FROM x3m_checkpoints WHERE stream = ?", streamName),
    (found) => found.length === 2 && found.every((row) => row.version === 2),
  );
  expect(await rows("SELECT balance FROM bank_accounts WHERE id = ?", id)).toEqual([{ balance: 70 }]);
  const [latest] = await envelopesOf(id);
  await bankReadSide.store(env).deadLetter({ subscriber: "bank_accounts", streamName, version: 0, error: "a bug since fixed", attempts: 5, envelope: latest as unknown as JsonObject, recordedAt: new Date().toISOString() });
  const scheduled = await demo("/v1/schedules", {
    method: "POST",
    body: JSON.stringify({ service: "deposit", request: { account_id: id, amount: 5 }, key: id, in: 3_600_000 }),
    headers: { Authorization: "Bearer dev-ada" },
  });
  expect(scheduled.status).toBe(202);
  return id;
}

describe("erasing an aggregate on request (POST /v1/streams/:stream/:id/erase)", () => {
  it("removes an account from everywhere the library keeps it, and answers a receipt naming every place and no erased data", async () => {
    const id = await adasFullAccount();
    const streamName = `account-${id}`;

    const { status, body: receipt } = await erase("account", id, { operator: "Grace", reason: "request 42" });

    expect(status).toBe(200);
    expect(receipt).toEqual({
      erasureId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      stream: "account",
      streamName,
      erasedAt: expect.any(String),
      by: { via: "api", operator: "Grace" },
      reason: "request 42",
      complete: true,
      object: {
        found: true,
        // Opened, deposited, withdrawn: three events and three idempotency records; the outbox sent them all.
        removed: { deletedAt: receipt.erasedAt, events: 3, snapshots: 0, idempotencyRecords: 3, outbox: 0, followUps: 0, alarm: expect.any(Boolean) },
      },
      schedules: [{ key: id, cancelled: 1 }],
      subscribers: [
        { name: "bank_accounts", kind: "projection", outcome: "erased", statements: 1 },
        { name: "bank_totals", kind: "projection", outcome: "erased", statements: 0 },
      ],
      readSide: { checkpoints: 2, catalog: 1, usage: 1, deadLetters: 1 },
    });
    expect(JSON.stringify(receipt)).not.toMatch(/owner|balance|amount|"ada"/);

    // Nothing of it is left: the object's storage, its alarm, the read side's rows, the read model's row, the schedule.
    expect(await objectStorage(env.ACCOUNTS, streamName)).toEqual({ tables: [], alarm: null });
    expect(await readSideRows(streamName)).toEqual({ checkpoints: 0, catalog: 0, usage: 0, deadLetters: 0 });
    expect(await rows("SELECT id FROM bank_accounts WHERE id = ?", id)).toEqual([]);
    expect(await schedulesOn(id)).toEqual([]);
    // The audit log keeps the receipt.
    const logged = await (await demo(`/v1/streams/account/${id}/erasures`, { headers: ADMIN })).json();
    expect(logged).toEqual({ erasures: [receipt] });
  });

  it("answers the same receipt when asked again, and 404 for an id nothing was ever stored under", async () => {
    const id = await openAccount("ada", 5);
    const first = await erase("account", id);
    expect(first.status).toBe(200);
    const again = await erase("account", id);
    expect(again).toEqual(first);
    expect(await erase("account", `never-${newId()}`)).toEqual({ status: 404, body: { response: { status: "error", reason: "not_found" } } });
  });

  it("answers a command to the erased id as for an unknown id, and projects an account opened again under it from its first event", async () => {
    const id = await openAccount("ada", 40);
    await eventually(() => rows("SELECT id FROM bank_accounts WHERE id = ?", id), (found) => found.length === 1);
    expect((await erase("account", id)).status).toBe(200);

    expect(await call("deposit", { account_id: id, amount: 1 })).toMatchObject({ status: 404, body: { response: { status: "error", reason: "not_found" } } });
    expect((await call("get_account", { account_id: id }, "root")).body.response).toEqual({ status: "error", reason: "not_found" });

    expect((await call("open_account", { account_id: id }, "bob")).body.response).toEqual({ status: "created", id, version: 0 });
    expect((await call("deposit", { account_id: id, amount: 7 }, "bob")).status).toBe(200);
    const projected = await eventually(
      () => rows<{ owner: string; balance: number; version: number }>("SELECT owner, balance, version FROM bank_accounts WHERE id = ?", id),
      (found) => found[0]?.version === 1,
    );
    expect(projected).toEqual([{ owner: "bob", balance: 7, version: 1 }]);
  });

  it("drops the erased account's events still on the queue: its read model row does not come back", async () => {
    const id = await openAccount("ada", 40);
    await eventually(() => rows("SELECT id FROM bank_accounts WHERE id = ?", id), (found) => found.length === 1);
    const inFlight = await envelopesOf(id);
    expect((await erase("account", id)).status).toBe(200);

    const batch = createMessageBatch(
      "x3m-bank-events",
      inFlight.map((body) => ({ id: newId(), timestamp: new Date(), attempts: 1, body })),
    );
    const ctx = createExecutionContext();
    await bankReadSide.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toHaveLength(inFlight.length);
    expect(result.retryMessages).toEqual([]);
    expect(await rows("SELECT id FROM bank_accounts WHERE id = ?", id)).toEqual([]);
    expect(await readSideRows(`account-${id}`)).toEqual({ checkpoints: 0, catalog: 0, usage: 0, deadLetters: 0 });
  });

  it("takes a transfer's pending follow-up and its alarm with its storage", async () => {
    const from = await openAccount("ada", 10);
    const to = await openAccount("bob");
    // Its event never reaches the process manager: the transfer stays requested, its check pending.
    lostEvents.on = true;
    const transfer_id = `t-${newId()}`;
    expect((await call("transfer", { transfer_id, from, to, amount: 5 })).status).toBe(201);

    const { status, body } = await erase("transfer", transfer_id);
    expect(status).toBe(200);
    expect(body.object.removed).toMatchObject({ events: 1, followUps: 1, alarm: true });
    expect(body.subscribers).toEqual([{ name: "transfers", kind: "process", outcome: "erased", statements: 0 }]);
    expect(await objectStorage(env.TRANSFERS, `transfer-${transfer_id}`)).toEqual({ tables: [], alarm: null });
  });

  it("names a projection that does not handle erasure in the receipt, and leaves its rows", async () => {
    await env.READ_MODELS.exec("CREATE TABLE IF NOT EXISTS erasure_test_owners (id TEXT PRIMARY KEY, owner TEXT NOT NULL)");
    const owners = projection<AccountEvent>({
      name: "erasure_test_owners",
      streams: ["account"],
      on: { AccountOpened: (e) => statement`INSERT INTO erasure_test_owners (id, owner) VALUES (${e.aggregateId}, ${e.data.owner})` },
    });
    const reads = readSide<Env>({ subscribers: [accountsView, bankTotals, owners], database: (e) => e.READ_MODELS, sources: [bank, transferServices], logger: silentLogger });
    const id = await openAccount("ada");
    await eventually(() => readSideRows(`account-${id}`), (found) => found.catalog === 1);
    await reads.catchUp(env, owners.name);
    expect(await rows("SELECT owner FROM erasure_test_owners WHERE id = ?", id)).toEqual([{ owner: "ada" }]);

    const receipt = await reads.erase(env, { aggregate: bank, id, by: { via: "test" } });
    expect(receipt).toMatchObject({ complete: true, by: { via: "test", operator: null }, reason: null });
    expect("subscribers" in receipt && receipt.subscribers).toContainEqual({ name: "erasure_test_owners", kind: "projection", outcome: "not_handled", statements: 0 });
    expect(await rows("SELECT owner FROM erasure_test_owners WHERE id = ?", id)).toEqual([{ owner: "ada" }]);
    expect(await rows("SELECT id FROM bank_accounts WHERE id = ?", id)).toEqual([]);
  });
});

describe("who may erase", () => {
  it("only the admin: no token or a wrong one is 401, and nothing is erased", async () => {
    const id = await openAccount("ada", 5);
    expect((await erase("account", id, {}, {})).status).toBe(401);
    expect((await erase("account", id, {}, { Authorization: "Bearer dev-ada" })).status).toBe(401);
    expect((await bank.readStream(env, id, { from: 0, limit: 10 })).version).toBe(1);
  });

  it("nobody while the gateway has no admin token, or no erasure: 404 as for any unknown route", async () => {
    const id = await openAccount("ada", 5);
    const request = () => new Request(`http://gw/v1/streams/account/${id}/erase`, { method: "POST", headers: ADMIN });
    const withoutToken = createGateway<Env>({ services: [bank], logger: silentLogger, admin: { token: () => undefined, aggregates: [bank], erasure: { readSide: bankReadSide } } });
    const withoutErasure = createGateway<Env>({ services: [bank], logger: silentLogger, admin: { token: () => "dev-admin", aggregates: [bank] } });
    for (const gateway of [withoutToken, withoutErasure]) {
      const answer = await gateway.fetch(request(), env);
      expect(answer.status).toBe(404);
      expect(await answer.json()).toEqual({ response: { status: "error", reason: "not_found" } });
    }
    expect((await bank.readStream(env, id, { from: 0, limit: 10 })).version).toBe(1);
  });

  it("refuses an unknown aggregate type (404), a malformed id or body (400), saying why, and erases nothing", async () => {
    const id = await openAccount("ada", 5);
    expect((await erase("nothing", id)).status).toBe(404);
    expect(await erase("account", id, "not json")).toMatchObject({ status: 400, body: { response: { status: "error", reason: "invalid_json" } } });
    expect(await erase("account", id, { why: "because" })).toEqual({
      status: 400,
      body: { response: { status: "error", reason: "invalid_request", details: "unknown fields: why (an erase takes operator and reason)" } },
    });
    expect(await erase("account", id, { reason: "x".repeat(201) })).toMatchObject({ status: 400, body: { response: { reason: "invalid_request" } } });
    expect(await erase("account", id, { operator: 42 })).toMatchObject({ status: 400, body: { response: { reason: "invalid_request" } } });
    expect((await erase("account", "a\u0000b")).status).toBe(400);
    expect((await bank.readStream(env, id, { from: 0, limit: 10 })).version).toBe(1);
  });
});
