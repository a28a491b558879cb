import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { silentLogger, type JsonObject, type StreamPage } from "../../src/core/index.js";
import type { PastState } from "../../src/core/aggregates/aggregate-protocol.js";
import { newId } from "../../src/core/shared/ids.js";
import { createGateway } from "../../src/worker/index.js";
import { bank } from "../../examples/bank/services.js";
import { call, openAccount } from "../support/read-side-helpers.js";
import { sleep } from "../support/recorders.js";

const ORIGIN = "http://demo";
const ADMIN = { Authorization: "Bearer dev-admin" };
const demo = (path: string, init?: RequestInit) => exports.default.fetch(`${ORIGIN}${path}`, { redirect: "manual", ...init });

/** `GET /v1/streams/account/:id/state…` as the admin (or with `headers`). */
async function stateAt(id: string, query: string, headers: Record<string, string> = ADMIN) {
  const answer = await demo(`/v1/streams/account/${id}/state${query}`, { headers });
  return { status: answer.status, body: (await answer.json()) as PastState & { response?: JsonObject } };
}

/** `POST /v1/streams/account/:id/state/dry-run…` as the admin (or with `headers`). */
async function dryRunAt(id: string, query: string, body: unknown, headers: Record<string, string> = ADMIN) {
  const answer = await demo(`/v1/streams/account/${id}/state/dry-run${query}`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "Content-Type": "application/json", ...headers },
  });
  return { status: answer.status, body: (await answer.json()) as PastState & { response?: JsonObject } };
}

/** The account's stream as the admin API pages it (without what reading it cost: reads change that). */
async function page(id: string): Promise<Omit<StreamPage, "usage">> {
  const { usage: _usage, ...stream } = await (await demo(`/v1/streams/account/${id}?limit=1000`, { headers: ADMIN })).json<StreamPage>();
  return stream;
}

/** How many idempotency records the account's object holds. */
function records(id: string): Promise<number> {
  const stub = env.ACCOUNTS.get(env.ACCOUNTS.idFromName(`account-${id}`));
  return runInDurableObject(stub, (_object, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM processed_messages").one().n);
}

/** Ada's account: opened (v0), 100 deposited (v1), 80 withdrawn (v2), a few milliseconds apart. */
async function adasAccount(): Promise<string> {
  const id = await openAccount("ada");
  await sleep(5);
  await call("deposit", { account_id: id, amount: 100 });
  await sleep(5);
  await call("withdraw", { account_id: id, amount: 80 });
  return id;
}

describe("the state of an aggregate at a version (admin API)", () => {
  it("is the replay of its events up to that version, with when that event was recorded and the stream as it is now", async () => {
    const id = await adasAccount();
    const events = (await page(id)).events;
    for (const [version, balance] of [0, 100, 20].entries()) {
      const { status, body } = await stateAt(id, `?version=${version}`);
      expect(status).toBe(200);
      expect(body).toEqual({
        stream: `account-${id}`,
        version,
        recordedAt: events[version]?.recordedAt,
        state: { owner: "ada", balance, status: "open" },
        upcastEvents: 0,
        now: { status: "live", version: 2 },
      });
    }
  });

  it("at a time, is the state after the last event recorded at or before it", async () => {
    const id = await adasAccount();
    const [, deposited, withdrawn] = (await page(id)).events.map((event) => Date.parse(event.recordedAt));
    const iso = (ms: number) => new Date(ms).toISOString();
    expect(withdrawn! - deposited!).toBeGreaterThanOrEqual(2);
    expect((await stateAt(id, `?at=${iso(deposited!)}`)).body).toMatchObject({ version: 1, state: { balance: 100 } });
    expect((await stateAt(id, `?at=${iso(withdrawn! - 1)}`)).body).toMatchObject({ version: 1, state: { balance: 100 } });
    expect((await stateAt(id, `?at=${iso(withdrawn!)}`)).body).toMatchObject({ version: 2, state: { balance: 20 } });
    // The same instant with an offset (a `+` in a query must be encoded).
    expect((await stateAt(id, `?at=${encodeURIComponent("2999-01-01T01:00:00+01:00")}`)).body).toMatchObject({ version: 2 });
  });

  it("is found where the stream lives: an account opened in the EU jurisdiction", async () => {
    const id = `acc-${newId()}`;
    expect((await call("open_account", { account_id: id, region: "eu" })).status).toBe(201);
    await call("deposit", { account_id: id, amount: 9 });
    expect((await page(id)).jurisdiction).toBe("eu");
    expect((await stateAt(id, "?version=1")).body).toMatchObject({ version: 1, state: { balance: 9 }, now: { version: 1 } });
    const dry = await dryRunAt(id, "?version=0", { command: "deposit", request: { amount: 1 }, credentials: "Bearer dev-ada" });
    expect(dry.body.dryRun?.response).toEqual({ status: "ok", version: 0 });
  });

  it("with a snapshot taken after that version, is still the replay: not the snapshot's state", async () => {
    const id = await openAccount("ada");
    // The account snapshots every 50 events: 51 deposits of 1 leave one at version 49.
    for (let i = 0; i < 51; i += 1) await call("deposit", { account_id: id, amount: 1 });
    expect((await page(id)).snapshot).toEqual({ version: 49, schema: 1 });
    expect((await stateAt(id, "?version=10")).body).toMatchObject({ version: 10, state: { balance: 10 } });
    expect((await stateAt(id, "?version=49")).body).toMatchObject({ version: 49, state: { balance: 49 } });
    expect((await stateAt(id, "?version=51")).body).toMatchObject({ version: 51, state: { balance: 51 } });
  });
});

describe("a dry run against the state at a version (admin API)", () => {
  it("answers what the command would have answered then, and the events it would have appended", async () => {
    const id = await adasAccount();
    const ada = { credentials: "Bearer dev-ada" };
    // 50 could be withdrawn at version 1 (100 in the account), not now (20).
    const then = await dryRunAt(id, "?version=1", { command: "withdraw", request: { amount: 50 }, ...ada });
    expect(then.status).toBe(200);
    expect(then.body).toMatchObject({ version: 1, state: { balance: 100 } });
    expect(then.body.dryRun).toEqual({ response: { status: "ok", version: 1 }, events: [{ type: "MoneyWithdrawn", data: { amount: 50 } }] });
    const now = await dryRunAt(id, "?version=2", { command: "withdraw", request: { amount: 50 }, ...ada });
    expect(now.status).toBe(200);
    expect(now.body.dryRun).toEqual({
      response: { status: "error", reason: "insufficient_funds", details: { balance: 20 } },
      events: [{ type: "WithdrawalRejected", data: { amount: 50, balance: 20 } }],
    });
    // And the other way round: 10 could not be withdrawn at version 0, and can now.
    const before = await dryRunAt(id, "?version=0", { command: "withdraw", request: { amount: 10 }, ...ada });
    expect(before.body.dryRun?.response).toMatchObject({ status: "error", reason: "insufficient_funds" });
  });

  it("stores nothing: the version, the events and the idempotency records stay as they were", async () => {
    const id = await adasAccount();
    const [pageBefore, recordsBefore] = [await page(id), await records(id)];
    expect(recordsBefore).toBe(3);
    for (const version of [0, 1, 2]) {
      const answer = await dryRunAt(id, `?version=${version}`, { command: "deposit", request: { amount: 7 }, credentials: "Bearer dev-ada" });
      expect(answer.body.dryRun?.response).toEqual({ status: "ok", version });
    }
    expect(await page(id)).toEqual(pageBefore);
    expect(await records(id)).toBe(recordsBefore);
  });

  it("runs as the caller its credentials identify, judged by authorize and the aggregate's access rule", async () => {
    const id = await adasAccount();
    const withdraw = { command: "withdraw", request: { amount: 50 } };
    // No credentials: an anonymous caller, whom the bank's authorize refuses; the state is still shown.
    const anonymous = await dryRunAt(id, "?version=1", withdraw);
    expect(anonymous.body).toMatchObject({ version: 1, dryRun: { response: { status: "unauthorized" }, events: [] } });
    // Bob may not learn that Ada's account exists; an admin user may act on it.
    expect((await dryRunAt(id, "?version=1", { ...withdraw, credentials: "Bearer dev-bob" })).body.dryRun?.response).toEqual({ status: "error", reason: "not_found" });
    expect((await dryRunAt(id, "?version=1", { ...withdraw, credentials: "Bearer dev-root" })).body.dryRun?.response).toEqual({ status: "ok", version: 1 });
    // Credentials that identify no one are not a caller.
    const nobody = await dryRunAt(id, "?version=1", { ...withdraw, credentials: "Bearer forged" });
    expect(nobody.status).toBe(400);
    expect(nobody.body.response).toEqual({ status: "error", reason: "invalid_request", details: "the credentials identify no one (a call with them would be answered 401)" });
  });
});

describe("looking back refuses bad input with a clear reason", () => {
  it("a version beyond the stream or negative, both or neither of version and at, a time that is not one or before the first event", async () => {
    const id = await adasAccount();
    const first = (await page(id)).events[0]?.recordedAt;
    const refusals: [string, string][] = [
      ["?version=3", "version 3 is beyond the stream's last, 2"],
      ["?version=-1", "version must be a whole number >= 0"],
      ["?version=1.5", "version must be a whole number >= 0"],
      ["?version=1&at=2026-12-01T10:00:00Z", "give exactly one of version or at"],
      ["", "give exactly one of version or at"],
      ["?at=yesterday", "at must be an RFC 3339 date-time with a time zone, such as 2030-01-31T09:00:00Z"],
      ["?at=2027-02-31T10:00:00Z", "at 2027-02-31T10:00:00Z does not exist"],
      ["?at=2000-01-01T00:00:00Z", `nothing was recorded in this stream at or before 2000-01-01T00:00:00Z: its first event was recorded at ${first}`],
    ];
    for (const [query, reason] of refusals) {
      const { status, body } = await stateAt(id, query);
      expect(status, query).toBe(400);
      expect(body, query).toEqual({ response: { status: "error", reason: "invalid_request", details: reason } });
    }
  });

  it("an unknown command, a body that is not a dry run, and an aggregate that does not exist", async () => {
    const id = await adasAccount();
    const unknown = await dryRunAt(id, "?version=1", { command: "steal", request: {} });
    expect(unknown.status).toBe(400);
    expect(unknown.body.response).toMatchObject({ reason: "invalid_request", details: { problem: "steal is not a public command of account", commands: expect.arrayContaining(["withdraw", "deposit"]) } });
    for (const [body, details] of [
      [{ request: {} }, "command must be the name of one of the aggregate's commands"],
      [{ command: "deposit", request: [1] }, "request must be a JSON object"],
      [{ command: "deposit", reqest: {} }, "unknown fields: reqest (a dry run takes command, request and credentials)"],
      [{ command: "deposit", credentials: 7 }, "credentials must be a string: the value of the credentials header of the caller to run as"],
      [{ command: "deposit", request: { account_id: "someone-else", amount: 1 } }, `the request's account_id names another aggregate than ${id}`],
    ] as const) {
      const answer = await dryRunAt(id, "?version=1", body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.response, JSON.stringify(body)).toEqual({ status: "error", reason: "invalid_request", details });
    }
    expect((await dryRunAt(id, "?version=1", "{not json")).body.response).toMatchObject({ status: "error", reason: "invalid_json" });
    const missing = `acc-${newId()}`;
    expect(await stateAt(missing, "?version=0")).toEqual({ status: 404, body: { response: { status: "error", reason: "not_found" } } });
    expect((await dryRunAt(missing, "?version=0", { command: "deposit", request: { amount: 1 }, credentials: "Bearer dev-ada" })).status).toBe(404);
    expect((await demo(`/v1/streams/nothing/${id}/state?version=0`, { headers: ADMIN })).status).toBe(404);
  });
});

describe("looking back is for admins only", () => {
  it("without the admin token 401 (a caller's own token included); with no admin token configured 404", async () => {
    const id = await adasAccount();
    const callers: Record<string, string>[] = [{}, { Authorization: "Bearer dev-ada" }, { Authorization: "Bearer dev-root" }];
    for (const headers of callers) {
      expect((await stateAt(id, "?version=1", headers)).status).toBe(401);
      expect((await dryRunAt(id, "?version=1", { command: "deposit", request: { amount: 1 } }, headers)).status).toBe(401);
    }
    const unconfigured = createGateway<Cloudflare.Env>({ services: [bank], logger: silentLogger, admin: { token: () => undefined, aggregates: [bank] } });
    const answer = await unconfigured.fetch(new Request(`http://gw/v1/streams/account/${id}/state?version=1`, { headers: ADMIN }), env);
    expect(answer.status).toBe(404);
  });
});

/** A form post as the console's own page sends it. */
function form(fields: Record<string, string>, cookie: string): RequestInit {
  return {
    method: "POST",
    body: new URLSearchParams(fields).toString(),
    headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: ORIGIN, "Sec-Fetch-Site": "same-origin", Cookie: cookie },
  };
}

async function login(): Promise<string> {
  const answer = await demo("/console/login", form({ token: "dev-admin", next: "/console" }, ""));
  expect(answer.status).toBe(303);
  return (answer.headers.get("Set-Cookie") ?? "").split(";")[0] ?? "";
}

describe("the console's stream page looks back", () => {
  it("shows the state at a version picked on the page, and a form to dry-run a command against it", async () => {
    const id = await adasAccount();
    const cookie = await login();
    const text = await (await demo(`/console/streams?stream=account&id=${id}&version=1`, { headers: { Cookie: cookie } })).text();
    expect(text).toContain('<h3 id="past">Looking back</h3>');
    expect(text).toContain("State at version 1");
    expect(text).toContain("&quot;balance&quot;: 100");
    expect(text).toContain("Now</dt><dd>version 2, live");
    expect(text).toContain(`action="/console/streams/dry-run#past"`);
    expect(text).toContain('<input type="hidden" name="version" value="1">');
    expect(text).toContain('<option value="withdraw">withdraw</option>');
    // Without a version or time: the form to pick one, and no state.
    const plain = await (await demo(`/console/streams?stream=account&id=${id}`, { headers: { Cookie: cookie } })).text();
    expect(plain).toContain("Show the state then");
    expect(plain).not.toContain("State at version");
    // A time works as well, and a refusal says why.
    const later = await (await demo(`/console/streams?stream=account&id=${id}&version=&at=2999-01-01T00:00:00Z`, { headers: { Cookie: cookie } })).text();
    expect(later).toContain("State at version 2");
    expect(later).toContain('value="2999-01-01T00:00:00Z"');
    const refused = await (await demo(`/console/streams?stream=account&id=${id}&version=7`, { headers: { Cookie: cookie } })).text();
    expect(refused).toContain('role="alert">Refused: version 7 is beyond the stream&#39;s last, 2.</p>');
  });

  it("answers a dry run posted from the page, escaping what it shows, never showing the credentials, storing nothing", async () => {
    const id = await adasAccount();
    const cookie = await login();
    const request = JSON.stringify({ amount: 50, note: "<b>bold</b>" });
    const answer = await demo("/console/streams/dry-run", form({ stream: "account", id, version: "1", command: "withdraw", request, credentials: "Bearer dev-ada" }, cookie));
    expect(answer.status).toBe(200);
    const text = await answer.text();
    expect(text).toContain("What <code>withdraw</code> would have answered at version 1");
    expect(text).toContain("&quot;MoneyWithdrawn&quot;");
    expect(text).toContain("nothing was stored");
    expect(text).toContain("&lt;b&gt;bold&lt;/b&gt;");
    expect(text).not.toContain("<b>bold</b>");
    expect(text).not.toContain("dev-ada");
    expect((await page(id)).version).toBe(2);
    // From another site, or without a session, nothing runs.
    const crossSite = await demo("/console/streams/dry-run", { ...form({ stream: "account", id, version: "1", command: "withdraw", request }, cookie), headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: "https://evil.example", Cookie: cookie } });
    expect(crossSite.status).toBe(403);
    const loggedOut = await (await demo("/console/streams/dry-run", form({ stream: "account", id, version: "1", command: "withdraw", request }, ""))).text();
    expect(loggedOut).toContain('<label for="token">Admin token</label>');
    expect(loggedOut).not.toContain("would have answered");
  });
});

describe("the OpenAPI description", () => {
  it("describes looking back and its dry runs as admin routes", async () => {
    const document = await (await demo("/v1/openapi.json")).json<{ paths: Record<string, Record<string, { operationId: string; security: unknown; parameters: { name: string }[] }>> }>();
    const state = document.paths["/v1/streams/{stream}/{id}/state"]?.["get"];
    const dryRun = document.paths["/v1/streams/{stream}/{id}/state/dry-run"]?.["post"];
    for (const operation of [state, dryRun]) {
      expect(operation?.security).toEqual([{ adminToken: [] }]);
      expect(operation?.parameters.map((parameter) => parameter.name)).toEqual(["stream", "id", "version", "at"]);
    }
    expect([state?.operationId, dryRun?.operationId]).toEqual(["stream_state_at", "stream_dry_run_at"]);
  });
});
