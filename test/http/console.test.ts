import { env, exports } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { newId, ok, Router, silentLogger, type RecordedEvent, type StreamPage } from "../../src/core/index.js";
import { createGateway, type GatewayOptions } from "../../src/worker/index.js";
import { streamsPage } from "../../src/worker/console/console-pages.js";
import { CONSOLE_SESSION_MS, hasSession, startSession } from "../../src/worker/console/console-session.js";

const ORIGIN = "http://demo";
const demo = (path: string, init?: RequestInit) => exports.default.fetch(`${ORIGIN}${path}`, { redirect: "manual", ...init });
const ADA = { Authorization: "Bearer dev-ada" };

/** A form post as a browser on `origin` sends it. */
function form(fields: Record<string, string>, cookie = "", origin = ORIGIN): RequestInit {
  return {
    method: "POST",
    body: new URLSearchParams(fields).toString(),
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Origin: origin,
      "Sec-Fetch-Site": origin === ORIGIN ? "same-origin" : "cross-site",
      ...(cookie === "" ? {} : { Cookie: cookie }),
    },
  };
}

/** Logs in to the demo's console and returns the session cookie to send back. */
async function login(): Promise<string> {
  const answer = await demo("/console/login", form({ token: "dev-admin", next: "/console" }));
  expect(answer.status).toBe(303);
  const setCookie = answer.headers.get("Set-Cookie") ?? "";
  return setCookie.split(";")[0] ?? "";
}

async function page(path: string, cookie: string): Promise<{ status: number; text: string; headers: Headers }> {
  const answer = await demo(path, { headers: { Cookie: cookie } });
  return { status: answer.status, text: await answer.text(), headers: answer.headers };
}

describe("the console's door", () => {
  it("does not exist without an admin token, or with console: false (404 like any unknown route)", async () => {
    const router = new Router({ authorize: () => "ok" }).service("hello", (m) => ok(m));
    const base: GatewayOptions<Record<string, unknown>> = { services: [router], logger: silentLogger };
    for (const options of [base, { ...base, admin: { token: () => "", aggregates: [] } }, { ...base, admin: { token: () => "t", aggregates: [] }, console: false as const }]) {
      const app = createGateway<Record<string, unknown>>(options);
      for (const path of ["/console", "/console/streams", "/console/console.css"]) {
        const answer = await app.fetch(new Request(`http://gw${path}`), {});
        expect(answer.status, path).toBe(404);
        expect(await answer.json()).toEqual({ response: { status: "error", reason: "not_found" } });
      }
    }
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

  it("a session ends when it expires or when the admin token changes", async () => {
    const app = new Hono();
    app.get("/start/:token/:ago", async (c) => {
      await startSession(c, c.req.param("token"), "", Date.now() - Number(c.req.param("ago")));
      return c.text("started");
    });
    app.get("/check/:token", async (c) => c.text(String(await hasSession(c, c.req.param("token")))));
    const cookieOf = async (token: string, ago: number) =>
      ((await app.request(`/start/${token}/${ago}`)).headers.get("Set-Cookie") ?? "").split(";")[0] ?? "";
    const check = async (cookie: string, token: string) => (await app.request(`/check/${token}`, { headers: { Cookie: cookie } })).text();
    expect(await check(await cookieOf("one", 0), "one")).toBe("true");
    expect(await check(await cookieOf("one", 0), "two")).toBe("false");
    expect(await check(await cookieOf("one", CONSOLE_SESSION_MS + 1000), "one")).toBe("false");
    expect(await check("x3m_console=9999999999999.forged", "one")).toBe("false");
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
    expect(missing.text).toMatch(/role="alert">Nothing is stored for account nobody-/);
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
    const streamPage: StreamPage = { stream: "account-a", status: "live", version: 3, events: [event], nextFrom: null };
    const html = String(await streamsPage("", { streams: ["account"], stream: "account", id: "a", from: 3, limit: 1, page: streamPage, problem: null }));
    expect(html).toContain("Current shape (upcast, schema v2)");
    expect(html).toContain("Stored shape (schema v1)");
    expect(html).toContain("<dt>Schema version</dt><dd>2</dd>");
    expect(html).toContain(">Earlier events</a>");
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
    expect(cancelled.headers.get("Location")).toBe(`/console/schedules?key=${key}&cancelled=${messageId}`);
    const after = await page(cancelled.headers.get("Location") ?? "", cookie);
    expect(after.text).toContain(`role="status">Cancelled <code>${messageId}</code>`);
    expect(after.text).toContain("Nothing is pending for");

    const again = await demo("/console/schedules/cancel", form({ key, messageId }, cookie));
    expect(again.headers.get("Location")).toBe(`/console/schedules?key=${key}&missing=${messageId}`);
  });

  it("cannot cancel without a session", async () => {
    const answer = await demo("/console/schedules/cancel", form({ key: "k", messageId: "m" }));
    expect(answer.status).toBe(200);
    expect(await answer.text()).toContain("Admin token");
  });

  it("keeps a place for the read side", async () => {
    const { text } = await page("/console/read-side", await login());
    expect(text).toContain("Projections");
    expect(text).toContain("Dead letters");
  });
});
