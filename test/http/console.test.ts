import { createExecutionContext, createMessageBatch, evictDurableObject, getQueueResult, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it, vi } from "vitest";
import { ok, Router, silentLogger, type StreamPage } from "../../src/core/index.js";
import { newId } from "../../src/core/shared/ids.js";
import { type RecordedEvent } from "../../src/core/aggregates/stream-store.js";
import { durableObjectConsoleSessions, type ConsoleSessions } from "../../src/pages/console/console-session-object.js";
import { createGateway, type GatewayOptions } from "../../src/worker/index.js";
import { browserPages } from "../../src/pages/index.js";
import type { ConsoleReadSide } from "../../src/pages/console/console-read-side.js";
import { readSidePage, streamsPage, type ReadSideView } from "../../src/pages/console/console-pages.js";
import { NOTICE_TTL_MS, openNotice, sealNotice } from "../../src/pages/console/console-notices.js";
import { CONSOLE_SESSION_MS, hasSession, startSession } from "../../src/pages/console/console-session.js";
import { bankReadSide } from "../../examples/bank/read-side.js";
import { bank } from "../../examples/bank/services.js";
import { alertOf, demo, form, login, ORIGIN, page } from "../support/console-helpers.js";
import { call, eventually, openAccount, tallyCommand, tallyEnvelopes } from "../support/read-side-helpers.js";
import { lostEvents, publishedTallies, sweptTallies, TALLY_TABLES, tallyReadSide } from "../support/test-read-side.js";
import { SqlReadStore } from "../../src/core/readside/sql-read-store.js";
import { d1Executor } from "../../src/worker/readside/d1-executor.js";

/** The console sessions of the test Worker (the demo's CONSOLE_SESSIONS object), for gateways of a test's own. */
const sessions: ConsoleSessions<unknown> = durableObjectConsoleSessions(() => env.CONSOLE_SESSIONS);
const ADA = { Authorization: "Bearer dev-ada" };



/** A sealed notice as it appears in a URL: base64url payload, a dot, base64url signature. */
const SEALED = "[\\w-]+\\.[\\w-]+";



describe("the console's door", () => {
  it("does not exist without an admin token, without the browser pages, without a place for its sessions, or with console: false (404 like any unknown route)", async () => {
    const router = new Router({ authorize: () => "ok" }).service("hello", (m) => ok(m));
    const base: GatewayOptions<Record<string, unknown>> = { services: [router], logger: silentLogger };
    for (const options of [
      { ...base, pages: browserPages({ console: { sessions } }) },
      { ...base, admin: { token: () => "", aggregates: [] }, pages: browserPages({ console: { sessions } }) },
      { ...base, admin: { token: () => "t", aggregates: [] } },
      { ...base, admin: { token: () => "t", aggregates: [] }, pages: browserPages() },
      { ...base, admin: { token: () => "t", aggregates: [] }, pages: browserPages({ console: false }) },
    ]) {
      const app = createGateway<Record<string, unknown>>(options);
      for (const path of ["/console", "/console/streams", "/console/console.css"]) {
        const answer = await app.fetch(new Request(`http://gw${path}`), {});
        expect(answer.status, path).toBe(404);
        expect(await answer.json()).toEqual({ response: { status: "error", reason: "not_found" } });
      }
    }
  });

  it("refuses a URL that is not well-formed percent-encoding (400), as the API does: one key is never spelt two ways", async () => {
    const cookie = await login();
    const answer = await demo("/console/schedules?key=%ED%A0%80", { headers: { Cookie: cookie } });
    expect(answer.status).toBe(400);
    expect(answer.headers.get("Cache-Control")).toBe("no-store");
  });

  it("shows a login form, without the token anywhere in it, under a CSP that allows no script", async () => {
    const answer = await page("/console/streams?stream=account&id=x", "");
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('<label for="token">Admin token</label>');
    expect(answer.text).toContain('name="next" value="/console/streams?stream=account&amp;id=x"');
    expect(answer.text).not.toContain("dev-admin");
    expect(answer.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
    expect(answer.headers.get("Content-Security-Policy")).not.toContain("script-src");
    expect(answer.headers.get("Cache-Control")).toBe("no-store");
    expect(answer.headers.get("X-Frame-Options")).toBe("DENY");
  });

  it("refuses a wrong token, and sets no cookie", async () => {
    const answer = await demo("/console/login", form({ token: "dev-ada" }));
    expect(answer.status).toBe(200);
    expect(await answer.text()).toContain("That is not the admin token.");
    expect(answer.headers.get("Set-Cookie")).toBeNull();
  });

  it("logs in with the admin token: an HttpOnly, SameSite=Strict cookie scoped to the console, holding no token", async () => {
    const answer = await demo("/console/login", form({ token: "dev-admin", next: "/console/schedules?key=k" }));
    expect(answer.status).toBe(303);
    expect(answer.headers.get("Location")).toBe("/console/schedules?key=k");
    const cookie = answer.headers.get("Set-Cookie") ?? "";
    expect(cookie).toMatch(/^x3m_console=/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    expect(cookie).toContain("Path=/console");
    expect(cookie).not.toContain("dev-admin");
  });

  it("never redirects elsewhere after login", async () => {
    for (const next of ["https://evil.example/", "//evil.example/console", "/consolex", "/console/\\evil"]) {
      const answer = await demo("/console/login", form({ token: "dev-admin", next }));
      expect(answer.headers.get("Location"), next).toBe("/console");
    }
  });

  it("refuses posts from another site, and anything but a form", async () => {
    expect((await demo("/console/login", form({ token: "dev-admin" }, "", "https://evil.example"))).status).toBe(403);
    const cookie = await login();
    expect((await demo("/console/schedules/cancel", form({ key: "k", messageId: "m" }, cookie, "https://evil.example"))).status).toBe(403);
    const json = await demo("/console/login", { method: "POST", body: JSON.stringify({ token: "dev-admin" }), headers: { "Content-Type": "application/json" } });
    expect(json.status).toBe(415);
  });

  it("logs out", async () => {
    const cookie = await login();
    const answer = await demo("/console/logout", form({}, cookie));
    expect(answer.status).toBe(303);
    expect(answer.headers.get("Set-Cookie")).toMatch(/^x3m_console=;.*Max-Age=0/);
  });

  it("logging out ends the session on the server: a copy of the cookie kept from before opens nothing", async () => {
    const kept = await login();
    expect((await page("/console", kept)).text).toContain('aria-current="page">Services');
    expect((await demo("/console/logout", form({}, kept))).status).toBe(303);
    for (const path of ["/console", "/console/streams", "/console/schedules?key=k", "/console/read-side"]) {
      const { text } = await page(path, kept);
      expect(text, path).toContain('<label for="token">Admin token</label>');
      expect(text, path).not.toContain('aria-current="page"');
    }
    const cancel = await demo("/console/schedules/cancel", form({ key: "k", messageId: "m" }, kept));
    expect(cancel.status).toBe(200);
    expect(await cancel.text()).toContain("Admin token");
  });

  it("logging out ends every console session, in every browser; logging in again starts a new one", async () => {
    const here = await login();
    const elsewhere = await login();
    await demo("/console/logout", form({}, here));
    expect((await page("/console", elsewhere)).text).toContain("Admin token");
    expect((await page("/console", await login())).text).toContain('aria-current="page">Services');
  });

  it("a logout without a session (no cookie, or a forged one) ends nobody's session", async () => {
    const cookie = await login();
    for (const other of ["", "x3m_console=9999999999999-0.forged"]) {
      expect((await demo("/console/logout", form({}, other))).status).toBe(303);
    }
    expect((await page("/console", cookie)).text).toContain('aria-current="page">Services');
  });

  it("the session generation survives a restart of its object: a session holds across one, and a logout stays done", async () => {
    const object = env.CONSOLE_SESSIONS.get(env.CONSOLE_SESSIONS.idFromName("console"));
    const kept = await login();
    await evictDurableObject(object);
    expect((await page("/console", kept)).text).toContain('aria-current="page">Services');
    await demo("/console/logout", form({}, kept));
    await evictDurableObject(object);
    expect((await page("/console", kept)).text).toContain("Admin token");
  });

  it("the login page says what is true: how long a session lasts, and that logging out ends every session", async () => {
    const { text } = await page("/console", "");
    expect(text).toContain("You stay logged in for 8 hours in this browser");
    expect(text).toContain("Logging out ends every console session, in this browser and any other");
    expect(text).not.toContain("or until you log out");
  });

  it("a session ends when it expires, when the admin token changes, or when the generation moves on", async () => {
    let current = 7;
    const generations: ConsoleSessions<unknown> = { generation: async () => current, endAll: async () => (current += 1) };
    const app = new Hono();
    app.get("/start/:token/:ago", async (c) => {
      await startSession(c, c.req.param("token"), "", generations, {}, Date.now() - Number(c.req.param("ago")));
      return c.text("started");
    });
    app.get("/check/:token", async (c) => c.text(String(await hasSession(c, c.req.param("token"), generations, {}))));
    const cookieOf = async (token: string, ago: number) =>
      ((await app.request(`/start/${token}/${ago}`)).headers.get("Set-Cookie") ?? "").split(";")[0] ?? "";
    const check = async (cookie: string, token: string) => (await app.request(`/check/${token}`, { headers: { Cookie: cookie } })).text();
    expect(await check(await cookieOf("one", 0), "one")).toBe("true");
    expect(await check(await cookieOf("one", 0), "two")).toBe("false");
    expect(await check(await cookieOf("one", CONSOLE_SESSION_MS + 1000), "one")).toBe("false");
    expect(await check("x3m_console=9999999999999-7.forged", "one")).toBe("false");
    const kept = await cookieOf("one", 0);
    current += 1;
    expect(await check(kept, "one")).toBe("false");
    expect(await check(await cookieOf("one", 0), "one")).toBe("true");
  });
});

describe("the console's pages", () => {
  it("lists services with their visibility and node, private ones included", async () => {
    const cookie = await login();
    const { text } = await page("/console", cookie);
    expect(text).toContain('aria-current="page">Services');
    expect(text).toMatch(/<code>greet<\/code><\/th>\s*<td>public<\/td>\s*<td>gateway <span class="muted">\(this Worker\)/);
    expect(text).toMatch(/<code>format_greeting<\/code><\/th>\s*<td>private<\/td>/);
  });

  it("names the other node that offers a service, and says which nodes do not answer", async () => {
    const down = { fetch: async () => new Response("down", { status: 503 }) } as unknown as Fetcher;
    const app = createGateway<{ NODE_A: Fetcher }>({
      services: [],
      logger: silentLogger,
      admin: { token: () => "t", aggregates: [] },
      pages: browserPages({ console: { sessions } }),
      nodes: { a: (e) => e.NODE_A, down: () => down },
    });
    const call = (path: string, init?: RequestInit) => app.fetch(new Request(`${ORIGIN}${path}`, init), { NODE_A: env.NODE_A });
    const cookie = ((await call("/console/login", form({ token: "t" }))).headers.get("Set-Cookie") ?? "").split(";")[0] ?? "";
    const text = await (await call("/console", { headers: { Cookie: cookie } })).text();
    expect(text).toMatch(/<code>echo<\/code><\/th>\s*<td>public<\/td>\s*<td>a <span class="muted">\(remote\)/);
    expect(text).not.toContain("<code>secret</code>");
    expect(text).toContain('<strong>a</strong>: <span class="ok">answering</span>');
    expect(text).toMatch(/<strong>down<\/strong>: <span class="bad">unreachable<\/span> <span class="muted">\(node down answered 503/);
  });

  it("finds an account's events by type and id", async () => {
    const account_id = `acc-${newId()}`;
    const call = (service: string, body: object) => demo(`/v1/services/${service}`, { method: "POST", body: JSON.stringify(body), headers: ADA });
    expect((await call("open_account", { account_id })).status).toBe(201);
    expect((await call("deposit", { account_id, amount: 42 })).status).toBe(200);
    const cookie = await login();
    const { text } = await page(`/console/streams?stream=account&id=${account_id}`, cookie);
    expect(text).toContain(`account-${account_id}`);
    expect(text).toContain("v0 · AccountOpened");
    expect(text).toContain("v1 · MoneyDeposited");
    expect(text).toContain("&quot;amount&quot;: 42");

    const paged = await page(`/console/streams?stream=account&id=${account_id}&limit=1`, cookie);
    expect(paged.text).toContain("v0 · AccountOpened");
    expect(paged.text).not.toContain("MoneyDeposited");
    expect(paged.text).toContain(`from=1&amp;limit=1">Later events`);

    const missing = await page(`/console/streams?stream=account&id=nobody-${newId()}`, cookie);
    expect(alertOf(missing.text)).toBe("Nothing is stored for account with this id.");
  });

  it("shows the snapshot a load starts from: none at first, then the one the account takes every 50 events", async () => {
    const account_id = `acc-${newId()}`;
    const call = (service: string, body: object) => demo(`/v1/services/${service}`, { method: "POST", body: JSON.stringify(body), headers: ADA });
    expect((await call("open_account", { account_id })).status).toBe(201);
    const cookie = await login();
    const shown = async () => (await page(`/console/streams?stream=account&id=${account_id}`, cookie)).text;
    expect(await shown()).toContain("<dt>Snapshot</dt><dd><span class=\"muted\">none: a load replays every event</span>");
    for (let i = 1; i < 50; i += 1) expect((await call("deposit", { account_id, amount: 1 })).status).toBe(200);
    expect(await shown()).toContain("<dt>Snapshot</dt><dd>at version 49 (schema 1): a load replays only the events after it</dd>");
  });

  it("names the costliest aggregate first, by type and by stream, from what the outboxes recorded", async () => {
    const busy = `acc-${newId()}`;
    const quiet = `acc-${newId()}`;
    const send = (service: string, body: object) => demo(`/v1/services/${service}`, { method: "POST", body: JSON.stringify(body), headers: ADA });
    expect((await send("open_account", { account_id: busy })).status).toBe(201);
    expect((await send("open_account", { account_id: quiet })).status).toBe(201);
    for (let i = 0; i < 12; i += 1) expect((await send("deposit", { account_id: busy, amount: 1 })).status).toBe(200);
    // The alarm that follows every commit records what the outbox reached, and what the object cost.
    for (const id of [busy, quiet]) await runDurableObjectAlarm(env.ACCOUNTS.get(env.ACCOUNTS.idFromName(`account-${id}`)));
    const text = (await page("/console/costs", await login())).text;
    expect(text).toContain("<h2 id=\"types\">By aggregate type</h2>");
    expect(text).toMatch(/<th scope="row">account<\/th><td>\d+<\/td><td>\d+<\/td>/);
    const [busyAt, quietAt] = [text.indexOf(`account-${busy}`), text.indexOf(`account-${quiet}`)];
    expect(busyAt).toBeGreaterThan(0);
    expect(quietAt).toBeGreaterThan(busyAt);
    // The busy account's row: 13 commands, the rows its 13 commits wrote.
    expect(text).toMatch(new RegExp(`account-${busy}</a></th><td>13</td>`));
  });

  it("shows the jurisdiction a stream lives in", async () => {
    const account_id = `acc-${newId()}`;
    const call = (service: string, body: object) => demo(`/v1/services/${service}`, { method: "POST", body: JSON.stringify(body), headers: ADA });
    expect((await call("open_account", { account_id, region: "eu" })).status).toBe(201);
    const cookie = await login();
    expect((await page(`/console/streams?stream=account&id=${account_id}`, cookie)).text).toContain("<dt>Jurisdiction</dt><dd>eu</dd>");
  });

  it("says whether a stream's events were all sent to the read side, and how many were not", async () => {
    const account_id = `acc-${newId()}`;
    expect((await demo("/v1/services/open_account", { method: "POST", body: JSON.stringify({ account_id }), headers: ADA })).status).toBe(201);
    const cookie = await login();
    // The demo's account publishes right after each commit.
    await vi.waitFor(async () => expect((await page(`/console/streams?stream=account&id=${account_id}`, cookie)).text).toContain("<dt>Read side</dt><dd>every event sent</dd>"));
    const streamPage: StreamPage = { stream: "account-a", status: "live", version: 3, events: [], nextFrom: null, snapshot: null, followUps: [], followUpOutcomes: [], unpublished: 2 };
    const html = String(await streamsPage("", { streams: ["account"], stream: "account", id: "a", from: 0, limit: 10, open: false, page: streamPage, problem: null, listing: null }));
    expect(html).toContain("2 events not yet sent");
  });

  it("lists how the aggregate's recent follow-ups ended otherwise (denied, given up), with why; nothing when none did", async () => {
    const denied = { at: "2026-01-01T00:00:00.000Z", messageId: "loan-l:0:reminder", owner: "pat", key: "reminder", service: "remind", outcome: "denied" as const, reason: "principal_unknown", attempts: 1, response: null };
    const streamPage: StreamPage = { stream: "loan-l", status: "live", version: 0, events: [], nextFrom: null, snapshot: null, followUps: [], followUpOutcomes: [denied] };
    const html = String(await streamsPage("", { streams: ["loan"], stream: "loan", id: "l", from: 0, limit: 10, open: false, page: streamPage, problem: null, listing: null }));
    expect(html).toContain("Follow-ups that ended otherwise");
    expect(html).toContain("<td>denied</td><td><code>principal_unknown</code></td>");
    const quiet = String(await streamsPage("", { streams: ["loan"], stream: "loan", id: "l", from: 0, limit: 10, open: false, page: { ...streamPage, followUpOutcomes: [] }, problem: null, listing: null }));
    expect(quiet).not.toContain("Follow-ups that ended otherwise");
  });

  it("shows the stored and the current shape of an upcast event", async () => {
    const event = {
      version: 3,
      type: "MoneyDeposited",
      data: { amount: { value: 5, currency: "EUR" } },
      metadata: { messageId: "m", correlationId: "c", causationId: "c", service: "deposit" },
      recordedAt: "2026-01-01T00:00:00.000Z",
      schemaVersion: 2,
      stored: { data: { amount: 5 }, schemaVersion: 1 },
    } as RecordedEvent;
    const streamPage: StreamPage = { stream: "account-a", status: "live", version: 3, events: [event], nextFrom: null, snapshot: { version: 2, schema: 1 }, followUps: [], followUpOutcomes: [] };
    const html = String(await streamsPage("", { streams: ["account"], stream: "account", id: "a", from: 3, limit: 1, open: false, page: streamPage, problem: null, listing: null }));
    expect(html).toContain("Current shape (upcast, schema v2)");
    expect(html).toContain("Stored shape (schema v1)");
    expect(html).toContain("<dt>Schema version</dt><dd>2</dd>");
    expect(html).toContain(">Earlier events</a>");
  });

  it("shows a schedule in a time zone at its local time, with its zone and missed-run policy, and no separate next try", async () => {
    const key = `key-${newId()}`;
    const scheduled = await demo("/v1/schedules", {
      method: "POST",
      headers: ADA,
      body: JSON.stringify({ service: "greet", request: { name: "Ada" }, key, cron: "0 9 * * *", timeZone: "Asia/Kolkata", missed: "skip" }),
    });
    expect(scheduled.status).toBe(202);
    const listed = await page(`/console/schedules?key=${key}`, await login());
    expect(listed.text).toMatch(/\d{4}-\d{2}-\d{2} 09:00:00 \+05:30<\/time>/);
    expect(listed.text).toContain("cron 0 9 * * * (Asia/Kolkata), missed runs: skipped");
    expect(listed.text).not.toContain("next try");
  });

  it("lists a key's pending schedules and cancels one", async () => {
    const key = `key-${newId()}`;
    const scheduled = await demo("/v1/schedules", {
      method: "POST",
      headers: ADA,
      body: JSON.stringify({ service: "greet", request: { name: "Ada" }, key, in: 3_600_000 }),
    });
    expect(scheduled.status).toBe(202);
    const { messageId } = (await scheduled.json()) as { messageId: string };
    const cookie = await login();
    const listed = await page(`/console/schedules?key=${key}`, cookie);
    expect(listed.text).toContain(messageId);
    expect(listed.text).toMatch(/in (59 min|1 h)</);
    expect(listed.text).toContain("on time");

    const cancelled = await demo("/console/schedules/cancel", form({ key, messageId }, cookie));
    expect(cancelled.status).toBe(303);
    expect(cancelled.headers.get("Location")).toMatch(new RegExp(`^/console/schedules\\?key=${key}&notice=${SEALED}$`));
    const after = await page(cancelled.headers.get("Location") ?? "", cookie);
    expect(after.text).toContain(`role="status">Cancelled <code>${messageId}</code>`);
    expect(after.text).toContain("Nothing is pending for");

    const again = await demo("/console/schedules/cancel", form({ key, messageId }, cookie));
    expect(again.headers.get("Location")).toMatch(new RegExp(`^/console/schedules\\?key=${key}&notice=${SEALED}$`));
    expect((await page(again.headers.get("Location") ?? "", cookie)).text).toContain(`role="alert">${messageId} was no longer pending.`);
  });

  it("cannot cancel without a session", async () => {
    const answer = await demo("/console/schedules/cancel", form({ key: "k", messageId: "m" }));
    expect(answer.status).toBe(200);
    expect(await answer.text()).toContain("Admin token");
  });

});

/** The streams the demo's catalog recorded last, newest first (what the console lists). */
const recentlyRecorded = (limit = 25) => bankReadSide.store(env).recentStreams({ before: null, limit });

/** The rows of a page's table of streams: each stream's name as shown, and its link if any. */
function streamRows(text: string): { name: string; href: string | null }[] {
  const table = text.slice(text.indexOf('<h2 id="found">'));
  return [...table.matchAll(/<th scope="row" class="mono">(?:<a href="([^"]*)">([^<]*)<\/a>|([^<]*?) <span)/g)].map((row) => ({
    name: row[2] ?? row[3] ?? "",
    href: row[1]?.replace(/&amp;/g, "&") ?? null,
  }));
}

describe("the console finds streams and schedules without knowing an id", () => {
  it("lists the most recently written streams first, each linked to its events", async () => {
    const older = await openAccount("ada");
    await eventually(() => recentlyRecorded(), (found) => found.some((entry) => entry.streamName === `account-${older}`));
    const newer = await openAccount("bob");
    await eventually(() => recentlyRecorded(), (found) => found.some((entry) => entry.streamName === `account-${newer}`));

    const { text } = await page("/console/streams", await login());
    expect(text).toContain('<h2 id="found">Recently written streams</h2>');
    const rows = streamRows(text);
    const names = rows.map((row) => row.name);
    expect(names.indexOf(`account-${newer}`)).toBeGreaterThanOrEqual(0);
    expect(names.indexOf(`account-${newer}`)).toBeLessThan(names.indexOf(`account-${older}`));
    expect(rows.find((row) => row.name === `account-${newer}`)?.href).toBe(`/console/streams?stream=account&id=${newer}`);
    expect(text).not.toContain('role="alert"');
  });

  it("pages back through older streams with the page's own cursor, newest first", async () => {
    // Streams of a type nobody follows, recorded in 2000: older than anything else in the catalog.
    const type = `probe${newId().replace(/-/g, "").slice(0, 8)}`;
    const seen = (n: number) => `2000-01-01T00:00:${String(n).padStart(2, "0")}.000Z`;
    for (let n = 0; n < 27; n += 1) {
      const store = new SqlReadStore(d1Executor(env.READ_MODELS), { now: () => seen(n) });
      await store.record([{ stream: type, streamName: `${type}-${String(n).padStart(2, "0")}`, version: n }]);
    }
    const cookie = await login();
    const first = await page(`/console/streams?before=${encodeURIComponent("2000-01-02T00:00:00.000Z,")}`, cookie);
    const names = streamRows(first.text).map((row) => row.name);
    expect(names).toEqual(Array.from({ length: 25 }, (_, i) => `${type}-${String(26 - i).padStart(2, "0")}`));
    // Not a type the console reads: listed, not linked.
    expect(first.text).toContain(`${type}-26 <span class="muted">(not an admin aggregate)</span>`);
    const older = /<a href="([^"]*)#found">Older streams<\/a>/.exec(first.text)?.[1]?.replace(/&amp;/g, "&") ?? "";
    expect(older).toBe(`/console/streams?before=${encodeURIComponent(`${seen(2)},${type}-02`)}`);
    const next = await page(older, cookie);
    expect(streamRows(next.text).map((row) => row.name).slice(0, 2)).toEqual([`${type}-01`, `${type}-00`]);
    expect(next.text).toContain(">Most recent streams</a>");
    // A cursor that is not one starts from the newest.
    expect((await page("/console/streams?before=yesterday", cookie)).text).not.toContain(">Most recent streams</a>");
  });

  it("lists an aggregate type's streams whose id starts with what was typed, when no stream has it", async () => {
    const stem = `pfx-${newId()}`;
    for (const suffix of ["b", "a"]) expect((await call("open_account", { account_id: `${stem}-${suffix}` })).status).toBe(201);
    expect((await call("open_account", { account_id: `${stem}x` })).status).toBe(201);
    await eventually(() => bankReadSide.store(env).streams("account", { after: `account-${stem}`, limit: 5 }), (found) => found.length >= 3);
    const cookie = await login();

    const typed = await page(`/console/streams?stream=account&id=${stem}-`, cookie);
    expect(alertOf(typed.text)).toBe("Nothing is stored for account with this id.");
    expect(typed.text).toContain('<h2 id="found">Streams whose id starts with the id given</h2>');
    expect(streamRows(typed.text)).toEqual(
      ["a", "b"].map((suffix) => ({ name: `account-${stem}-${suffix}`, href: `/console/streams?stream=account&id=${stem}-${suffix}` })),
    );
    // A stream that exists shows its events, with a way to its neighbours.
    const exact = await page(`/console/streams?stream=account&id=${stem}-a`, cookie);
    expect(exact.text).toContain("v0 · AccountOpened");
    expect(exact.text).toContain(`href="/console/streams?stream=account&amp;prefix=${stem}-a#found"`);
    const neighbours = await page(`/console/streams?stream=account&prefix=${stem}`, cookie);
    expect(streamRows(neighbours.text).map((row) => row.name)).toEqual([`account-${stem}-a`, `account-${stem}-b`, `account-${stem}x`]);
    expect(neighbours.text).toContain(`value="${stem}"`);
    expect(neighbours.text).not.toContain('role="alert"');

    const nothing = await page(`/console/streams?stream=account&prefix=${stem}-zz`, cookie);
    expect(nothing.text).toContain("No <code>account</code> stream in the catalog has an id that starts with it.");
    const refused = await page(`/console/streams?stream=account&prefix=%20x`, cookie);
    expect(alertOf(refused.text)).toBe("The id must not start or end with whitespace.");
  });

  it("folds each event under a line saying what it is, opens them all on request, and pages by the number asked", async () => {
    const account_id = await openAccount("ada");
    for (const amount of [5, 6, 7]) expect((await call("deposit", { account_id, amount })).status).toBe(200);
    const cookie = await login();
    const folded = await page(`/console/streams?stream=account&id=${account_id}&limit=2`, cookie);
    expect(folded.text).toMatch(/<details id="event-0">\s*<summary><span class="event-title">v0 · AccountOpened<\/span> <span class="muted">· <time datetime="[^"]+">[^<]+ UTC<\/time> · open_account<\/span><\/summary>/);
    expect(folded.text).toContain('<details id="event-1">');
    expect(folded.text).not.toContain('<details id="event-2"');
    expect(folded.text).not.toMatch(/<details[^>]* open>/);
    expect(folded.text).toContain(`&amp;from=2&amp;limit=2">Later events</a>`);
    expect(folded.text).toContain(`&amp;from=2&amp;limit=2">Latest events</a>`);
    expect(folded.text).toContain(`&amp;from=0&amp;limit=2&amp;open=1">Open every event</a>`);

    const opened = await page(`/console/streams?stream=account&id=${account_id}&from=2&limit=2&open=1`, cookie);
    expect(opened.text).toContain('<details id="event-3" open>');
    expect(opened.text).toContain("&quot;amount&quot;: 7");
    expect(opened.text).toContain(`&amp;from=0&amp;limit=2&amp;open=1">First events</a>`);
    expect(opened.text).toContain(`&amp;from=2&amp;limit=2">Fold every event</a>`);
    expect(opened.text).not.toContain("Later events");
  });

  it("shows a transfer's pending follow-up on its stream, and on the schedules page without a key", async () => {
    const from = await openAccount("ada", 50);
    const to = await openAccount("bob");
    const transfer_id = `t-${newId()}`;
    // Its event never reaches the transfer process: the transfer stays requested, its check pending.
    lostEvents.on = true;
    try {
      expect((await call("transfer", { transfer_id, from, to, amount: 5 })).status).toBe(201);
      await eventually(() => recentlyRecorded(), (found) => found.some((entry) => entry.streamName === `transfer-${transfer_id}`));
    } finally {
      lostEvents.on = false;
    }
    const cookie = await login();
    const stream = await page(`/console/streams?stream=transfer&id=${transfer_id}`, cookie);
    const followUps = tableOf(stream.text, "1 pending, soonest first");
    expect(followUps).toMatch(/<th scope="row"><code>check<\/code><\/th><td><code>check_transfer<\/code><\/td><td><time datetime="[^"]+">[^<]+<\/time><br><span class="muted">in \d+ (s|min)<\/span><\/td><td>0<\/td><td>once<\/td><td>system:transfers<\/td>/);

    const schedules = await page("/console/schedules", cookie);
    expect(schedules.text).toContain('<h2 id="follow-ups">Follow-ups of the most recently written streams</h2>');
    expect(schedules.text).toContain(`<a href="/console/streams?stream=transfer&amp;id=${transfer_id}">transfer-${transfer_id}</a></th><td><code>check</code></td><td><code>check_transfer</code></td>`);
    // With a key, the key's schedules: no follow-ups section.
    expect((await page("/console/schedules?key=k", cookie)).text).not.toContain('id="follow-ups"');
  });

  it("without a read side, says that streams are found by exact id only, and follow-ups not at all", async () => {
    const reads = await ownConsole({ admin: { token: () => "t", aggregates: [bank] } });
    expect(await reads.text("/console/streams")).toContain("Streams are listed from the read side&#39;s catalog, and this console has no read side");
    expect(await reads.text("/console/schedules")).toContain("Follow-ups are found through the read side&#39;s catalog, and this console has no read side");
  });
});

describe("the console shows only the notices it made, never text from its URL", () => {
  const PHISH = "Session expired. Log in again at https://evil.example/console";
  const quoted = encodeURIComponent(PHISH);

  it("a cancel's outcome put in the schedules page's URL by hand is not shown", async () => {
    const cookie = await login();
    for (const field of ["cancelled", "missing", "failed"]) {
      const { text } = await page(`/console/schedules?key=k&${field}=${quoted}`, cookie);
      expect(text, field).not.toContain("evil.example");
      expect(text, field).not.toMatch(/role="(status|alert)"/);
    }
  });

  it("a rebuild's report, a refusal or a failure put in the read side page's URL by hand is not shown", async () => {
    const cookie = await login();
    for (const query of [
      `refused=${quoted}`,
      `failed=${quoted}`,
      `done=rebuild&subscriber=${quoted}&streams=1&of=1&events=1&ms=1&failed_streams=0`,
      `done=rebuild&subscriber=bank_accounts&streams=1&of=1&events=1&ms=1&failed_streams=1&failed_stream=x&failed_error=${quoted}`,
    ]) {
      const { text } = await page(`/console/read-side?${query}`, cookie);
      expect(text, query).not.toContain("evil.example");
      expect(text, query).not.toMatch(/role="(status|alert)"/);
    }
  });

  it("the streams page's alerts name nothing that came in its URL", async () => {
    const cookie = await login();
    const unknownType = await page(`/console/streams?stream=${quoted}&id=x`, cookie);
    expect(alertOf(unknownType.text)).toBe("There is no such aggregate type.");
    expect(unknownType.text).not.toContain("evil.example");
    const unknownId = await page(`/console/streams?stream=account&id=${quoted}`, cookie);
    expect(alertOf(unknownId.text)).toBe("Nothing is stored for account with this id.");
  });

  it("a notice is shown only when sealed under this admin token, for this page, and not expired", async () => {
    const sealed = await sealNotice("t", "schedules", { cancelled: "m-1" });
    expect(await openNotice("t", "schedules", sealed)).toEqual({ cancelled: "m-1" });
    expect(await openNotice("other", "schedules", sealed)).toBeNull();
    expect(await openNotice("t", "read-side", sealed)).toBeNull();
    expect(await openNotice("t", "schedules", sealed, Date.now() + NOTICE_TTL_MS + 1)).toBeNull();
    const [payload = "", signature = ""] = sealed.split(".");
    const altered = btoa(JSON.stringify({ page: "schedules", expiresAt: Date.now() + 1000, fields: { cancelled: PHISH } })).replace(/=+$/, "");
    expect(await openNotice("t", "schedules", `${altered}.${signature}`)).toBeNull();
    expect(await openNotice("t", "schedules", `${payload}.${signature.slice(1)}`)).toBeNull();
    for (const junk of ["", ".", "x.y", "%%%.%%%", `${payload}.`, "a".repeat(5000)]) expect(await openNotice("t", "schedules", junk), junk).toBeNull();

    // On a page: a notice sealed under another token is not shown; one sealed under this one is.
    const cookie = await login();
    const forged = await sealNotice("not-the-admin-token", "schedules", { cancelled: PHISH });
    expect((await page(`/console/schedules?key=k&notice=${forged}`, cookie)).text).not.toContain("evil.example");
    const genuine = await sealNotice("dev-admin", "schedules", { cancelled: "m-2" });
    expect((await page(`/console/schedules?key=k&notice=${genuine}`, cookie)).text).toContain('role="status">Cancelled <code>m-2</code>');
  });
});

/** A gateway of its own whose console has admin token "t", logged in: its pages and form posts. */
async function ownConsole(options: Partial<GatewayOptions<Cloudflare.Env>> & { readSide?: ConsoleReadSide<Cloudflare.Env> }) {
  const { readSide, ...rest } = options;
  const pages = browserPages<Cloudflare.Env>({ console: readSide === undefined ? { sessions } : { sessions, readSide } });
  const app = createGateway<Cloudflare.Env>({ services: [], logger: silentLogger, admin: { token: () => "t", aggregates: [] }, pages, ...rest });
  const fetch = (path: string, init?: RequestInit) => app.fetch(new Request(`${ORIGIN}${path}`, { redirect: "manual", ...init }), env);
  const cookie = ((await fetch("/console/login", form({ token: "t" }))).headers.get("Set-Cookie") ?? "").split(";")[0] ?? "";
  return {
    text: async (path: string) => (await fetch(path, { headers: { Cookie: cookie } })).text(),
    post: (path: string, fields: Record<string, string>) => fetch(path, form(fields, cookie)),
  };
}

/** The table whose caption starts with `caption`, from a page's HTML ("" when there is none). */
function tableOf(text: string, caption: string): string {
  const start = text.indexOf(`<caption>${caption}`);
  return start < 0 ? "" : text.slice(start, text.indexOf("</table>", start));
}

/** A stream's row in a checkpoint table: its name, the version seen, the checkpoint, the lag. */
function checkpointRow(table: string, streamName: string): string[] | null {
  const row = new RegExp(`<tr><th scope="row" class="mono">${streamName}</th><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>`).exec(table);
  return row === null ? null : row.slice(1);
}

/** The demo's bank_accounts row of an account: its balance as the read model has it. */
async function listedBalance(account_id: string): Promise<number | null> {
  return (await env.READ_MODELS.prepare("SELECT balance FROM bank_accounts WHERE id = ?").bind(account_id).first<number>("balance")) ?? null;
}

/** An account with `deposit` in it, once both projections of the demo have applied all of it. */
async function deliveredAccount(deposit: number): Promise<{ account_id: string; streamName: string }> {
  const account_id = await openAccount("ada", deposit);
  const streamName = `account-${account_id}`;
  const projections = ["bank_accounts", "bank_totals"];
  await eventually(
    () => bankReadSide.store(env).checkpoints(projections, [streamName]),
    (found) => projections.every((name) => found.get(name)?.get(streamName) === 1),
  );
  return { account_id, streamName };
}

/**
 * A tally with 1, 13 and 2 added, delivered to the test read side for the last time allowed: the
 * superstitious projection fails on 13 and dead-letters it and what follows; test_tally applies all.
 */
async function unluckyTally(): Promise<string> {
  await env.READ_MODELS.batch(TALLY_TABLES.map((s) => env.READ_MODELS.prepare(s.sql)));
  const id = newId();
  for (const amount of [1, 13, 2]) await tallyCommand("add", { id, amount });
  const envelopes = await tallyEnvelopes(id);
  const batch = createMessageBatch("x3m-bank-events", envelopes.map((body) => ({ id: newId(), timestamp: new Date(), attempts: 3, body })));
  const ctx = createExecutionContext();
  await tallyReadSide.queue(batch, env, ctx);
  expect((await getQueueResult(batch, ctx)).explicitAcks).toHaveLength(3);
  return `tally-${id}`;
}

describe("the console's read side page", () => {
  it("lists each subscriber with its kind and the aggregate types it follows; only projections get rebuild buttons", async () => {
    const { text } = await page("/console/read-side", await login());
    expect(text).toContain('aria-current="page">Read side');
    expect(text).not.toContain("Not built yet");
    const subscribers = tableOf(text, "3 subscribers");
    expect(subscribers).toMatch(/<code>bank_accounts<\/code><\/th>\s*<td>projection<\/td>\s*<td><code>account<\/code><\/td>/);
    expect(subscribers).toMatch(/<code>bank_totals<\/code><\/th>\s*<td>projection<\/td>/);
    expect(subscribers).toMatch(/<code>transfers<\/code><\/th>\s*<td>process manager<\/td>\s*<td><code>transfer<\/code><\/td>/);
    for (const name of ["bank_accounts", "bank_totals"]) {
      expect(subscribers).toContain(`aria-label="Rebuild ${name}"`);
      expect(subscribers).toContain(`aria-label="Catch up ${name}"`);
    }
    // A catch-up applies only what a subscriber missed: any subscriber gets one; a rebuild only a projection.
    expect(subscribers).toContain('aria-label="Catch up transfers"');
    expect(subscribers).not.toMatch(/aria-label="Rebuild transfers/);
    expect(subscribers).toContain("not rebuilt: it would start its processes again");
  });

  it("shows an account stream's version seen, each projection's checkpoint on it and no lag once its deposits are delivered", async () => {
    const { account_id, streamName } = await deliveredAccount(30);
    expect((await call("deposit", { account_id, amount: 12 })).status).toBe(200);
    await eventually(() => bankReadSide.store(env).checkpoints(["bank_accounts", "bank_totals"], [streamName]), (found) =>
      [...found.values()].every((checkpoints) => checkpoints.get(streamName) === 2),
    );

    const { text } = await page(`/console/read-side?stream=account&from=${streamName}`, await login());
    expect(text).toMatch(/\d+ account streams? in the catalog; \d+ shown from <code>account-/);
    for (const projection of ["bank_accounts", "bank_totals"]) {
      const table = tableOf(text, `<code>${projection}</code> (projection) on <code>account</code> streams`);
      // Asked to start at this stream, the table does.
      expect(/<th scope="row" class="mono">([^<]*)<\/th>/.exec(table)?.[1], projection).toBe(streamName);
      expect(checkpointRow(table, streamName), projection).toEqual(["v2", "v2", '<span class="ok">up to date</span>']);
    }
  });

  it("shows how far a projection that keeps failing lags behind, and its dead letters with their errors", async () => {
    const streamName = await unluckyTally();
    const reads = await ownConsole({ readSide: tallyReadSide });
    const text = await reads.text(`/console/read-side?stream=tally&from=${streamName}`);
    const applied = tableOf(text, "<code>test_tally</code> (projection) on <code>tally</code> streams");
    expect(checkpointRow(applied, streamName)).toEqual(["v2", "v2", '<span class="ok">up to date</span>']);
    const failing = tableOf(text, "<code>test_superstitious</code> (projection) on <code>tally</code> streams");
    expect(checkpointRow(failing, streamName)).toEqual(["v2", "v0", '<span class="badge warn">2 behind</span>']);

    const letters = text.slice(text.indexOf('<h2 id="dead-letters">'));
    const rows = [...letters.matchAll(/<tr>\s*<th scope="row"><code>(.*?)<\/code><\/th>\s*<td class="mono">(.*?)<\/td>\s*<td>(.*?)<\/td>\s*<td>(.*?)<\/td>\s*<td><pre>(.*?)<\/pre><\/td>\s*<td><time datetime="[^"]+">\d{4}-\d\d-\d\d [\d:]+ UTC<\/time><\/td>/g)];
    // Newest first: the event after 13 was given up on last.
    expect(rows.map((row) => row.slice(1)).filter((row) => row[1] === streamName)).toEqual([
      ["test_superstitious", streamName, "v2", "3", "handler failed: 13 is unlucky"],
      ["test_superstitious", streamName, "v1", "3", "handler failed: 13 is unlucky"],
    ]);
  });

  it("rebuilds a projection through its form: the damaged read model is whole again, and the page says what was replayed", async () => {
    const { account_id } = await deliveredAccount(40);
    await env.READ_MODELS.prepare("UPDATE bank_accounts SET balance = -1 WHERE id = ?").bind(account_id).run();
    const cookie = await login();

    const answer = await demo("/console/read-side/rebuild", form({ subscriber: "bank_accounts" }, cookie));
    expect(answer.status).toBe(303);
    const location = answer.headers.get("Location") ?? "";
    expect(location).toMatch(new RegExp(`^/console/read-side\\?notice=${SEALED}$`));
    expect(await listedBalance(account_id)).toBe(40);
    const { text } = await page(location, cookie);
    expect(text).toMatch(/role="status">Rebuilt <code>bank_accounts<\/code>: (\d+) of \1 streams?, \d+ events? replayed in \d+ (ms|s)\./);
  });

  it("catches up a projection through its form: a stream it lost is applied again", async () => {
    const streamName = await unluckyTally();
    const id = streamName.slice("tally-".length);
    await env.READ_MODELS.batch([
      env.READ_MODELS.prepare("DELETE FROM x3m_checkpoints WHERE subscriber = 'test_tally' AND stream = ?").bind(streamName),
      env.READ_MODELS.prepare("DELETE FROM test_tally WHERE id = ?").bind(id),
      env.READ_MODELS.prepare("DELETE FROM test_tally_log WHERE stream = ?").bind(streamName),
    ]);
    const reads = await ownConsole({ readSide: tallyReadSide });
    const behind = await reads.text(`/console/read-side?stream=tally&from=${streamName}`);
    expect(checkpointRow(tableOf(behind, "<code>test_tally</code>"), streamName)).toEqual(["v2", '<span class="muted">none</span>', '<span class="badge warn">3 behind</span>']);

    const answer = await reads.post("/console/read-side/catch-up", { subscriber: "test_tally" });
    const caughtUp = await reads.text(answer.headers.get("Location") ?? "");
    expect(caughtUp).toMatch(/role="status">Caught up <code>test_tally<\/code>: \d+ of \d+ streams?, \d+ events? applied in/);
    expect(await env.READ_MODELS.prepare("SELECT total FROM test_tally WHERE id = ?").bind(id).first("total")).toBe(16);
    const after = await reads.text(`/console/read-side?stream=tally&from=${streamName}`);
    expect(checkpointRow(tableOf(after, "<code>test_tally</code>"), streamName)).toEqual(["v2", "v2", '<span class="ok">up to date</span>']);
  });

  it("refuses a rebuild without a session, or posted from another site: the read model stays as it was", async () => {
    const { account_id } = await deliveredAccount(25);
    await env.READ_MODELS.prepare("UPDATE bank_accounts SET balance = -1 WHERE id = ?").bind(account_id).run();

    const anonymous = await demo("/console/read-side/rebuild", form({ subscriber: "bank_accounts" }));
    expect(anonymous.status).toBe(200);
    expect(await anonymous.text()).toContain("Admin token");
    const crossSite = await demo("/console/read-side/rebuild", form({ subscriber: "bank_accounts" }, await login(), "https://evil.example"));
    expect(crossSite.status).toBe(403);
    expect(await listedBalance(account_id)).toBe(-1);
  });

  it("refuses to rebuild a process manager, or to replay a subscriber that does not exist, and says why", async () => {
    const cookie = await login();
    const said = new Map<string, string | undefined>();
    for (const [path, subscriber] of [
      ["rebuild", "transfers"],
      ["rebuild", "nobody"],
    ] as const) {
      const answer = await demo(`/console/read-side/${path}`, form({ subscriber }, cookie));
      const location = answer.headers.get("Location") ?? "";
      expect(location, `${path} ${subscriber}`).toMatch(new RegExp(`^/console/read-side\\?notice=${SEALED}$`));
      said.set(subscriber, alertOf((await page(location, cookie)).text));
    }
    expect(said.get("transfers")).toBe(
      "transfers is a process manager: it is never rebuilt, since replaying its events would start its processes again. Catch up starts only the ones it missed.",
    );
    expect(said.get("nobody")).toBe("There is no subscriber nobody.");
  });

  it("catches up a process manager: it starts the process of a transfer whose event it missed, and only that one", async () => {
    const from = await openAccount("ada", 50);
    const to = await openAccount("bob");
    lostEvents.on = true;
    const transfer_id = `t-${newId()}`;
    try {
      expect((await call("transfer", { transfer_id, from, to, amount: 20 })).status).toBe(201);
      await eventually(async () => lostEvents.lost, (lost) => lost >= 1);
    } finally {
      lostEvents.on = false;
    }
    const cookie = await login();
    const answer = await demo("/console/read-side/catch-up", form({ subscriber: "transfers" }, cookie));
    const location = answer.headers.get("Location") ?? "";
    expect(location).toMatch(new RegExp(`^/console/read-side\\?notice=${SEALED}$`));
    expect((await page(location, cookie)).text).toMatch(/Caught up <code>transfers<\/code>: \d+ of \d+ streams?, \d+ events? applied/);
    await eventually(async () => (await call("get_transfer", { transfer_id })).body.response, (r) => r.status === "ok" && (r.payload as { status: string }).status === "completed");
  });

  it("sweeps now: what the queue lost reaches the subscribers, and the page says what was done", async () => {
    await env.READ_MODELS.batch(TALLY_TABLES.map((s) => env.READ_MODELS.prepare(s.sql)));
    const id = `t-${newId()}`;
    await tallyCommand("add", { id, amount: 7 });
    // Its queue message reaches a handler that only records it: lost to the read side.
    await eventually(async () => publishedTallies.some((e) => e.kind === "event" && e.event.streamName === `tally-${id}`), (sent) => sent);
    const reads = await ownConsole({ readSide: sweptTallies });
    const answer = await reads.post("/console/read-side/sweep", {});
    expect(answer.status).toBe(303);
    const text = await reads.text(answer.headers.get("Location") ?? "");
    expect(text).toMatch(/Swept: \d+ streams? looked at, \d+ subscribers?(&#39;|')s? streams? caught up with \d+ events?/);
    const row = await env.READ_MODELS.prepare("SELECT total FROM test_tally WHERE id = ?").bind(id).first<{ total: number }>();
    expect(row).toEqual({ total: 7 });
    expect(text).toContain('action="/console/read-side/sweep"');
  });

  it("says plainly when the Worker has no read side, and rebuilds nothing", async () => {
    const reads = await ownConsole({});
    const text = await reads.text("/console/read-side");
    expect(text).toContain("This Worker has no read side");
    expect(text).not.toContain("Not built yet");
    expect(text).not.toContain("Rebuild");
    expect((await reads.post("/console/read-side/rebuild", { subscriber: "bank_accounts" })).headers.get("Location")).toBe("/console/read-side");
  });

  it("says a rebuild that ran out of the request's time is incomplete, and how to finish it; escapes what it shows", () => {
    const view: ReadSideView = {
      subscribers: [{ name: "big", kind: "projection", streams: ["account"] }],
      streams: ["account"],
      catalog: null,
      deadLetters: [{ subscriber: "big", streamName: "account-<b>", version: 3, error: "<script>alert(1)</script>", attempts: 5, envelope: null, recordedAt: "2026-01-01T00:00:00.000Z" }],
      deadLetterLimit: 50,
      replayBudgetMs: 20_000,
      report: { action: "rebuild", subscriber: "big", streamsDone: 340, streamsTotal: 5000, events: 12_000, elapsedMs: 20_004, stopped: true, failedCount: 0, firstFailure: null },
      sweep: null,
      refused: null,
      failed: null,
      problem: null,
    };
    const text = String(readSidePage("", view));
    expect(text).toContain("The rebuild of <code>big</code> stopped at this request's limit (20 s): 340 of 5000 streams, 12000 events replayed in 20 s.");
    expect(text).toContain("Its read model is incomplete until the other streams are applied: press <strong>Catch up</strong>");
    expect(text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(text).toContain("account-&lt;b&gt;");
    expect(text).not.toContain("<script>");
  });
});
