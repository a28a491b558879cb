// Hostile input at the edge, against the demo Worker: every test here sends something a careless
// or malicious client could send, and checks that it gets a clear 4xx — never a 500, never a
// silently different account — and that nothing is stored.
import { env, exports } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { MemoryScheduler, ok, Router, silentLogger } from "../../src/core/index.js";
import { newId } from "../../src/core/shared/ids.js";
import { durableObjectConsoleSessions } from "../../src/pages/console/console-session-object.js";
import { browserPages } from "../../src/pages/index.js";
import { createGateway } from "../../src/worker/index.js";
import { type RateLimiter } from "../../src/worker/gateway/admin-throttle.js";
import { AdminThrottle, clientAddress, THROTTLED_ADDRESSES } from "../../src/worker/gateway/admin-throttle.js";
import { limitBody } from "../../src/worker/gateway/gateway-middleware.js";
import { libraryLog } from "../support/library-log.js";

const ADA = { Authorization: "Bearer dev-ada" };
const ADMIN = { Authorization: "Bearer dev-admin" };

type Answer = { status: number; headers: Headers; body: { response?: { status: string; reason?: string } } & Record<string, unknown> };

async function send(path: string, init: RequestInit = {}): Promise<Answer> {
  const answer = await exports.default.fetch(`http://demo${path}`, init);
  const text = await answer.text();
  return { status: answer.status, headers: answer.headers, body: JSON.parse(text) as Answer["body"] };
}

const post = (path: string, body: string, headers: Record<string, string> = ADA) => send(path, { method: "POST", body, headers });

async function openAccount(account_id = `acc-${newId()}`): Promise<string> {
  const opened = await post("/v1/services/open_account", JSON.stringify({ account_id }));
  expect(opened.status).toBe(201);
  return account_id;
}

/** The stored version of an account's stream (through the admin route), or null when it has none. */
async function versionOf(account_id: string): Promise<number | null> {
  const read = await send(`/v1/streams/account/${encodeURIComponent(account_id)}`, { headers: ADMIN });
  return read.status === 404 ? null : (read.body["version"] as number);
}

/** `{"a": [[[…]]]}` nested `levels` deep. */
const nestedArrays = (levels: number) => `{"a":${"[".repeat(levels)}${"]".repeat(levels)}}`;
/** `{"a":{"a":{…}}}` nested `levels` deep. */
const nestedObjects = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;

describe("a service called with the wrong method is told to use POST", () => {
  it("GET, PUT, PATCH and DELETE on a service or validate path → 405 method_not_allowed with Allow: POST, nothing run", async () => {
    const account_id = await openAccount();
    for (const method of ["GET", "PUT", "PATCH", "DELETE"]) {
      for (const path of ["/v1/services/deposit", "/v1/validate/deposit"]) {
        const answer = method === "GET" || method === "DELETE" ? await send(path, { method, headers: ADA }) : await send(path, { method, headers: ADA, body: JSON.stringify({ account_id, amount: 5 }) });
        expect([method, path, answer.status, answer.headers.get("Allow"), answer.body.response]).toEqual([
          method,
          path,
          405,
          "POST",
          { status: "error", reason: "method_not_allowed", details: "call a service with POST" },
        ]);
      }
    }
    expect(await versionOf(account_id)).toBe(0);
    // The routes around it are as they were: POST calls the service, GET lists the services.
    expect((await post("/v1/services/deposit", JSON.stringify({ account_id, amount: 5 }))).status).toBe(200);
    expect((await send("/v1/services")).status).toBe(200);
    expect((await send("/v1/nowhere")).body.response).toEqual({ status: "error", reason: "not_found" });
  });

  it("an app's own GET route on a service path, mounted after the gateway, still wins; an app's own method_not_allowed stays 400", async () => {
    const app = createGateway({
      services: [new Router({ authorize: () => "ok" }).service("refuse", (m) => ({ ...m, response: { status: "error", reason: "method_not_allowed" } }))],
      logger: silentLogger,
    });
    app.get("/v1/services/:service", (c) => c.json({ described: c.req.param("service") }));
    const described = await app.request("/v1/services/refuse");
    expect([described.status, await described.json()]).toEqual([200, { described: "refuse" }]);
    expect((await app.request("/v1/validate/refuse")).status).toBe(405);
    // The reason belongs to the app's service here (a payment method refused…), not to HTTP.
    expect((await app.request("/v1/services/refuse", { method: "POST", body: "{}" })).status).toBe(400);
  });
});

describe("a principal the library keeps for its own work is refused: a control character, or process:<name>", () => {
  it("an identify whose principalOf makes one is answered 401, and nothing runs", async () => {
    let ran = 0;
    const app = createGateway({
      services: [
        new Router({ authorize: () => "ok" }).service("ok", (m) => {
          ran += 1;
          return ok(m);
        }),
      ],
      // Tokens name users; a header cannot carry a control character, a claim or a table can.
      identify: (token) => ({ user: { ada: "ada", nul: "\u0000follow-up:ada", us: "ada\u001f", del: "ada\u007f", proc: "process:transfer" }[token] ?? "" }),
      principalOf: (identity) => String(identity["user"]),
      logger: silentLogger,
    });
    const call = (token: string) => app.request("/v1/services/ok", { method: "POST", body: "{}", headers: { Authorization: token } });
    expect((await call("ada")).status).toBe(200);
    for (const token of ["nul", "us", "del", "proc"]) expect((await call(token)).status).toBe(401);
    expect(ran).toBe(1);
  });
});

describe("a body nested 10,000 levels deep is refused with 400 invalid_request, never a 500", () => {
  const routes: [string, (inner: string) => string][] = [
    ["/v1/services/greet", (inner) => inner],
    ["/v1/services/deposit", (inner) => inner],
    ["/v1/validate/greet", (inner) => inner],
    ["/v1/validate/deposit", (inner) => inner],
    ["/v1/schedules", (inner) => `{"service":"greet","key":"k","in":60000,"request":{"name":"a","deep":${inner}}}`],
  ];
  for (const [path, wrap] of routes) {
    it(`POST ${path}`, async () => {
      for (const body of [nestedArrays(10_000), nestedObjects(10_000)]) {
        const answer = await post(path, wrap(body));
        expect(answer.status).toBe(400);
        expect(answer.body.response).toMatchObject({ status: "error", reason: "invalid_request" });
      }
    });
  }

  it("a deep request inside a schedule body is refused the same way", async () => {
    const request = nestedArrays(10_000);
    const answer = await post("/v1/schedules", `{"service":"greet","key":"k-${newId()}","in":0,"request":${request}}`);
    expect(answer.status).toBe(400);
    expect(answer.body.response).toMatchObject({ status: "error", reason: "invalid_request" });
  });
});

describe("every id a caller chooses is read as an id: no control, format or separator characters", () => {
  it("a transfer's from and to: a right-to-left override or a NUL is refused (422), and no transfer is stored", async () => {
    for (const odd of ["\u202e", "\u0000", "\u2028"]) {
      for (const field of ["from", "to"]) {
        const transfer_id = `t-${newId()}`;
        const body = { transfer_id, from: "acc-a", to: "acc-b", amount: 1, [field]: `acc${odd}evil` };
        const answer = await post("/v1/services/transfer", JSON.stringify(body));
        expect(answer.status, `${field} ${JSON.stringify(odd)}`).toBe(422);
        expect(answer.body.response).toMatchObject({ status: "validation_error", errors: [{ path: field }] });
        const stored = await send(`/v1/streams/transfer/${transfer_id}`, { headers: ADMIN });
        expect([stored.status, stored.body]).toEqual([404, { response: { status: "error", reason: "not_found" } }]);
      }
    }
  });

  it("an account id inside a request, and a schedule's message id in the cancel route", async () => {
    const answer = await post("/v1/services/open_account", JSON.stringify({ account_id: "acc\u200bhidden" }));
    expect(answer.status).toBe(400);
    expect(answer.body.response).toMatchObject({ status: "error", reason: "invalid_id" });
    const cancel = await send(`/v1/schedules/${encodeURIComponent("m\u202e1")}?key=k-1`, { method: "DELETE", headers: ADA });
    expect(cancel.status).toBe(400);
    expect(cancel.body.response).toMatchObject({ status: "error", reason: "invalid_id" });
  });
});

describe("a lone UTF-16 surrogate is refused with 400, never a 500", () => {
  // In JSON text a lone surrogate arrives as the escape \ud800; JSON.parse makes it a string
  // that no UTF-8 encoder can write (storage, logs, another Worker).
  const lone = "\\ud800";

  it("in an account id", async () => {
    for (const service of ["open_account", "ensure_account", "deposit", "get_account"]) {
      const answer = await post(`/v1/services/${service}`, `{"account_id":"acc-${lone}","amount":1}`);
      expect(answer.status, service).toBe(400);
      expect(answer.body.response).toMatchObject({ status: "error" });
    }
  });

  it("in a scheduling key, in a scheduled request, and in the key of the list and cancel routes", async () => {
    const key = await post("/v1/schedules", `{"service":"greet","request":{"name":"a"},"key":"k-${lone}","in":0}`);
    expect(key.status).toBe(400);
    const request = await post("/v1/schedules", `{"service":"greet","request":{"name":"${lone}"},"key":"k-${newId()}","in":0}`);
    expect(request.status).toBe(400);
    // %ED%A0%80 is how a lone surrogate would be percent-encoded (invalid UTF-8).
    expect((await send("/v1/schedules?key=%ED%A0%80", { headers: ADA })).status).toBe(400);
    expect((await send(`/v1/schedules?key=k-${encodeURIComponent("\u00e9")}%ED%A0%80`, { headers: ADA })).status).toBe(400);
    expect((await send("/v1/schedules/%ED%A0%80?key=k", { method: "DELETE", headers: ADA })).status).toBe(400);
  });

  it("in a stream id and in a service name (percent-encoded: not taken literally, refused)", async () => {
    const stream = await send("/v1/streams/account/%ED%A0%80", { headers: ADMIN });
    expect(stream.status).toBe(400);
    expect(stream.body.response).toMatchObject({ status: "error", reason: "invalid_request" });
    expect((await post("/v1/services/%ED%A0%80", "{}")).status).toBe(400);
    expect((await post("/v1/validate/acc%ED%A0%80", "{}")).status).toBe(400);
  });

  it("in a header (or the bytes that would encode it), which can only be refused", async () => {
    // Header values are bytes: workerd's fetch writes a JavaScript string as UTF-8 (a lone
    // surrogate as U+FFFD), and ED A0 80, the would-be UTF-8 of U+D800, arrives as Latin-1 text.
    // workerd prints a warning for each value set here ("A header value for … contains non-ASCII
    // characters"): 12 lines of the test run that say what this test does on purpose.
    for (const odd of ["\ud800", "\u00ed\u00a0\u0080"]) {
      for (const header of ["X-Message-Id", "X-Correlation-Id", "X-Causation-Id", "X-Dry-Run", "X-Expected-Version"]) {
        const answer = await post("/v1/services/greet", '{"name":"Ada"}', { ...ADA, [header]: `id-${odd}` });
        expect(answer.status, header).toBe(400);
        expect(answer.body.response).toMatchObject({ status: "error", reason: "invalid_header", details: { header } });
      }
      const auth = await post("/v1/services/deposit", '{"account_id":"a","amount":1}', { Authorization: `Bearer dev-ada${odd}` });
      expect(auth.status).toBe(401);
    }
  });
});

describe("look-alike account ids are refused; equivalent spellings are one account", () => {
  it("leading or trailing spaces, a right-to-left override, zero-width characters → 400, nothing created", async () => {
    const account_id = await openAccount();
    const lookalikes = [
      ` ${account_id}`,
      `${account_id} `,
      `${account_id}\u00a0`,
      `\u202e${account_id}`,
      `${account_id.slice(0, 4)}\u200b${account_id.slice(4)}`,
      `${account_id}\u200d`,
      `\ufeff${account_id}`,
      `${account_id}\u2028`,
    ];
    for (const lookalike of lookalikes) {
      for (const service of ["open_account", "ensure_account", "deposit"]) {
        const answer = await post(`/v1/services/${service}`, JSON.stringify({ account_id: lookalike, amount: 1 }));
        expect(answer.status, `${service} ${JSON.stringify(lookalike)}`).toBe(400);
        expect(answer.body.response).toMatchObject({ status: "error", reason: "invalid_id" });
      }
    }
    expect(await versionOf(account_id)).toBe(0);
  });

  it("a look-alike scheduling key is refused", async () => {
    for (const key of [" k", "k ", "k\u202e", "k\u200b1"]) {
      const answer = await post("/v1/schedules", JSON.stringify({ service: "greet", request: { name: "a" }, key, in: 60_000 }));
      expect(answer.status, JSON.stringify(key)).toBe(400);
    }
  });

  it("NFC and NFD spellings of one id reach the same account", async () => {
    const suffix = newId();
    const composed = `caf\u00e9-${suffix}`;
    const decomposed = `cafe\u0301-${suffix}`;
    await openAccount(composed);
    const deposit = await post("/v1/services/deposit", JSON.stringify({ account_id: decomposed, amount: 7 }));
    expect(deposit.status).toBe(200);
    expect(deposit.body.response).toEqual({ status: "ok", version: 1 });
    const read = await post("/v1/services/get_account", JSON.stringify({ account_id: decomposed }));
    expect(read.body.response).toMatchObject({ payload: { id: composed, balance: 7 }, version: 1 });
    expect((await post("/v1/services/open_account", JSON.stringify({ account_id: decomposed }))).status).toBe(409);
    expect(await versionOf(decomposed)).toBe(1);
  });
});

describe("answers are never cached", () => {
  it("every /v1 answer says Cache-Control: no-store, errors included", async () => {
    const account_id = await openAccount();
    const answers = [
      await post("/v1/services/greet", '{"name":"Ada"}'),
      await post("/v1/services/greet", "{}"),
      await post("/v1/services/greet", "{"),
      await post("/v1/services/greet", nestedArrays(100)),
      await post("/v1/services/greet", JSON.stringify({ pad: "x".repeat(1024 * 1024) })),
      await post("/v1/services/greet", "{}", { "X-Dry-Run": "maybe" }),
      await post("/v1/services/nowhere", "{}"),
      await post("/v1/services/deposit", JSON.stringify({ account_id, amount: 1 }), { Authorization: "Bearer nope" }),
      await post("/v1/services/get_account", JSON.stringify({ account_id })),
      await post("/v1/validate/deposit", JSON.stringify({ account_id, amount: 1 })),
      await send("/v1/services"),
      await send("/v1/health"),
      await send(`/v1/schedules?key=${account_id}`, { headers: ADA }),
      await send(`/v1/streams/account/${account_id}`, { headers: ADMIN }),
      await send(`/v1/streams/account/${account_id}`),
      await send("/v1/nothing/here"),
    ];
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([200, 400, 401, 404, 413, 422]));
    for (const answer of answers) expect(answer.headers.get("Cache-Control"), String(answer.status)).toBe("no-store");
    // The call to a service no one offers is logged as such, and nothing else is.
    expect(libraryLog.take({ level: "warn", msg: "[Discovery] Service nowhere NOT found!" })).toHaveLength(1);
    expect(libraryLog.lines().filter((line) => line.level === "warn" || line.level === "error")).toEqual([]);
  });
});

/** A body of `totalBytes` (spaces, 64 KiB at a time; `Infinity`: one that never ends), and what its sender saw. */
function uploadBody(totalBytes: number, { stallAfter = Infinity } = {}) {
  const seen = { sent: 0, finished: false, cancelled: false };
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (seen.sent >= stallAfter) await new Promise(() => undefined);
      if (seen.sent >= totalBytes) {
        seen.finished = true;
        return controller.close();
      }
      seen.sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
    cancel() {
      seen.cancelled = true;
    },
  });
  return { stream, seen };
}

const MiB = 1024 * 1024;

describe("an oversized body is answered 413 and its stream never left hanging: read to its end, or cancelled", () => {
  // Called directly (not through the runtime's loopback), so that the stream the gateway reads
  // and cancels is the sender's own: `seen` is what the sender saw.
  const app = createGateway({
    services: [new Router({ authorize: () => "ok" }).service("ok", (m) => ok(m))],
    logger: silentLogger,
    admin: { token: () => "t", aggregates: [] },
    pages: browserPages({ console: { sessions: durableObjectConsoleSessions(() => env.CONSOLE_SESSIONS) } }),
    scheduler: new MemoryScheduler({ dispatch: async (message) => message, logger: silentLogger }),
  });
  const upload = (path: string, body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
    app.fetch(new Request(`http://gw${path}`, { method: "POST", body, headers, duplex: "half" } as RequestInit), {});
  const tooLarge = { status: "error", reason: "payload_too_large", details: { maxBytes: MiB } };

  it("a chunked body a little over the limit is read to its end, so that the client gets to read the 413", async () => {
    const { stream, seen } = uploadBody(3 * MiB);
    const answer = await upload("/v1/services/ok", stream);
    expect(answer.status).toBe(413);
    expect(((await answer.json()) as { response: unknown }).response).toEqual(tooLarge);
    expect(seen).toEqual({ sent: 3 * MiB, finished: true, cancelled: false });
  });

  it("a chunked body far over the limit is cancelled once 16 MiB more have been read", async () => {
    const { stream, seen } = uploadBody(Infinity);
    const answer = await upload("/v1/services/ok", stream);
    expect(answer.status).toBe(413);
    expect(((await answer.json()) as { response: unknown }).response).toEqual(tooLarge);
    expect(seen.cancelled).toBe(true);
    expect(seen.sent).toBeLessThanOrEqual(18 * MiB);
  });

  it("a Content-Length far over the limit: refused and cancelled without reading", async () => {
    const { stream, seen } = uploadBody(Infinity);
    const answer = await upload("/v1/services/ok", stream, { "Content-Length": String(1024 * MiB) });
    expect(answer.status).toBe(413);
    expect(seen.cancelled).toBe(true);
    expect(seen.sent).toBeLessThanOrEqual(128 * 1024);
  });

  it("a Content-Length that understates the body is not believed: refused past the limit, then cancelled", async () => {
    const { stream, seen } = uploadBody(Infinity);
    const answer = await upload("/v1/services/ok", stream, { "Content-Length": "10" });
    expect(answer.status).toBe(413);
    expect(((await answer.json()) as { response: unknown }).response).toEqual(tooLarge);
    expect(seen.cancelled).toBe(true);
    expect(seen.sent).toBeLessThanOrEqual(18 * MiB);
  });

  it("an oversized body that stops coming is cancelled when the time to read it away runs out", async () => {
    const limited = new Hono().post("/", limitBody(MiB, (c) => c.text("too large", 413), { bytes: 16 * MiB, ms: 50 }), (c) => c.text("read"));
    const { stream, seen } = uploadBody(Infinity, { stallAfter: 2 * MiB });
    const answer = await limited.fetch(new Request("http://gw/", { method: "POST", body: stream, duplex: "half" } as RequestInit));
    expect(answer.status).toBe(413);
    expect(seen.cancelled).toBe(true);
  });

  it("the schedule route and the console's forms do the same", async () => {
    const scheduled = uploadBody(Infinity);
    expect((await upload("/v1/schedules", scheduled.stream)).status).toBe(413);
    expect(scheduled.seen.cancelled).toBe(true);
    const form = uploadBody(Infinity);
    const login = await upload("/console/login", form.stream, { "Content-Type": "application/x-www-form-urlencoded", Origin: "http://gw" });
    expect(login.status).toBe(413);
    expect(form.seen.cancelled).toBe(true);
    expect(form.seen.sent).toBeLessThanOrEqual(17 * MiB);
  });
});

/** A fresh client address (TEST-NET-3), so that no other test's failures count against it. */
const freshAddress = () => `203.0.113.${Math.floor(Math.random() * 254) + 1}-${newId().slice(-8)}`;

/** The console's login form, posted as a browser on `origin` posts it, from `address`. */
const loginForm = (token: string, address: string, origin = "http://demo"): RequestInit => ({
  method: "POST",
  body: new URLSearchParams({ token, next: "/console" }).toString(),
  headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: origin, "CF-Connecting-IP": address },
});

describe("guesses at the admin token are throttled per client address: past 10 failures a minute, 429 — the right token too", () => {
  /** Sends 10 wrong tokens to the stream route from `address` (each 401), then an 11th (429). */
  async function exhaust(fetch: (path: string, init?: RequestInit) => Promise<Response>, address: string): Promise<void> {
    for (let i = 0; i < 10; i += 1) {
      const wrong = await fetch("/v1/streams/account/x", { headers: { Authorization: `Bearer guess-${i}`, "CF-Connecting-IP": address } });
      expect(wrong.status, `guess ${i + 1}`).toBe(401);
    }
    const eleventh = await fetch("/v1/streams/account/x", { headers: { Authorization: "Bearer guess-10", "CF-Connecting-IP": address } });
    expect(eleventh.status).toBe(429);
  }

  it("the demo (with its Rate Limiting binding): the stream routes, the schedule routes' admin path and the console's login all refuse that address", async () => {
    const demoFetch = (path: string, init?: RequestInit) => exports.default.fetch(`http://demo${path}`, { redirect: "manual", ...init });
    const address = freshAddress();
    await exhaust(demoFetch, address);
    const right = { Authorization: "Bearer dev-admin", "CF-Connecting-IP": address };
    const stream = await demoFetch("/v1/streams/account/x", { headers: right });
    expect(stream.status).toBe(429);
    expect(await stream.json()).toEqual({ response: { status: "error", reason: "too_many_attempts", details: { retryAfterSeconds: expect.any(Number) } } });
    expect(Number(stream.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(Number(stream.headers.get("Retry-After"))).toBeLessThanOrEqual(60);
    expect((await demoFetch("/v1/schedules?key=k", { headers: right })).status).toBe(429);
    expect((await demoFetch("/v1/schedules/m?key=k", { method: "DELETE", headers: right })).status).toBe(429);
    const login = await demoFetch("/console/login", loginForm("dev-admin", address));
    expect(login.status).toBe(429);
    expect(login.headers.get("Set-Cookie")).toBeNull();
    expect(await login.text()).toMatch(/role="alert" id="login-problem">Too many wrong tokens from your address: try again in \d+ s\./);

    // Another address is not affected; nor are callers without credentials (401, not 429), nor users' own calls.
    const elsewhere = { Authorization: "Bearer dev-admin", "CF-Connecting-IP": freshAddress() };
    expect((await demoFetch("/v1/streams/account/x", { headers: elsewhere })).status).toBe(404);
    expect((await demoFetch("/v1/streams/account/x", { headers: { "CF-Connecting-IP": address } })).status).toBe(401);
    expect((await demoFetch("/v1/services/greet", { method: "POST", body: '{"name":"Ada"}', headers: { ...ADA, "CF-Connecting-IP": address } })).status).toBe(200);
    // A user behind that address still sees and cancels their own schedules (the guesser's neighbour).
    const own = { ...ADA, "CF-Connecting-IP": address };
    expect((await demoFetch("/v1/schedules?key=k", { headers: own })).status).toBe(200);
    expect((await demoFetch("/v1/schedules/nothing-here?key=k", { method: "DELETE", headers: own })).status).toBe(404);
  });

  it("wrong tokens at the console's login and bearer guesses on the schedule routes count too", async () => {
    const demoFetch = (path: string, init?: RequestInit) => exports.default.fetch(`http://demo${path}`, { redirect: "manual", ...init });
    const address = freshAddress();
    for (let i = 0; i < 5; i += 1) expect((await demoFetch("/console/login", loginForm(`guess-${i}`, address))).status).toBe(200);
    for (let i = 5; i < 10; i += 1) expect((await demoFetch("/v1/schedules?key=k", { headers: { Authorization: `Bearer guess-${i}`, "CF-Connecting-IP": address } })).status).toBe(401);
    expect((await demoFetch("/console/login", loginForm("guess-10", address))).status).toBe(429);
    expect((await demoFetch("/console/login", loginForm("dev-admin", address))).status).toBe(429);
    // A user's own token on the schedule routes is not a failed admin-token check.
    const user = freshAddress();
    for (let i = 0; i < 12; i += 1) expect((await demoFetch("/v1/schedules?key=k", { headers: { ...ADA, "CF-Connecting-IP": user } })).status).toBe(200);
    expect((await demoFetch("/console/login", loginForm("dev-admin", user))).status).toBe(303);
  });

  it("without a binding each isolate counts on its own, with the same limit", async () => {
    const app = createGateway({
      services: [new Router({ authorize: () => "ok" }).service("ok", (m) => ok(m))],
      logger: silentLogger,
      admin: { token: () => "t", aggregates: [] },
      pages: browserPages({ console: { sessions: durableObjectConsoleSessions(() => env.CONSOLE_SESSIONS) } }),
      scheduler: new MemoryScheduler({ dispatch: async (message) => message, logger: silentLogger }),
    });
    const fetch = async (path: string, init?: RequestInit) => app.fetch(new Request(`http://gw${path}`, { redirect: "manual", ...init }), {});
    const address = freshAddress();
    await exhaust(fetch, address);
    expect((await fetch("/v1/streams/account/x", { headers: { Authorization: "Bearer t", "CF-Connecting-IP": address } })).status).toBe(429);
    expect((await fetch("/v1/schedules?key=k", { headers: { Authorization: "Bearer t", "CF-Connecting-IP": address } })).status).toBe(429);
    expect((await fetch("/console/login", loginForm("t", address, "http://gw"))).status).toBe(429);
    expect((await fetch("/console/login", loginForm("t", freshAddress(), "http://gw"))).status).toBe(303);
  });

  it("a binding decides when the address is over, counting the failures of every isolate; one that fails leaves the count to the isolate", async () => {
    const calls: string[] = [];
    let refuse = false;
    let broken = false;
    const limiter: RateLimiter = {
      limit: async ({ key }: { key: string }) => {
        calls.push(key);
        if (broken) throw new Error("rate limiter unavailable");
        return { success: !refuse };
      },
    };
    const throttle = new AdminThrottle<object>(() => limiter);
    const address = freshAddress();
    expect(await throttle.failed({}, address)).toBe(0);
    expect(calls).toEqual([`x3m-admin-token:${address}`]);
    refuse = true;
    expect(await throttle.failed({}, address)).toBe(60_000);
    expect(throttle.refusedFor(address)).toBeGreaterThan(59_000);

    // Two isolates (two gateways' counts) over one binding: their failures add up.
    const [one, two] = [new AdminThrottle<Cloudflare.Env>((e) => e.ADMIN_RATE_LIMIT), new AdminThrottle<Cloudflare.Env>((e) => e.ADMIN_RATE_LIMIT)];
    const shared = freshAddress();
    for (let i = 0; i < 5; i += 1) expect(await one.failed(env, shared)).toBe(0);
    for (let i = 0; i < 5; i += 1) expect(await two.failed(env, shared)).toBe(0);
    expect(await one.failed(env, shared)).toBe(60_000);

    broken = true;
    const other = freshAddress();
    for (let i = 0; i < 10; i += 1) expect(await throttle.failed({}, other)).toBe(0);
    expect(await throttle.failed({}, other)).toBe(60_000);
  });

  it("a binding that lets an address go on does not lift the isolate's own count (a burst across the end of the binding's window)", async () => {
    const throttle = new AdminThrottle<object>(() => ({ limit: async () => ({ success: true }) }));
    const address = freshAddress();
    for (let i = 0; i < 10; i += 1) expect(await throttle.failed({}, address)).toBe(0);
    expect(await throttle.failed({}, address)).toBe(60_000);
  });

  it("an address is refused for a minute, then counted afresh", async () => {
    let now = 1_000_000;
    const throttle = new AdminThrottle<object>(undefined, () => now);
    const address = freshAddress();
    for (let i = 0; i < 10; i += 1) expect(await throttle.failed({}, address)).toBe(0);
    expect(await throttle.failed({}, address)).toBe(60_000);
    now += 30_000;
    expect(throttle.refusedFor(address)).toBe(30_000);
    now += 30_000;
    expect(throttle.refusedFor(address)).toBe(0);
    for (let i = 0; i < 10; i += 1) expect(await throttle.failed({}, address)).toBe(0);
    // Failures spread over more than a minute never add up to a refusal.
    now += 60_000;
    for (let i = 0; i < 10; i += 1) {
      expect(await throttle.failed({}, address)).toBe(0);
      now += 7_000;
    }
  });

  it("the isolate counts the failures of the last minute, a window that slides: a burst across a minute's end is refused", async () => {
    let now = 2_000_000;
    const throttle = new AdminThrottle<object>(undefined, () => now);
    const address = freshAddress();
    expect(await throttle.failed({}, address)).toBe(0);
    now += 59_000;
    for (let i = 0; i < 9; i += 1) expect(await throttle.failed({}, address)).toBe(0);
    // A window that started with the first failure would end now and count afresh.
    now += 1_500;
    expect(await throttle.failed({}, address)).toBe(0);
    expect(await throttle.failed({}, address)).toBe(60_000);
  });

  it("the count in memory is bounded: past 10,000 addresses the one that failed least recently is forgotten", async () => {
    const throttle = new AdminThrottle<object>();
    const first = freshAddress();
    for (let i = 0; i < 11; i += 1) await throttle.failed({}, first);
    expect(throttle.refusedFor(first)).toBeGreaterThan(0);
    for (let i = 0; i < THROTTLED_ADDRESSES - 1; i += 1) await throttle.failed({}, `10.0.${Math.floor(i / 256)}.${i % 256}`);
    expect(throttle.refusedFor(first)).toBeGreaterThan(0);
    await throttle.failed({}, "10.255.255.255");
    expect(throttle.refusedFor(first)).toBe(0);
  });

  it("a client is its CF-Connecting-IP address, an IPv6 client its /64 network; without the header, one shared key", () => {
    const of = (value?: string) => clientAddress(new Headers(value === undefined ? {} : { "CF-Connecting-IP": value }));
    expect(of("192.0.2.7")).toBe("192.0.2.7");
    expect(of("2001:db8:85a3:12:8a2e:370:7334:1")).toBe("2001:db8:85a3:12::/64");
    expect(of("2001:DB8:85A3:0012::1")).toBe("2001:db8:85a3:12::/64");
    expect(of("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(of("::1")).toBe("0:0:0:0::/64");
    expect(of()).toBe("unknown");
    expect(of("")).toBe("unknown");
  });
});
