// Properties of the HTTP gateway, checked with random input against the demo Worker (inside
// workerd): whatever a client sends, the answer is a clear 4xx or a success, in the API's JSON;
// a refused command stores nothing; a retried message is answered as the first time.
//
// Bounded: a few hundred runs per property (a few seconds). On a failure fast-check prints the
// seed and the shrunk counterexample; FC_SEED=<seed> replays it.
import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { shownName } from "../../src/core/messaging/dispatcher.js";
import { newId } from "../../src/core/shared/ids.js";
import { libraryLog } from "../support/library-log.js";

const seed = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.["FC_SEED"];
const runs = (numRuns: number): fc.Parameters<unknown> => (seed === undefined ? { numRuns } : { numRuns, seed: Number(seed) });

const ADMIN = { Authorization: "Bearer dev-admin" };

/** What an account logs when it answers a message it already processed, or one whose id was used for another. */
const REPLAYED = { level: "info", msg: "message already processed: answering as before, without running it again" } as const;
const REUSED = { level: "warn", msg: "message id reused for a different command or request" } as const;
const demo = (path: string, init?: RequestInit) => exports.default.fetch(`http://demo${path}`, init);

const publicServices = ["greet", "open_account", "ensure_account", "deposit", "withdraw", "get_account", "close_account"];
const bankCommands = ["open_account", "ensure_account", "deposit", "withdraw", "get_account", "close_account"];

// ---- random input -------------------------------------------------------------------------

/** Text of every kind: ASCII, any UTF-16 (lone surrogates included), look-alikes, controls. */
const oddString = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.string({ unit: "grapheme" }),
  fc.constantFrom("", " ", " a", "a ", "\u202ea", "a\u200bb", "\ufeff", "\ud800", "a\u2028b", "\u0000", "e\u0301", "\u00e9", "x".repeat(300)),
);

/** A path segment: a real service, a percent-encoded random one, or a malformed encoding. */
const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...publicServices, "format_greeting", "nowhere") },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme" }).filter((s) => s.length > 0).map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.constantFrom("%ED%A0%80", "%", "%E0%A4%A", "%00", "..", "a%2Fb", "%F0%9F%98%80") },
);

/** Deeply nested arrays or objects, up to 3,000 levels. */
const deep = fc.integer({ min: 1, max: 3000 }).chain((levels) =>
  fc.constantFrom(`${"[".repeat(levels)}${"]".repeat(levels)}`, `${'{"a":'.repeat(levels)}0${"}".repeat(levels)}`),
);

/** A request body: arbitrary JSON, non-objects, deep nesting, odd strings, huge numbers, bank-shaped. */
function body(accountId?: string): fc.Arbitrary<string> {
  const id = fc.oneof({ weight: 3, arbitrary: fc.constant(accountId ?? "ada-prop") }, { weight: 1, arbitrary: oddString });
  const amount = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 100 }) },
    { weight: 1, arbitrary: fc.oneof(fc.integer({ min: -5, max: 0 }), fc.double(), fc.constantFrom(1e21, 2 ** 53 + 1, -0, 1_000_000_001), oddString) },
  );
  const name = fc.oneof({ weight: 3, arbitrary: fc.constantFrom("Ada", "Bob") }, { weight: 1, arbitrary: oddString });
  const bankShaped = fc
    .record({ account_id: id, amount, name, extra: fc.jsonValue({ maxDepth: 3 }) }, { requiredKeys: ["account_id"] })
    .map((value) => JSON.stringify(value));
  return fc.oneof(
    { weight: 4, arbitrary: bankShaped },
    { weight: 2, arbitrary: fc.json() },
    { weight: 1, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value) ?? "null") },
    { weight: 1, arbitrary: deep.map((nested) => `{"account_id":${JSON.stringify(accountId ?? "a")},"deep":${nested}}`) },
    { weight: 1, arbitrary: deep },
    { weight: 1, arbitrary: fc.string({ unit: "binary" }) },
    { weight: 1, arbitrary: fc.constantFrom("", "{", '{"amount":1e400}', '{"amount":123456789012345678901234567890}', '{"__proto__":{"x":1}}', '{"a":1}}') },
  );
}

// Header values as browsers can send them: ASCII. (Non-ASCII header bytes are tested in
// test/http/hardening.test.ts; here they would only make workerd print a warning per request.)
const headerText = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code)), minLength: 1, maxLength: 40 }),
  fc.string({ unit: fc.integer({ min: 0x09, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 40 }),
  fc.constantFrom("", " ", "x".repeat(129)),
);

/** Mostly a valid value, sometimes anything. */
const mostly = <T extends string>(valid: fc.Arbitrary<T>) => fc.oneof({ weight: 9, arbitrary: valid }, { weight: 1, arbitrary: headerText });

const validId = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code)), minLength: 1, maxLength: 40 });

/** Random request headers (each one present or not): ids, dry run, expected version, credentials. */
const headers = fc
  .record(
    {
      "X-Message-Id": mostly(validId),
      "X-Correlation-Id": mostly(validId),
      "X-Causation-Id": mostly(validId),
      "X-Dry-Run": mostly(fc.constantFrom("true", "verbose", "false")),
      "X-Expected-Version": mostly(fc.integer({ min: -1, max: 4 }).map(String)),
      // "-": no Authorization header (an anonymous caller).
      Authorization: mostly(fc.constantFrom("Bearer dev-ada", "Bearer dev-ada", "Bearer dev-ada", "Bearer dev-bob", "Bearer dev-root", "Bearer dev-admin", "Bearer nope", "-")),
      "Content-Type": fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded"),
      traceparent: mostly(fc.constant("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")),
      // The client's address, as Cloudflare sets it: the random callers come from addresses of
      // their own, so that their wrong admin tokens (counted per address, 429 past 10 a minute)
      // never throttle the admin reads of the properties (storedOf), which come without one.
      "CF-Connecting-IP": fc.integer({ min: 1, max: 254 }).map((n) => `198.51.100.${n}`),
    },
    { requiredKeys: ["Authorization", "CF-Connecting-IP"] },
  )
  .map(({ Authorization, ...rest }): Record<string, string> => (Authorization === "-" ? rest : { ...rest, Authorization }))
  .filter(validHeaders);

/** Only header sets a fetch client can send at all (no line breaks, no NUL). */
function validHeaders(record: Record<string, string>): boolean {
  try {
    new Headers(record);
    return true;
  } catch {
    return false;
  }
}

/** A request to any route of the API, odd ones included. */
const anyRequest = fc.oneof(
  { weight: 5, arbitrary: fc.record({ method: fc.constant("POST"), path: segment.map((s) => `/v1/services/${s}`), body: body(), headers }) },
  { weight: 2, arbitrary: fc.record({ method: fc.constant("POST"), path: segment.map((s) => `/v1/validate/${s}`), body: body(), headers }) },
  {
    weight: 2,
    arbitrary: fc.record({
      method: fc.constant("POST"),
      path: fc.constant("/v1/schedules"),
      body: fc.oneof(
        fc.record({ service: fc.oneof(fc.constantFrom(...publicServices, "format_greeting"), oddString), request: fc.jsonValue(), key: oddString, in: fc.oneof(fc.integer({ min: -10, max: 10 ** 6 }), fc.double()) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
        body(),
      ),
      headers,
    }),
  },
  { weight: 1, arbitrary: fc.record({ method: fc.constantFrom("GET", "DELETE"), path: fc.tuple(segment, segment).map(([id, key]) => `/v1/schedules/${id}?key=${key}`), body: fc.constant(""), headers }) },
  { weight: 1, arbitrary: fc.record({ method: fc.constantFrom("GET", "DELETE"), path: segment.map((id) => `/v1/streams/account/${id}?mode=soft`), body: fc.constant(""), headers }) },
  { weight: 1, arbitrary: fc.record({ method: fc.constantFrom("GET", "PUT", "PATCH", "OPTIONS", "HEAD"), path: fc.tuple(segment, segment).map(([a, b]) => `/v1/${a}/${b}`), body: fc.constant(""), headers }) },
);

// ---- what answers look like --------------------------------------------------------------

type Envelope = { messageId: string; correlationId: string; causationId: string; service: string; response: { status: string } };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const isResponse = (value: unknown) => isObject(value) && typeof value["status"] === "string";
const isEnvelope = (value: unknown): value is Envelope =>
  isObject(value) && ["messageId", "correlationId", "causationId", "service"].every((key) => typeof value[key] === "string") && isResponse(value["response"]);

async function send(method: string, path: string, requestBody: string, requestHeaders: Record<string, string>) {
  const hasBody = method !== "GET" && method !== "HEAD" && method !== "OPTIONS";
  const answer = await demo(path, { method, headers: requestHeaders, ...(hasBody ? { body: requestBody } : {}) });
  const text = await answer.text();
  return { status: answer.status, contentType: answer.headers.get("Content-Type") ?? "", text };
}

/** The stored version and event count of an account (admin stream route), or null when it has none. */
async function storedOf(accountId: string): Promise<{ version: number; events: number } | null> {
  const answer = await demo(`/v1/streams/account/${encodeURIComponent(accountId)}?limit=1000`, { headers: ADMIN });
  if (answer.status === 404) return null;
  const page = (await answer.json()) as { version: number; events: unknown[] };
  return { version: page.version, events: page.events.length };
}

/** Stands for the account under test in generated bodies (replaced before sending). */
const ACCOUNT = "@account@";

/** A fresh account of ada's, with `balance` deposited. */
async function openAccount(balance: number): Promise<string> {
  const accountId = `prop-${newId()}`;
  const ada = { Authorization: "Bearer dev-ada" };
  expect((await send("POST", "/v1/services/open_account", JSON.stringify({ account_id: accountId }), ada)).status).toBe(201);
  if (balance > 0) await send("POST", "/v1/services/deposit", JSON.stringify({ account_id: accountId, amount: balance }), ada);
  return accountId;
}

// ---- the properties ------------------------------------------------------------------------

// Generous: hundreds of HTTP round trips per property on a busy 2-core machine. A guard, not a measure.
const PROPERTY_TIMEOUT_MS = 120_000;

describe("the gateway under random input", () => {
  it("never answers 5xx, and always answers JSON: the envelope for a service call, else { response } or the route's JSON", async () => {
    await fc.assert(
      fc.asyncProperty(anyRequest, async ({ method, path, body: requestBody, headers: requestHeaders }) => {
        const answer = await send(method, path, requestBody, requestHeaders);
        expect(answer.status, `${method} ${path}`).toBeLessThan(500);
        // A random message id may be one an earlier run sent: answered from the account's record,
        // or refused as reused. Either is logged as a warning.
        libraryLog.take(REPLAYED);
        libraryLog.take(REUSED);
        const notFound = libraryLog.take({ level: "warn", msg: /^\[Discovery\] Service [\s\S]* NOT found!$/ });
        if (method === "HEAD") {
          expect(notFound).toEqual([]);
          return;
        }
        expect(answer.contentType).toMatch(/^application\/json/);
        const parsed: unknown = JSON.parse(answer.text);
        // A call to a service no one offers (an unknown or a private one) is logged as such, and
        // only such a call.
        const unavailable = isEnvelope(parsed) && parsed.response.status === "service_unavailable" ? parsed : null;
        expect(notFound, answer.text).toEqual(
          unavailable === null ? [] : [{ level: "warn", msg: `[Discovery] Service ${shownName(unavailable.service)} NOT found!`, fields: { traceId: expect.stringMatching(/^[\da-f]{32}$/), spanId: expect.stringMatching(/^[\da-f]{16}$/), messageId: unavailable.messageId } }],
        );
        expect(isObject(parsed)).toBe(true);
        if (method === "POST" && /^\/v1\/(services|validate)\/[^/]+$/.test(path) && answer.status !== 404) {
          // Only a URL refused before routing (malformed percent-encoding) has no message yet.
          expect(isEnvelope(parsed) || (answer.status === 400 && isObject(parsed) && isResponse(parsed["response"])), answer.text).toBe(true);
        } else if (answer.status >= 400) {
          expect(isObject(parsed) && isResponse(parsed["response"]), answer.text).toBe(true);
        }
      }),
      runs(300),
    );
  }, PROPERTY_TIMEOUT_MS);

  it("a refused or dry-run command stores nothing on the account it names", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...bankCommands), fc.constantFrom("services", "validate"), body(ACCOUNT), headers, async (service, route, template, requestHeaders) => {
        const accountId = await openAccount(50);
        const before = await storedOf(accountId);
        const answer = await send("POST", `/v1/${route}/${service}`, template.replaceAll(ACCOUNT, accountId), requestHeaders);
        const parsed = JSON.parse(answer.text) as { response?: { reason?: string } };
        const dryRun = route === "validate" || requestHeaders["X-Dry-Run"] === "true" || requestHeaders["X-Dry-Run"] === "verbose";
        // A withdrawal beyond the balance is refused AND recorded (WithdrawalRejected): by design.
        const recordedRefusal = parsed.response?.reason === "insufficient_funds";
        if ((answer.status >= 400 && !recordedRefusal) || (dryRun && answer.status < 400)) {
          expect(await storedOf(accountId), `${route}/${service} ${answer.status} ${answer.text.slice(0, 300)}`).toEqual(before);
        }
      }),
      runs(200),
    );
  }, PROPERTY_TIMEOUT_MS);

  it("the same message id, request and caller sent twice is answered the same both times", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...publicServices), fc.constantFrom("services", "validate"), body(ACCOUNT), headers, async (service, route, template, requestHeaders) => {
        const accountId = await openAccount(0);
        const requestBody = template.replaceAll(ACCOUNT, accountId);
        const sent = { ...requestHeaders, "X-Message-Id": `replay-${newId()}` };
        const first = await send("POST", `/v1/${route}/${service}`, requestBody, sent);
        const second = await send("POST", `/v1/${route}/${service}`, requestBody, sent);
        // A command the account recorded is answered from its record the second time, and logged so.
        expect(libraryLog.take({ ...REPLAYED, fields: { messageId: sent["X-Message-Id"] } }).length).toBeLessThanOrEqual(1);
        expect(second.status, first.text).toBe(first.status);
        const [a, b] = [JSON.parse(first.text) as Envelope, JSON.parse(second.text) as Envelope];
        expect(b.response, `${route}/${service}`).toEqual(a.response);
        // Refused headers leave no message id to keep: then the envelope carries a fresh one.
        if (a.messageId === sent["X-Message-Id"]) expect(b).toEqual(a);
      }),
      runs(200),
    );
  }, PROPERTY_TIMEOUT_MS);

  it("a command applied once and sent again with its message id is answered the same and stored once", async () => {
    let applied = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("deposit", "withdraw"), fc.integer({ min: 1, max: 100 }), fc.constantFrom("dev-ada", "dev-root"), async (service, amount, token) => {
        const accountId = await openAccount(50);
        const requestBody = JSON.stringify({ account_id: accountId, amount });
        const sent = { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "X-Message-Id": `again-${newId()}` };
        const first = await send("POST", `/v1/services/${service}`, requestBody, sent);
        const afterFirst = await storedOf(accountId);
        const second = await send("POST", `/v1/services/${service}`, requestBody, sent);
        expect(second.status, first.text).toBe(first.status);
        expect(JSON.parse(second.text)).toEqual(JSON.parse(first.text));
        // The second was answered from the account's record, and logged so.
        expect(libraryLog.take({ ...REPLAYED, fields: { stream: `account-${accountId}`, messageId: sent["X-Message-Id"] } })).toHaveLength(1);
        expect(await storedOf(accountId)).toEqual(afterFirst);
        if (first.status === 200) applied += 1;
      }),
      runs(100),
    );
    // Deposits always apply, withdrawals up to the balance: most runs were applied commands.
    expect(applied).toBeGreaterThan(50);
  }, PROPERTY_TIMEOUT_MS);
});
