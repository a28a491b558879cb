// The browser pages in real Chromium, against the demo Worker under `wrangler dev`
// (demo-server.ts): the API reference's "try it", the console's login, streams and schedules,
// a phone's viewport, and an accessibility audit (axe-core). Every test fails on any console
// error or uncaught exception in the page.
import { Validator } from "@seriousme/openapi-schema-validator";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";
import { afterEach, describe, expect, inject, it } from "vitest";
import { openSession, screenshot, type Session, type SessionOptions } from "./chromium.js";

const base = inject("baseUrl");
const sessions: Session[] = [];
// Every URL any page asked for: no token may ever appear in one.
const requested: string[] = [];

async function session(options?: SessionOptions): Promise<Session> {
  const opened = await openSession(options);
  opened.context.on("request", (request) => void requested.push(request.url()));
  sessions.push(opened);
  return opened;
}

afterEach(async () => {
  const problems = sessions.flatMap((s) => s.problems);
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  expect(problems).toEqual([]);
  expect(requested.filter((url) => /dev-(admin|ada|bob|root)/.test(url))).toEqual([]);
});

/** A unique account id for this run (state persists in the run's own folder only). */
const accountId = () => `web-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;

/** Calls the demo's HTTP API from Node, as any client would. */
async function api(path: string, init: RequestInit & { token?: string } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers = new Headers(init.headers);
  if (init.token !== undefined) headers.set("Authorization", `Bearer ${init.token}`);
  const answer = await fetch(`${base}${path}`, { ...init, headers });
  return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
}

/** Sends an operation's "try it" form on the reference page and returns the answer shown. */
async function tryIt(page: Page, operationId: string, body: object | null): Promise<{ status: string; answer: string }> {
  const operation = page.locator(`#op-${operationId}`);
  await operation.scrollIntoViewIfNeeded();
  if (body !== null) await operation.getByLabel("Request body (JSON)").fill(JSON.stringify(body, null, 2));
  await operation.getByRole("button", { name: "Send request" }).click();
  const badge = operation.locator(".result [data-status]");
  await badge.waitFor();
  return { status: (await badge.textContent()) ?? "", answer: (await operation.locator(".result .answer").textContent()) ?? "" };
}

describe("the API reference (/docs)", () => {
  it("is valid OpenAPI 3.1 with every public service and no private one", async () => {
    const document = (await (await fetch(`${base}/v1/openapi.json`)).json()) as { paths: Record<string, unknown> };
    const validator = new Validator();
    const result = await validator.validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(validator.version).toBe("3.1");
    const { services } = (await (await fetch(`${base}/v1/services`)).json()) as { services: string[] };
    expect(services).toContain("deposit");
    for (const service of services) expect(document.paths[`/v1/services/${service}`], service).toBeDefined();
    expect(JSON.stringify(document)).not.toContain("format_greeting");
  });

  it("pre-fills a request body with values of each field's declared format (a date, an email…), not with plain text", async () => {
    const { page } = await session();
    // The demo's document, plus one operation whose fields declare formats (as valibot's isoDate, email… do).
    await page.route(`${base}/v1/openapi.json`, async (route) => {
      const document = (await (await route.fetch()).json()) as { paths: Record<string, unknown> };
      const properties = { day: { type: "string", format: "date" }, at: { type: "string", format: "time" }, mail: { type: "string", format: "email" }, id: { type: "string", format: "uuid" }, code: { type: "string", maxLength: 2 } };
      const schema = { type: "object", properties, required: Object.keys(properties) };
      document.paths["/v1/services/book_visit"] = { post: { operationId: "book_visit", summary: "book_visit", requestBody: { content: { "application/json": { schema } } }, responses: { "200": { description: "ok" } } } };
      await route.fulfill({ json: document });
    });
    await page.goto(`${base}/docs`);
    await page.locator("#op-book_visit").waitFor();
    const body = JSON.parse(await page.locator("#op-book_visit").getByLabel("Request body (JSON)").inputValue()) as Record<string, string>;
    expect(body["day"]).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(body["at"]).toMatch(/^\d{2}:\d{2}$/);
    expect(body["mail"]).toBe("ada@example.com");
    expect(body["id"]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(body["code"]).toBe("xx");
  });

  it("shows the demo's valibot request schemas field by field, greets, then opens an account and deposits with a bearer token; the deposit's event is in the console", async () => {
    const { page } = await session();
    await page.goto(`${base}/docs`);
    await page.locator("#op-greet").waitFor();
    expect(await page.title()).toBe("x3m-system demo · reference");
    expect(await page.locator("#nav").textContent()).not.toContain("format_greeting");
    await screenshot(page, "docs");

    // Each service is listed once: its dry run is an option of its "try it", not a second entry.
    const listed = await page.locator("#nav a").allTextContents();
    expect(listed.filter((entry) => entry.endsWith("deposit"))).toEqual(["POSTdeposit"]);
    expect(new Set(listed).size).toBe(listed.length);
    expect(await page.locator("#nav h2").allTextContents()).not.toContain("Dry runs");
    // Whether a token is needed, as the gateway enforces it: greet lets anyone in, the bank does not.
    expect(await page.locator("#op-greet .access").textContent()).toMatch(/^No bearer token needed/);
    expect(await page.locator("#op-deposit .access").textContent()).toMatch(/^Bearer token required: without one, authorize refuses the call \(401\)/);

    // The demo's valibot schemas, described with no converter configured: each field with its type and constraints.
    const fields = async (operationId: string) =>
      page.locator(`#op-${operationId} table`).first().locator("tbody tr").evaluateAll((rows) => rows.map((row) => [...row.children].map((cell) => cell.textContent)));
    expect(await fields("greet")).toEqual([["name", "string", "yes", "minLength: 1; maxLength: 100"]]);
    expect(await fields("deposit")).toEqual([
      ["account_id", "string", "yes", ""],
      ["amount", "integer", "yes", "minimum: 1; maximum: 1000000000"],
    ]);

    // greet's body comes pre-filled from the service's example.
    expect(await page.locator("#op-greet").getByLabel("Request body (JSON)").inputValue()).toContain('"Ada"');
    const greeted = await tryIt(page, "greet", null);
    expect(greeted.status).toBe("HTTP 200 OK");
    expect(greeted.answer).toContain('"payload": "Hello, Ada!"');

    // Without a token the bank refuses; that answer is not sent here (browsers log every 4xx as
    // a console error), so the token is set first.
    await page.getByLabel("Bearer token").fill("dev-ada");
    await page.getByRole("button", { name: "Use token" }).click();
    expect(await page.locator("#auth-state").textContent()).toContain("carry your bearer token");

    const id = accountId();
    const opened = await tryIt(page, "open_account", { account_id: id });
    expect(opened.status).toBe("HTTP 201 Created");
    expect(opened.answer).toContain(`"id": "${id}"`);
    const deposited = await tryIt(page, "deposit", { account_id: id, amount: 250 });
    expect(deposited.status).toBe("HTTP 200 OK");
    expect(deposited.answer).toContain('"version": 1');
    await screenshot(page.locator("#op-deposit"), "docs-deposit");

    // The same deposit as a dry run: decided, answered, and not stored (the console shows no v2 below).
    await page.locator("#op-deposit").getByLabel("Dry run: validate and decide, store nothing").check();
    const dry = await tryIt(page, "deposit", { account_id: id, amount: 1000 });
    expect(dry.status).toBe("HTTP 200 OK");
    expect(await page.locator("#op-deposit .result details pre").textContent()).toContain("/v1/validate/deposit");

    // The deposit really happened, as a new user would check it: its event in the console.
    await page.goto(`${base}/console/streams?stream=account&id=${id}`);
    await page.getByLabel("Admin token").fill("dev-admin");
    await page.getByLabel("Admin token").press("Enter");
    await page.getByText("v1 · MoneyDeposited").waitFor();
    expect(await page.locator("ol.events").textContent()).toContain('"amount": 250');
    expect(await page.locator("ol.events").textContent()).not.toContain("v2");
  });
});

describe("the operations console (/console)", () => {
  it("logs in with the keyboard, finds an account among the latest streams and by the start of its id, unfolds its events, and cancels a schedule", async () => {
    const id = accountId();
    expect((await api("/v1/services/open_account", { method: "POST", token: "dev-ada", body: JSON.stringify({ account_id: id }) })).status).toBe(201);
    expect((await api("/v1/services/deposit", { method: "POST", token: "dev-ada", body: JSON.stringify({ account_id: id, amount: 75 }) })).status).toBe(200);
    const scheduled = await api("/v1/schedules", {
      method: "POST",
      token: "dev-ada",
      body: JSON.stringify({ service: "deposit", request: { account_id: id, amount: 10 }, key: id, in: 3_600_000 }),
    });
    expect(scheduled.status).toBe(202);
    const messageId = String(scheduled.body["messageId"]);

    const { page } = await session();
    await page.goto(`${base}/console`);
    await screenshot(page, "console-login");
    // Keyboard only: the skip link first, then the token field; Enter submits.
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Skip to the content");
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement.id")).toBe("token");
    await page.keyboard.type("dev-admin");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Services", level: 1 }).waitFor();
    const services = (await page.locator("table").textContent()) ?? "";
    expect(services).toContain("greet");
    expect(services).toContain("format_greeting");
    await screenshot(page, "console-services");

    // Without an id: the most recently written streams (the catalog records the account as its
    // outbox publishes: look again until it has).
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Streams" }).click();
    const latest = page.getByRole("link", { name: `account-${id}`, exact: true });
    await expect.poll(async () => (await latest.count()) === 1 || (await page.reload(), false), { timeout: 20_000 }).toBe(true);
    await screenshot(page, "console-recent-streams");
    await latest.click();
    // Each event is one folded line; a click unfolds it.
    const deposited = page.locator("ol.events details").filter({ hasText: "v1 · MoneyDeposited" });
    await deposited.waitFor();
    expect(await page.locator("ol.events details[open]").count()).toBe(0);
    expect(await deposited.getByText('"amount": 75').isVisible()).toBe(false);
    await deposited.locator("summary").click();
    expect(await deposited.getByText('"amount": 75').isVisible()).toBe(true);
    await screenshot(page, "console-streams", true);

    // The start of an id, typed: no stream has it, so the streams whose id starts with it are listed.
    await page.getByLabel("Aggregate type").selectOption("account");
    await page.getByLabel("Aggregate id").fill(id.slice(0, -2));
    await page.getByLabel("Aggregate id").press("Enter");
    await page.getByRole("heading", { name: "Streams whose id starts with the id given" }).waitFor();
    expect(page.url()).toBe(`${base}/console/streams?stream=account&id=${id.slice(0, -2)}&limit=20`);
    await page.getByRole("link", { name: `account-${id}`, exact: true }).click();
    await page.getByText("v0 · AccountOpened").waitFor();

    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Schedules" }).click();
    await page.getByRole("heading", { name: "Follow-ups of the most recently written streams" }).waitFor();
    await page.getByLabel("Key").fill(id);
    await page.getByRole("button", { name: "Show schedules" }).click();
    const cancel = page.getByRole("button", { name: `Cancel deposit ${messageId}` });
    await cancel.waitFor();
    expect(await page.locator("table").textContent()).toContain("on time");
    await screenshot(page, "console-schedules");
    await cancel.click();
    await page.getByRole("status").getByText(`Cancelled ${messageId}.`).waitFor();
    expect(await page.getByText(`Nothing is pending for ${id}.`).count()).toBe(1);
    const left = await api(`/v1/schedules?key=${encodeURIComponent(id)}`, { token: "dev-admin" });
    expect(left.body["schedules"]).toEqual([]);

    await page.getByRole("link", { name: "Read side" }).click();
    await page.getByRole("heading", { name: "Dead letters" }).waitFor();
    expect(await page.getByRole("button", { name: "Rebuild bank_accounts" }).count()).toBe(1);
    expect(await page.getByRole("button", { name: "Rebuild transfers" }).count()).toBe(0);
    await page.getByLabel("From stream").fill(`account-${id}`);
    await page.getByRole("button", { name: "Show checkpoints" }).click();
    // The queue delivers the account's events to the read side in its own time: look again until it has.
    const row = page.getByRole("table", { name: "bank_accounts (projection) on account streams" }).getByRole("row", { name: new RegExp(`^account-${id} `) });
    await expect.poll(async () => (await row.count()) === 1 || (await page.reload(), false), { timeout: 20_000 }).toBe(true);
    expect(await row.textContent()).toMatch(/v1\s*v1\s*up to date/);
    await screenshot(page, "console-read-side", true);

    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel("Admin token").waitFor();
    await page.goto(`${base}/console/streams?stream=account&id=${id}`);
    expect(await page.getByLabel("Admin token").count()).toBe(1);
  });
});

describe("on a phone", () => {
  it("the reference and the console fit the screen without sideways scrolling", async () => {
    const { page } = await session({ viewport: { width: 390, height: 844 }, mobile: true });
    const fits = async () => page.evaluate("document.documentElement.scrollWidth <= window.innerWidth");
    await page.goto(`${base}/docs`);
    await page.locator("#op-deposit").waitFor();
    expect(await fits()).toBe(true);
    await screenshot(page, "phone-docs");

    await page.goto(`${base}/console`);
    await page.getByLabel("Admin token").fill("dev-admin");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Services", level: 1 }).waitFor();
    expect(await fits()).toBe(true);
    const id = accountId();
    await api("/v1/services/open_account", { method: "POST", token: "dev-ada", body: JSON.stringify({ account_id: id }) });
    await page.goto(`${base}/console/streams?stream=account&id=${id}`);
    await page.getByText("v0 · AccountOpened").waitFor();
    expect(await fits()).toBe(true);
    await screenshot(page, "phone-console-streams");
    await page.goto(`${base}/console/read-side`);
    await page.getByRole("heading", { name: "Checkpoints" }).waitFor();
    expect(await fits()).toBe(true);
  });
});

describe("accessibility (axe-core, WCAG 2.1 A and AA)", () => {
  it("finds no violation on the reference and the console's pages", async () => {
    // axe is injected as a script, which the pages' CSP forbids: this session bypasses it.
    const { page } = await session({ bypassCSP: true });
    const axe = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
    const audit = async (name: string) => {
      await page.addScriptTag({ path: axe });
      const result = (await page.evaluate(
        "axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })",
      )) as { passes: unknown[]; violations: { id: string; impact: string; nodes: { target: unknown }[] }[] };
      expect(result.passes.length, `${name}: axe ran its checks`).toBeGreaterThan(10);
      const found = result.violations.map((v) => `${name}: ${v.id} (${v.impact}) at ${JSON.stringify(v.nodes.map((n) => n.target).slice(0, 3))}`);
      expect(found).toEqual([]);
    };
    await page.goto(`${base}/docs`);
    await page.locator("#op-greet").waitFor();
    await audit("docs");
    await page.goto(`${base}/console`);
    await audit("console login");
    await page.getByLabel("Admin token").fill("dev-admin");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Services", level: 1 }).waitFor();
    await audit("console services");
    const id = accountId();
    await api("/v1/services/open_account", { method: "POST", token: "dev-ada", body: JSON.stringify({ account_id: id }) });
    await api("/v1/schedules", {
      method: "POST",
      token: "dev-ada",
      body: JSON.stringify({ service: "deposit", request: { account_id: id, amount: 1 }, key: id, in: 600_000 }),
    });
    await page.goto(`${base}/console/streams?stream=account&id=${id}&open=1`);
    await audit("console streams");
    await page.goto(`${base}/console/streams`);
    await audit("console recent streams");
    await page.goto(`${base}/console/streams?stream=account&id=${id.slice(0, -2)}`);
    await audit("console streams by the start of an id");
    await page.goto(`${base}/console/schedules?key=${id}`);
    await audit("console schedules");
    await page.goto(`${base}/console/schedules`);
    await audit("console follow-ups");
    await page.goto(`${base}/console/read-side`);
    await audit("console read side");
  });
});
