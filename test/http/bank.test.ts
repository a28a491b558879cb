import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type StreamPage } from "../../src/core/index.js";
import { newId } from "../../src/core/shared/ids.js";
import { createGateway, type Envelope } from "../../src/worker/index.js";
import { bank } from "../../examples/bank/services.js";
import { libraryLog } from "../support/library-log.js";

const ADA = { Authorization: "Bearer dev-ada" };
const BOB = { Authorization: "Bearer dev-bob" };
const ROOT = { Authorization: "Bearer dev-root" };
const ADMIN = { Authorization: "Bearer dev-admin" };

/** What an account logs when it answers a message it already processed. */
const REPLAYED = { level: "info", msg: "message already processed: answering as before, without running it again" } as const;

async function call(service: string, body: object, headers: Record<string, string> = ADA) {
  const answer = await exports.default.fetch(`http://demo/v1/services/${service}`, {
    method: "POST",
    body: JSON.stringify(body),
    headers,
  });
  return { status: answer.status, body: (await answer.json()) as Envelope };
}

async function stream(id: string, query = "", headers: Record<string, string> = ADMIN) {
  const answer = await exports.default.fetch(`http://demo/v1/streams/account/${id}${query}`, { headers });
  return { status: answer.status, body: (await answer.json()) as StreamPage & { response?: unknown } };
}

async function openAccount(headers = ADA): Promise<string> {
  const account_id = `acc-${newId()}`;
  const opened = await call("open_account", { account_id }, headers);
  expect(opened.status).toBe(201);
  return account_id;
}

describe("the bank demo over HTTP", () => {
  it("opens an account with a generated id (201), deposits, withdraws and reads it", async () => {
    const opened = await call("open_account", {});
    expect(opened.status).toBe(201);
    expect(opened.body.response).toMatchObject({ status: "created", version: 0 });
    const account_id = opened.body.response.status === "created" ? opened.body.response.id : "";

    expect(await call("deposit", { account_id, amount: 100 })).toMatchObject({ status: 200, body: { response: { status: "ok", version: 1 } } });
    expect(await call("withdraw", { account_id, amount: 30 })).toMatchObject({ status: 200, body: { response: { status: "ok", version: 2 } } });
    const read = await call("get_account", { account_id });
    expect(read.status).toBe(200);
    expect(read.body.response).toEqual({
      status: "ok",
      payload: { id: account_id, owner: "ada", balance: 70, status: "open" },
      version: 2,
    });
  });

  it("a withdrawal beyond the balance stores a rejection event and answers 400 insufficient_funds", async () => {
    const account_id = await openAccount();
    await call("deposit", { account_id, amount: 10 });
    const refused = await call("withdraw", { account_id, amount: 11 });
    expect(refused.status).toBe(400);
    expect(refused.body.response).toEqual({ status: "error", reason: "insufficient_funds", details: { balance: 10 } });
    const events = (await stream(account_id)).body.events;
    expect(events.map((e) => e.type)).toEqual(["AccountOpened", "MoneyDeposited", "WithdrawalRejected"]);
    expect((await call("get_account", { account_id })).body.response).toMatchObject({ payload: { balance: 10 }, version: 2 });
  });

  it("open_account without an id, retried with one X-Message-Id, opens one account", async () => {
    const headers = { ...ADA, "X-Message-Id": `open-${newId()}` };
    const [first, second] = await Promise.all([call("open_account", {}, headers), call("open_account", {}, headers)]);
    expect(first.status).toBe(201);
    expect(second.body.response).toEqual(first.body.response);
    const id = first.body.response.status === "created" ? first.body.response.id : "";
    expect((await stream(id)).body.events).toHaveLength(1);
    // The account logs the call it answered from its record.
    expect(libraryLog.take({ ...REPLAYED, fields: { messageId: headers["X-Message-Id"] } })).toHaveLength(1);
  });

  it("a message id is its caller's: reused for another request it is refused (409); another caller's use neither blocks nor reveals it", async () => {
    const account_id = await openAccount();
    await call("deposit", { account_id, amount: 77 });
    const headers = { "X-Message-Id": `pay-${account_id}` };
    const refused = await call("withdraw", { account_id, amount: 500 }, { ...ADA, ...headers });
    expect(refused.body.response).toMatchObject({ reason: "insufficient_funds", details: { balance: 77 } });
    expect((await call("deposit", { account_id, amount: 1 }, { ...ADA, ...headers })).status).toBe(409);
    // An admin uses an id first, in Ada's own account: it is the admin's message, not Ada's —
    // Ada's deposit with that id runs (neither refused as a reuse nor answered with the admin's reply).
    const squat = { "X-Message-Id": `squat-${account_id}` };
    expect((await call("deposit", { account_id, amount: 1 }, { ...ROOT, ...squat })).body.response).toEqual({ status: "ok", version: 3 });
    expect((await call("deposit", { account_id, amount: 5 }, { ...ADA, ...squat })).body.response).toEqual({ status: "ok", version: 4 });
    // And each caller's retry is still answered from its own record.
    expect((await call("deposit", { account_id, amount: 1 }, { ...ROOT, ...squat })).body.response).toEqual({ status: "ok", version: 3 });
    expect((await call("get_account", { account_id })).body.response).toMatchObject({ payload: { balance: 83 } });
    // The account logs the reuse it refused and the retry it answered from its record.
    const streamName = `account-${account_id}`;
    expect(libraryLog.take({ level: "warn", msg: "message id reused for a different command or request", fields: { stream: streamName, messageId: headers["X-Message-Id"] } })).toHaveLength(1);
    expect(libraryLog.take({ ...REPLAYED, fields: { stream: streamName, messageId: squat["X-Message-Id"] } })).toHaveLength(1);
  });

  it("a non-owner is answered the same whether or not the account exists", async () => {
    const account_id = await openAccount();
    await call("deposit", { account_id, amount: 40 });
    const missing = `acc-${newId()}`;
    const asBob = async (service: string, request: object, headers: Record<string, string> = {}) => {
      const [existing, absent] = await Promise.all([
        call(service, { account_id, ...request }, { ...BOB, ...headers }),
        call(service, { account_id: missing, ...request }, { ...BOB, ...headers }),
      ]);
      return [existing.status, existing.body.response, absent.status, absent.body.response];
    };
    const notFound = [404, { status: "error", reason: "not_found" }, 404, { status: "error", reason: "not_found" }];
    expect(await asBob("get_account", {})).toEqual(notFound);
    expect(await asBob("deposit", { amount: 1 })).toEqual(notFound);
    expect(await asBob("withdraw", { amount: 1 })).toEqual(notFound);
    expect(await asBob("close_account", {})).toEqual(notFound);
    expect(await asBob("deposit", { amount: 1 }, { "X-Dry-Run": "true" })).toEqual(notFound);
    expect(await asBob("deposit", { amount: 1 }, { "X-Expected-Version": "1" })).toEqual(notFound);
    // Opening an id that is taken cannot hide that it is taken; it says nothing more — the same
    // answer as to the owner herself (no version, nothing that tells whose it is).
    expect((await call("open_account", { account_id }, BOB)).body.response).toEqual({ status: "error", reason: "already_exists" });
    expect((await call("open_account", { account_id }, ADA)).body.response).toEqual({ status: "error", reason: "already_exists" });
    // ensure_account opens a missing account (for Bob: his own) and answers not_found, with no
    // version, for one he may not see: it tells him only that the id is not his to use.
    expect((await call("ensure_account", { account_id }, BOB)).body.response).toEqual({ status: "error", reason: "not_found" });
    expect((await call("get_account", { account_id })).body.response).toMatchObject({ payload: { balance: 40 } });
  });

  it("ensure_account creates once (201) and then answers ok (200) without events", async () => {
    const account_id = `acc-${newId()}`;
    expect(await call("ensure_account", { account_id })).toMatchObject({ status: 201, body: { response: { status: "created", id: account_id, version: 0 } } });
    expect(await call("ensure_account", { account_id })).toMatchObject({ status: 200, body: { response: { status: "ok", version: 0 } } });
  });

  it("only the owner or an admin may deposit, withdraw, read or close; closing pays out and blocks deposits", async () => {
    const account_id = await openAccount();
    await call("deposit", { account_id, amount: 40 });
    expect((await call("get_account", { account_id }, BOB)).status).toBe(404);
    expect((await call("withdraw", { account_id, amount: 1 }, BOB)).status).toBe(404);
    expect((await call("close_account", { account_id }, BOB)).body.response).toEqual({ status: "error", reason: "not_found" });
    expect((await call("get_account", { account_id }, ROOT)).status).toBe(200);
    const closed = await call("close_account", { account_id });
    expect(closed).toMatchObject({ status: 200, body: { response: { status: "ok", payload: { paidOut: 40 }, version: 3 } } });
    const deposit = await call("deposit", { account_id, amount: 1 });
    expect(deposit.status).toBe(422);
    expect(deposit.body.response).toEqual({ status: "validation_error", errors: [{ path: "account_id", message: "the account is closed" }] });
    const byAdmin = await openAccount(BOB);
    expect((await call("close_account", { account_id: byAdmin }, ROOT)).status).toBe(200);
  });

  it("answers every error status of the contract", async () => {
    const account_id = await openAccount();
    expect((await call("deposit", { account_id, amount: 1 }, {})).status).toBe(401);
    expect((await call("deposit", { account_id, amount: 1 }, { Authorization: "Bearer nope" })).status).toBe(401);
    expect((await call("deposit", { account_id, amount: -5 })).status).toBe(422);
    expect((await call("deposit", { account_id, amount: 1.5 })).status).toBe(422);
    expect(await call("deposit", { amount: 1 })).toMatchObject({ status: 400, body: { response: { status: "missing_id", field: "account_id" } } });
    expect(await call("deposit", { account_id: `acc-${newId()}`, amount: 1 })).toMatchObject({ status: 404, body: { response: { reason: "not_found" } } });
    expect((await call("open_account", { account_id })).status).toBe(409);
    expect((await call("deposit", { account_id, amount: 1 }, { ...ADA, "X-Expected-Version": "7" })).status).toBe(409);
    expect((await call("deposit", { account_id, amount: 1 }, { ...ADA, "X-Expected-Version": "0" })).status).toBe(200);
    expect((await call("deposit", { account_id, amount: 1 }, { ...ADA, "X-Expected-Version": "soon" })).status).toBe(400);
    expect(await call("deposit", { account_id: "x".repeat(300), amount: 1 })).toMatchObject({ status: 400, body: { response: { reason: "invalid_id" } } });
    expect(await call("deposit", { account_id: "two\nlines", amount: 1 })).toMatchObject({ status: 400, body: { response: { reason: "invalid_id" } } });
    expect(await call("deposit", { account_id: "", amount: 1 })).toMatchObject({ status: 400, body: { response: { status: "missing_id" } } });
    expect((await call("no_such_service", {})).status).toBe(404);
    expect(libraryLog.take({ level: "warn", msg: "[Discovery] Service no_such_service NOT found!" })).toHaveLength(1);
  });

  it("dry runs store nothing; a verbose one shows the events", async () => {
    const account_id = await openAccount();
    const dry = await call("deposit", { account_id, amount: 5 }, { ...ADA, "X-Dry-Run": "true" });
    expect(dry).toMatchObject({ status: 200, body: { response: { status: "ok", version: 0 } } });
    const verbose = await exports.default.fetch("http://demo/v1/validate/deposit", {
      method: "POST",
      body: JSON.stringify({ account_id, amount: 5 }),
      headers: { ...ADA, "X-Dry-Run": "verbose" },
    });
    const body = (await verbose.json()) as Envelope;
    expect(body.events).toEqual([{ type: "MoneyDeposited", data: { amount: 5 } }]);
    expect(body.response).toEqual({ status: "ok", payload: [{ type: "MoneyDeposited", data: { amount: 5 } }], version: 0 });
    expect((await stream(account_id)).body.events).toHaveLength(1);
  });
});

describe("concurrency and idempotency over HTTP", () => {
  it("200 concurrent deposits of 1 end at balance 200 with contiguous versions", async () => {
    const account_id = await openAccount();
    const replies = await Promise.all(Array.from({ length: 200 }, () => call("deposit", { account_id, amount: 1 })));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(200);
    expect((await call("get_account", { account_id })).body.response).toMatchObject({ payload: { balance: 200 }, version: 200 });
    const first = await stream(account_id, "?limit=1000");
    expect(first.body.events.map((e) => e.version)).toEqual(Array.from({ length: 201 }, (_, i) => i));
  });

  it("the same X-Message-Id sent 10 times concurrently stores one event, and again after a restart", async () => {
    const account_id = await openAccount();
    const headers = { ...ADA, "X-Message-Id": `deposit-${account_id}` };
    const replies = await Promise.all(Array.from({ length: 10 }, () => call("deposit", { account_id, amount: 25 }, headers)));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(new Set(replies.map((r) => JSON.stringify(r.body.response)))).toEqual(new Set([JSON.stringify({ status: "ok", version: 1 })]));
    const ns = env.ACCOUNTS;
    await evictDurableObject(ns.get(ns.idFromName(`account-${account_id}`)));
    const retried = await Promise.all(Array.from({ length: 10 }, () => call("deposit", { account_id, amount: 25 }, headers)));
    expect(retried.every((r) => r.status === 200)).toBe(true);
    const events = (await stream(account_id)).body.events;
    expect(events.filter((e) => e.type === "MoneyDeposited")).toHaveLength(1);
    expect((await call("get_account", { account_id })).body.response).toMatchObject({ payload: { balance: 25 } });
    // Each call but the first was answered from the record, and logged so.
    expect(libraryLog.take({ ...REPLAYED, fields: { stream: `account-${account_id}`, messageId: headers["X-Message-Id"] } })).toHaveLength(19);
  });
});

describe("an account opened in the EU (the demo's residency rule)", () => {
  it("lives in the EU jurisdiction's object: later commands find it there, and the admin read says where", async () => {
    const account_id = `acc-${newId()}`;
    expect((await call("open_account", { account_id, region: "eu" })).status).toBe(201);
    expect(await call("deposit", { account_id, amount: 40 })).toMatchObject({ status: 200, body: { response: { status: "ok", version: 1 } } });
    expect((await stream(account_id)).body).toMatchObject({ stream: `account-${account_id}`, jurisdiction: "eu", version: 1 });
    // Locally, the EU object is workerd's stand-in: `eu:<stream>` in the plain namespace.
    const standIn = env.ACCOUNTS.get(env.ACCOUNTS.idFromName(`eu:account-${account_id}`));
    expect(await runInDurableObject(standIn, (_object, state) => state.storage.sql.exec("SELECT count(*) AS n FROM events").one()["n"])).toBe(2);
    // An account opened without a region stays in the plain namespace.
    const plain = await openAccount();
    expect((await stream(plain)).body.jurisdiction).toBeUndefined();
  });
});

describe("reading streams (admin)", () => {
  it("pages through events with their metadata", async () => {
    const account_id = await openAccount();
    for (let i = 0; i < 4; i += 1) await call("deposit", { account_id, amount: 1 }, { ...ADA, "X-Correlation-Id": "conv-1" });
    const first = await stream(account_id, "?from=0&limit=2");
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ stream: `account-${account_id}`, status: "live", version: 4, nextFrom: 2 });
    expect(first.body.events.map((e) => e.version)).toEqual([0, 1]);
    const second = await stream(account_id, "?from=2&limit=2");
    expect(second.body.nextFrom).toBe(4);
    const last = await stream(account_id, "?from=4&limit=2");
    expect(last.body.nextFrom).toBeNull();
    expect(last.body.events[0]).toEqual({
      version: 4,
      type: "MoneyDeposited",
      data: { amount: 1 },
      metadata: {
        messageId: expect.any(String),
        correlationId: "conv-1",
        causationId: "conv-1",
        service: "deposit",
        traceparent: expect.stringMatching(/^00-[\da-f]{32}-[\da-f]{16}-01$/),
      },
      recordedAt: expect.any(String),
      schemaVersion: 1,
    });
  });

  it("needs the admin token, a known stream, an existing id and sane paging", async () => {
    const account_id = await openAccount();
    expect((await stream(account_id, "", {})).status).toBe(401);
    expect((await stream(account_id, "", ADA)).status).toBe(401);
    expect((await stream(`acc-${newId()}`)).status).toBe(404);
    expect((await stream(account_id, "?limit=0")).status).toBe(400);
    expect((await stream(account_id, "?limit=5000")).status).toBe(400);
    expect((await stream(account_id, "?from=-1")).status).toBe(400);
    expect((await stream(account_id, "?from=abc")).status).toBe(400);
    const unknown = await exports.default.fetch(`http://demo/v1/streams/nothing/${account_id}`, { headers: ADMIN });
    expect(unknown.status).toBe(404);
  });

  it("answers 404 when no admin token is configured", async () => {
    const app = createGateway<Cloudflare.Env>({ services: [bank], admin: { token: () => undefined, aggregates: [bank] } });
    const answer = await app.fetch(new Request("http://gw/v1/streams/account/x", { headers: ADMIN }), env);
    expect(answer.status).toBe(404);
    const without = createGateway<Cloudflare.Env>({ services: [bank] });
    expect((await without.fetch(new Request("http://gw/v1/streams/account/x", { headers: ADMIN }), env)).status).toBe(404);
  });

  it("DELETE soft keeps the events, DELETE hard removes them", async () => {
    const account_id = await openAccount();
    const remove = (query: string) =>
      exports.default.fetch(`http://demo/v1/streams/account/${account_id}${query}`, { method: "DELETE", headers: ADMIN });
    expect((await remove("?mode=soft&expectedVersion=3")).status).toBe(409);
    expect((await remove("?mode=later")).status).toBe(400);
    expect((await remove("?mode=soft&expectedVersion=0")).status).toBe(200);
    expect((await call("get_account", { account_id })).status).toBe(404);
    expect((await stream(account_id)).body).toMatchObject({ status: "deleted", version: 0 });
    expect((await remove("?mode=hard")).status).toBe(200);
    expect((await stream(account_id)).status).toBe(404);
  });
});
