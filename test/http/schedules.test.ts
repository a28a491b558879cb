import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { isJsonObject, ok, Router, silentLogger } from "../../src/core/index.js";
import { newId } from "../../src/core/shared/ids.js";
import { type ScheduledSummary } from "../../src/core/scheduling/scheduler.js";
import { durableObjectScheduler } from "../../src/objects/index.js";
import { createGateway, type Envelope } from "../../src/worker/index.js";
import { libraryLog } from "../support/library-log.js";

const ADA = { Authorization: "Bearer dev-ada" };
const BOB = { Authorization: "Bearer dev-bob" };
const ADMIN = { Authorization: "Bearer dev-admin" };
const ROOT = { Authorization: "Bearer dev-root" };

const demo = (path: string, init?: RequestInit) => exports.default.fetch(`http://demo${path}`, init);

async function post(path: string, body: unknown, headers: Record<string, string> = ADA) {
  const answer = await demo(path, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers });
  return { status: answer.status, body: (await answer.json()) as Envelope };
}

async function openAccount(): Promise<string> {
  const account_id = `acc-${newId()}`;
  expect((await post("/v1/services/open_account", { account_id })).status).toBe(201);
  return account_id;
}

const balanceOf = async (account_id: string) => {
  const read = await post("/v1/services/get_account", { account_id });
  return read.body.response.status === "ok" ? (read.body.response.payload as { balance: number }).balance : null;
};

const shard = (key: string) => env.SCHEDULER.get(env.SCHEDULER.idFromName(key));

/** Changes the API_TOKENS secret that a scheduler shard sees from now on (as a secret rotation would). */
const tokensSeenBy = (key: string, tokens: string) =>
  runInDurableObject(shard(key), (instance) => {
    const object = instance as unknown as { env: Cloudflare.Env };
    object.env = { ...object.env, API_TOKENS: tokens };
  });

/** A bank account of bob's holding `balance`. */
async function bobsAccount(balance: number): Promise<string> {
  const account_id = `bob-${newId()}`;
  expect((await post("/v1/services/open_account", { account_id }, BOB)).status).toBe(201);
  expect((await post("/v1/services/deposit", { account_id, amount: balance }, BOB)).status).toBe(200);
  return account_id;
}

const bobsBalance = async (account_id: string) =>
  ((await post("/v1/services/get_account", { account_id }, BOB)).body.response as unknown as { payload: { balance: number } }).payload.balance;

describe("POST /v1/schedules", () => {
  it("schedules a deposit (202), and the alarm applies it once", async () => {
    const account_id = await openAccount();
    const scheduled = await post("/v1/schedules", { service: "deposit", request: { account_id, amount: 5 }, key: account_id, in: 0 });
    expect(scheduled.status).toBe(202);
    expect(scheduled.body).toMatchObject({
      service: "deposit",
      response: { status: "ok", payload: { key: account_id, dispatchAt: expect.any(String), alreadyScheduled: false } },
    });
    expect(await runDurableObjectAlarm(shard(account_id))).toBe(true);
    expect(await balanceOf(account_id)).toBe(5);
    await runDurableObjectAlarm(shard(account_id));
    expect(await balanceOf(account_id)).toBe(5);
  });

  it("the same X-Message-Id scheduled twice is stored once", async () => {
    const account_id = await openAccount();
    const headers = { ...ADA, "X-Message-Id": `sched-${account_id}` };
    const body = { service: "deposit", request: { account_id, amount: 5 }, key: account_id, in: 60_000 };
    expect((await post("/v1/schedules", body, headers)).body.response).toMatchObject({ payload: { alreadyScheduled: false } });
    expect((await post("/v1/schedules", body, headers)).body.response).toMatchObject({ payload: { alreadyScheduled: true } });
    const listed = (await (await demo(`/v1/schedules?key=${account_id}`, { headers: ADA })).json()) as { schedules: ScheduledSummary[] };
    expect(listed.schedules).toHaveLength(1);
  });

  it("refuses bad input with 400 and a clear reason, storing nothing", async () => {
    const key = `k-${newId()}`;
    const cases: [unknown, RegExp][] = [
      [{ service: "no_such_service", key, in: 0 }, /unknown_service/],
      [{ service: "greet", key, in: 0, at: "2030-01-01T00:00:00Z" }, /exactly one/],
      [{ service: "greet", key }, /exactly one/],
      [{ service: "greet", key, at: "next tuesday" }, /RFC 3339/],
      [{ service: "greet", key, in: -5 }, />= 0/],
      [{ service: "greet", key, in: 10 ** 12 }, /one year/],
      [{ service: "greet", key, cron: "every day" }, /5 fields/],
      [{ service: "greet", key, cron: "99 * * * *" }, /cron/],
      [{ service: "greet", key, every: 5 }, /every/],
      [{ service: "greet", key, cron: "0 9 * * *", timeZone: "Mars/Olympus_Mons" }, /not a time zone/],
      [{ service: "greet", key, in: 1000, timeZone: "Europe/Berlin" }, /go with a recurring schedule/],
      [{ service: "greet", key, every: 60_000, missed: "all" }, /missed must be/],
      [{ service: "greet", in: 0 }, /key: is required/],
      [{ service: "greet", key: "a\u0000b", in: 0 }, /key/],
      [{ service: "greet", key, in: 0, request: [1] }, /request: must be an object/],
      [{ service: "greet", key, in: 0, delay: 5 }, /unknown fields: delay/],
      [{ key, in: 0 }, /service: is required/],
      ["{not json", /invalid_json/],
      ["[1]", /invalid_request/],
    ];
    for (const [body, reason] of cases) {
      const answer = await post("/v1/schedules", body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(answer.body.response)).toMatch(reason);
    }
    // A refusal names the service the body asked for (unless it is not a name, which is not echoed).
    expect((await post("/v1/schedules", { service: "greet", key, in: "soon" })).body.service).toBe("greet");
    expect((await post("/v1/schedules", { service: "greet", in: 0 })).body.service).toBe("greet");
    expect((await post("/v1/schedules", { service: "gr\u0000eet", key, in: "soon" })).body.service).toBe("");
    expect((await post("/v1/schedules", { service: "g".repeat(5000), key, in: "soon" })).body.service).toBe("");
    const dry = await demo("/v1/schedules", { method: "POST", body: JSON.stringify({ service: "greet", key, in: 0 }), headers: { "X-Dry-Run": "true" } });
    expect(dry.status).toBe(400);
    const listed = (await (await demo(`/v1/schedules?key=${key}`, { headers: ADMIN })).json()) as { schedules: ScheduledSummary[] };
    expect(listed.schedules).toEqual([]);
  });

  it("a date at or before 1970, or one that does not exist, is refused (400) and the key keeps working for everyone", async () => {
    const account_id = await openAccount();
    const greet = (at: string) => post("/v1/schedules", { service: "greet", request: { name: "x" }, key: account_id, at }, {});
    const refusals: [string, RegExp][] = [
      ["1970-01-01T00:00:00Z", /24 hours in the past/],
      ["1969-12-31T23:59:59Z", /24 hours in the past/],
      ["0000-01-01T00:00:00Z", /24 hours in the past/],
      ["2027-02-31T00:00:00Z", /does not exist/],
      ["2027-13-01T00:00:00Z", /does not exist/],
      ["2027-04-31T09:00:00+02:00", /does not exist/],
      ["2027-01-01T24:00:00Z", /does not exist/],
      ["2027-01-01T10:00Z", /RFC 3339/],
      ["2027-01-01 10:00:00Z", /RFC 3339/],
    ];
    for (const [at, reason] of refusals) {
      const answer = await greet(at);
      expect(answer.status, at).toBe(400);
      expect(JSON.stringify(answer.body.response), at).toMatch(reason);
    }
    // The key was not jammed: an owner's schedule on it is stored, armed and delivered.
    const deposit = await post("/v1/schedules", { service: "deposit", request: { account_id, amount: 7 }, key: account_id, in: 0 });
    expect(deposit.status).toBe(202);
    expect(await runDurableObjectAlarm(shard(account_id))).toBe(true);
    expect(await balanceOf(account_id)).toBe(7);
  });

  it("a date already past by less than 24 hours is accepted and delivered once, at the next alarm", async () => {
    const account_id = await openAccount();
    const at = new Date(Date.now() - 3_600_000).toISOString();
    const scheduled = await post("/v1/schedules", { service: "deposit", request: { account_id, amount: 3 }, key: account_id, at });
    expect(scheduled.status).toBe(202);
    expect(scheduled.body.response).toMatchObject({ payload: { dispatchAt: at } });
    expect(await runDurableObjectAlarm(shard(account_id))).toBe(true);
    await runDurableObjectAlarm(shard(account_id));
    expect(await balanceOf(account_id)).toBe(3);
  });

  it("needs the caller to be authorized for the service now: 401 without credentials, 403 when refused", async () => {
    const account_id = await openAccount();
    expect((await post("/v1/schedules", { service: "deposit", request: { account_id, amount: 1 }, key: account_id, in: 0 }, {})).status).toBe(401);
    expect((await post("/v1/schedules", { service: "deposit", key: account_id, in: 0 }, { Authorization: "Bearer forged" })).status).toBe(401);
    const strict = new Router({ authorize: () => "forbidden" }).service("closed", (m) => ok(m));
    const gateway = createGateway({ services: [strict], logger: silentLogger, scheduler: durableObjectScheduler((e: Cloudflare.Env) => e.SCHEDULER) });
    const answer = await gateway.fetch(
      new Request("http://gw/v1/schedules", { method: "POST", body: JSON.stringify({ service: "closed", key: "k", in: 0 }) }),
      env,
    );
    expect(answer.status).toBe(403);
  });
});

describe("scheduling policy", () => {
  it("recurring schedules need an identified caller: anonymous ones are refused 401 with the reason", async () => {
    const key = `k-${newId()}`;
    for (const when of [{ every: 60_000 }, { cron: "0 9 * * 1" }]) {
      const anonymous = await post("/v1/schedules", { service: "greet", request: { name: "x" }, key, ...when }, {});
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.response).toEqual({ status: "unauthorized", reason: "recurring schedules (cron, every) need an identified caller" });
      expect((await post("/v1/schedules", { service: "greet", request: { name: "x" }, key, ...when })).status).toBe(202);
    }
    expect((await post("/v1/schedules", { service: "greet", request: { name: "x" }, key, in: 60_000 }, {})).status).toBe(202);
  });

  it("a recurring interval shorter than a minute is refused", async () => {
    const answer = await post("/v1/schedules", { service: "greet", request: { name: "x" }, key: `k-${newId()}`, every: 30_000 });
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body.response)).toMatch(/every must be .* from 60000/);
  });

  it("an owner may have 100 pending schedules on a key: the next is refused, and nobody else is held back", async () => {
    const key = `k-${newId()}`;
    const greet = (headers: Record<string, string>, k = key) => post("/v1/schedules", { service: "greet", request: { name: "x" }, key: k, in: 3_600_000 }, headers);
    for (let i = 0; i < 100; i += 10) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => greet(ADA)));
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(202));
    }
    const refused = await greet(ADA);
    expect(refused.status).toBe(429);
    expect(refused.body.response).toMatchObject({ status: "error", reason: "too_many_schedules", details: { limit: 100, per: "owner" } });
    expect((await greet(BOB)).status).toBe(202);
    expect((await greet(ADA, `k-${newId()}`)).status).toBe(202);
    // A place freed is a place taken again.
    const [first] = ((await (await demo(`/v1/schedules?key=${key}`, { headers: ADA })).json()) as { schedules: ScheduledSummary[] }).schedules;
    expect((await demo(`/v1/schedules/${first?.messageId}?key=${key}`, { method: "DELETE", headers: ADA })).status).toBe(200);
    expect((await greet(ADA)).status).toBe(202);
  }, 30_000);

  it("admins cancel anyone's schedules — the admin token and identities the app marks as admin; others only their own", async () => {
    const key = `k-${newId()}`;
    const schedule = async () => (await post("/v1/schedules", { service: "greet", request: { name: "x" }, key, in: 3_600_000 }, ADA)).body.messageId;
    const cancel = (messageId: string, headers: Record<string, string>) => demo(`/v1/schedules/${messageId}?key=${key}`, { method: "DELETE", headers });
    const first = await schedule();
    const second = await schedule();
    expect((await cancel(first, BOB)).status).toBe(404);
    const seenByRoot = (await (await demo(`/v1/schedules?key=${key}`, { headers: ROOT })).json()) as { schedules: ScheduledSummary[] };
    expect(seenByRoot.schedules.map((entry) => entry.messageId).sort()).toEqual([first, second].sort());
    expect((await cancel(first, ROOT)).status).toBe(200);
    expect((await cancel(second, ADMIN)).status).toBe(200);
    expect((await (await demo(`/v1/schedules?key=${key}`, { headers: ADA })).json()) as { schedules: unknown[] }).toMatchObject({ schedules: [] });
  });
});

describe("rights are checked again at delivery", () => {
  it("an admin's scheduled withdrawal from someone else's account runs while they are admin", async () => {
    const account_id = await bobsAccount(100);
    const scheduled = await post("/v1/schedules", { service: "withdraw", request: { account_id, amount: 30 }, key: account_id, in: 0 }, ROOT);
    expect(scheduled.status).toBe(202);
    expect(await runDurableObjectAlarm(shard(account_id))).toBe(true);
    expect(await bobsBalance(account_id)).toBe(70);
  });

  it("once the admin role is removed, the scheduled withdrawal is refused and settled, the balance unchanged", async () => {
    const account_id = await bobsAccount(100);
    const scheduled = await post("/v1/schedules", { service: "withdraw", request: { account_id, amount: 30 }, key: account_id, in: 0 }, ROOT);
    expect(scheduled.status).toBe(202);
    // root is a user still, but no longer an admin
    await tokensSeenBy(account_id, "dev-ada=ada,dev-bob=bob,dev-root=root");
    expect(await runDurableObjectAlarm(shard(account_id))).toBe(true);
    expect(await bobsBalance(account_id)).toBe(100);
    // settled, never retried: nothing pending, no alarm left; the denial is shown to operators
    expect(await runDurableObjectAlarm(shard(account_id))).toBe(false);
    const listed = (await (await demo(`/v1/schedules?key=${account_id}`, { headers: ADMIN })).json()) as { schedules: unknown[]; outcomes: unknown[] };
    expect(listed.schedules).toEqual([]);
    // The account hides itself from whoever is neither its owner nor an admin: the refusal is a
    // not_found, which the default retry policy does not retry.
    expect(listed.outcomes).toMatchObject([
      { messageId: scheduled.body.messageId, owner: "root", service: "withdraw", outcome: "gave_up", reason: "not_found", attempts: 1 },
    ]);
    expect(await bobsBalance(account_id)).toBe(100);
    // The scheduler logs the give-up as an error.
    expect(libraryLog.take({ level: "error", msg: "scheduled message given up", fields: { messageId: scheduled.body.messageId } })).toMatchObject([
      { fields: { service: "withdraw", key: account_id, response: { status: "error", reason: "not_found" } } },
    ]);
  });

  it("a caller whose tokens were all revoked no longer resolves: their scheduled close_account is denied", async () => {
    const account_id = await bobsAccount(50);
    const scheduled = await post("/v1/schedules", { service: "close_account", request: { account_id }, key: account_id, in: 0 }, ROOT);
    expect(scheduled.status).toBe(202);
    await tokensSeenBy(account_id, "dev-ada=ada,dev-bob=bob");
    expect(await runDurableObjectAlarm(shard(account_id))).toBe(true);
    expect(await bobsBalance(account_id)).toBe(50);
    const outcomes = (await (await demo(`/v1/schedules?key=${account_id}`, { headers: ADMIN })).json()) as { outcomes: unknown[] };
    expect(outcomes.outcomes).toMatchObject([{ owner: "root", outcome: "denied", reason: "principal_unknown" }]);
    // The scheduler logs the denial as a warning.
    expect(libraryLog.take({ level: "warn", msg: "scheduled message denied: its owner may no longer do this", fields: { messageId: scheduled.body.messageId } })).toMatchObject([
      { fields: { service: "close_account", key: account_id, owner: "root", reason: "principal_unknown" } },
    ]);
  });
});

describe("GET and DELETE /v1/schedules", () => {
  it("callers see and cancel only what they scheduled; the admin token sees everything", async () => {
    const account_id = await openAccount();
    const scheduled = await post("/v1/schedules", { service: "deposit", request: { account_id, amount: 1 }, key: account_id, cron: "0 9 * * 1" });
    const messageId = scheduled.body.messageId;
    const list = async (headers: Record<string, string>) =>
      ((await (await demo(`/v1/schedules?key=${account_id}`, { headers })).json()) as { schedules: ScheduledSummary[] }).schedules;
    expect(await list(ADA)).toEqual([
      {
        messageId,
        owner: "ada",
        key: account_id,
        service: "deposit",
        dispatchAt: expect.any(String),
        nextAttemptAt: expect.any(String),
        attempts: 0,
        late: false,
        recurrence: { cron: "0 9 * * 1" },
        rawRequest: { account_id, amount: 1 },
      },
    ]);
    expect(await list(BOB)).toEqual([]);
    expect(await list(ADMIN)).toHaveLength(1);
    const cancel = (headers: Record<string, string>) => demo(`/v1/schedules/${messageId}?key=${account_id}`, { method: "DELETE", headers });
    expect((await cancel(BOB)).status).toBe(404);
    expect((await cancel(ADA)).status).toBe(200);
    expect((await cancel(ADA)).status).toBe(404);
    expect(await list(ADMIN)).toEqual([]);
  });

  it("a daily schedule in Europe/Berlin is listed with its next run in local time, its zone and its missed-run policy", async () => {
    const account_id = await openAccount();
    const scheduled = await post("/v1/schedules", {
      service: "deposit",
      request: { account_id, amount: 1 },
      key: account_id,
      cron: "0 9 * * *",
      timeZone: "Europe/Berlin",
      missed: { each: 3 },
    });
    expect(scheduled.status).toBe(202);
    const { response } = scheduled.body;
    const dispatchAt = String(response.status === "ok" && isJsonObject(response.payload) ? response.payload["dispatchAt"] : "");
    // 09:00 in Berlin: +01:00 in winter, +02:00 in summer.
    expect(dispatchAt).toMatch(/^\d{4}-\d{2}-\d{2}T09:00:00\.000\+0[12]:00$/);
    const [listed] = ((await (await demo(`/v1/schedules?key=${account_id}`, { headers: ADA })).json()) as { schedules: ScheduledSummary[] }).schedules;
    expect(listed).toMatchObject({ dispatchAt, recurrence: { cron: "0 9 * * *", timeZone: "Europe/Berlin", missed: { each: 3 } } });
    expect(Date.parse(listed?.nextAttemptAt ?? "")).toBe(Date.parse(dispatchAt));
  });

  it("anonymous callers can neither list nor cancel (they are indistinguishable)", async () => {
    const key = `k-${newId()}`;
    const scheduled = await post("/v1/schedules", { service: "greet", request: { name: "secret" }, key, in: 60_000 }, {});
    expect(scheduled.status).toBe(202);
    expect((await demo(`/v1/schedules?key=${key}`)).status).toBe(401);
    expect((await demo(`/v1/schedules/${scheduled.body.messageId}?key=${key}`, { method: "DELETE" })).status).toBe(401);
    expect((await (await demo(`/v1/schedules?key=${key}`, { headers: ADMIN })).json()) as { schedules: unknown[] }).toMatchObject({ schedules: [{}] });
  });

  it("one caller's message ids neither block nor reveal another's: ids are scoped by who scheduled", async () => {
    const key = `ada-${newId()}`;
    const id = { "X-Message-Id": `pay-2-${key}` };
    const body = { service: "greet", request: { name: "a" }, key, in: 60_000 };
    // bob takes the id first, on ada's key
    expect((await post("/v1/schedules", body, { ...BOB, ...id })).body.response).toMatchObject({ payload: { alreadyScheduled: false } });
    // ada's own schedule with that id is hers, not refused and not mistaken for bob's
    const ada = await post("/v1/schedules", { ...body, request: { name: "b" } }, { ...ADA, ...id });
    expect(ada.status).toBe(202);
    expect(ada.body.response).toMatchObject({ payload: { alreadyScheduled: false } });
    // each caller's retry is still recognised; a different request under the same id is still refused
    expect((await post("/v1/schedules", body, { ...BOB, ...id })).body.response).toMatchObject({ payload: { alreadyScheduled: true } });
    expect((await post("/v1/schedules", { ...body, in: 5 }, { ...ADA, ...id })).status).toBe(409);

    const list = async (headers: Record<string, string>) =>
      ((await (await demo(`/v1/schedules?key=${key}`, { headers })).json()) as { schedules: ScheduledSummary[] }).schedules.map((s) => [s.owner, s.rawRequest]);
    expect(await list(ADA)).toEqual([["ada", { name: "b" }]]);
    expect(await list(BOB)).toEqual([["bob", { name: "a" }]]);
    expect(await list(ADMIN)).toHaveLength(2);
    // ada cancels hers; bob's stays
    expect((await demo(`/v1/schedules/pay-2-${key}?key=${key}`, { method: "DELETE", headers: ADA })).status).toBe(200);
    expect(await list(ADMIN)).toEqual([["bob", { name: "a" }]]);
  });

  it("a private service cannot be scheduled from outside: it is an unknown service", async () => {
    const answer = await post("/v1/schedules", { service: "format_greeting", request: { name: "a" }, key: "k", in: 0 });
    expect(answer.status).toBe(400);
    expect(answer.body.response).toEqual({ status: "error", reason: "unknown_service", details: { service: "format_greeting" } });
  });

  it("a key is required; bad credentials are refused", async () => {
    expect((await demo("/v1/schedules", { headers: ADA })).status).toBe(400);
    expect((await demo("/v1/schedules?key=x", { headers: { Authorization: "Bearer forged" } })).status).toBe(401);
    expect((await demo("/v1/schedules/m?key=", { method: "DELETE", headers: ADA })).status).toBe(400);
  });

  it("without a scheduler the routes do not exist", async () => {
    const gateway = createGateway({ services: [], logger: silentLogger });
    expect((await gateway.fetch(new Request("http://gw/v1/schedules?key=k"), env)).status).toBe(404);
  });
});
