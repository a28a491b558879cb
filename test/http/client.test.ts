// The typed client against the demo Worker (inside workerd: the Worker's own fetch is the
// client's fetch), and what does not compile.
import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, expectTypeOf, it } from "vitest";
import { type ServiceResponse } from "../../src/core/index.js";
import { newId } from "../../src/core/shared/ids.js";
import { createClient, DEFAULT_MAX_ANSWER_BYTES, type CallResult, type ClientEnvelope } from "../../src/client/index.js";
import { type PublicServices } from "../../src/client/types.js";
import type { bank } from "../../examples/bank/services.js";
import type { greeter } from "../../examples/greeter.js";
import { libraryLog } from "../support/library-log.js";

const demoFetch = (request: Request) => exports.default.fetch(request);
const api = createClient<typeof greeter | typeof bank>({ baseUrl: "http://demo", token: "dev-ada", fetch: demoFetch });

/** The answer of a call that the test expects to have been answered. */
function answered<K extends string>(result: CallResult<K>) {
  if (result.kind !== "answer") throw new Error(`expected an answer, got ${JSON.stringify(result)}`);
  return result;
}

async function openAccount(): Promise<string> {
  const account_id = `acc-${newId()}`;
  expect(answered(await api.call("open_account", { account_id })).status).toBe(201);
  return account_id;
}

describe("the typed client: the greeter", () => {
  it("calls greet and returns the envelope, the HTTP status and the headers", async () => {
    const result = answered(await api.call("greet", { name: "Ada" }));
    expect(result.status).toBe(200);
    expect(result.envelope).toEqual({
      messageId: expect.any(String),
      correlationId: result.envelope.messageId,
      causationId: result.envelope.messageId,
      service: "greet",
      response: { status: "ok", payload: "Hello, Ada!" },
    });
    expect(result.response).toBe(result.envelope.response);
    expect(result.headers.get("X-Message-Id")).toBe(result.envelope.messageId);
    expectTypeOf(result.envelope).toEqualTypeOf<ClientEnvelope<"greet">>();
  });

  it("sends the ids it is given", async () => {
    const result = answered(await api.call("greet", { name: "Ada" }, { messageId: "my-id-1", correlationId: "conversation-7", causationId: "cause-3" }));
    expect(result.envelope).toMatchObject({ messageId: "my-id-1", correlationId: "conversation-7", causationId: "cause-3" });
  });

  it("an error status is an answer, not an exception: 422 validation_error", async () => {
    // @ts-expect-error the request lacks `name`
    const result = answered(await api.call("greet", {}));
    expect(result.status).toBe(422);
    expect(result.response).toMatchObject({ status: "validation_error", errors: [{ path: "name" }] });
  });

  it("validate() is a dry run", async () => {
    const result = answered(await api.validate("greet", { name: "Ada" }));
    expect(result.status).toBe(200);
    expect(result.response).toEqual({ status: "ok", payload: "Hello, Ada!" });
  });

  it("services() lists the public services", async () => {
    const result = await api.services();
    expect(result).toMatchObject({ kind: "answer", status: 200 });
    if (result.kind === "answer") {
      expect(result.services).toEqual([
        ...["greet", "open_account", "ensure_account", "deposit", "withdraw", "get_account", "close_account"],
        ...["transfer", "get_transfer", "list_accounts", "bank_totals", "rebuild_projection", "catch_up_projection", "dead_letters"],
      ]);
    }
  });

  it("a private service, reached anyway by an untyped client, is 404 service_unavailable", async () => {
    const untyped = createClient({ baseUrl: "http://demo", fetch: demoFetch });
    const result = answered(await untyped.call("format_greeting", { name: "Ada" }));
    expect(result.status).toBe(404);
    expect(result.response).toEqual({ status: "service_unavailable", service: "format_greeting" });
    const logged = libraryLog.take({ level: "warn", msg: "[Discovery] Service format_greeting NOT found!" });
    expect(logged).toEqual([{ level: "warn", msg: "[Discovery] Service format_greeting NOT found!", fields: { traceId: expect.stringMatching(/^[\da-f]{32}$/), spanId: expect.stringMatching(/^[\da-f]{16}$/), messageId: result.envelope.messageId } }]);
  });
});

describe("the typed client: the bank", () => {
  it("opens, deposits, refuses a withdrawal beyond the balance, and reads the account", async () => {
    const opened = answered(await api.call("open_account", {}));
    expect(opened.status).toBe(201);
    expect(opened.response).toMatchObject({ status: "created", version: 0 });
    const account_id = opened.response.status === "created" ? opened.response.id : "";
    expect(answered(await api.call("deposit", { account_id, amount: 100 })).response).toEqual({ status: "ok", version: 1 });
    const refused = answered(await api.call("withdraw", { account_id, amount: 500 }));
    expect(refused.status).toBe(400);
    expect(refused.response).toEqual({ status: "error", reason: "insufficient_funds", details: { balance: 100 } });
    const read = answered(await api.call("get_account", { account_id }));
    expect(read.response).toEqual({ status: "ok", payload: { id: account_id, owner: "ada", balance: 100, status: "open" }, version: 2 });
  });

  it("expected version: 409 when it is not the account's, applied when it is", async () => {
    const account_id = await openAccount();
    const stale = answered(await api.call("deposit", { account_id, amount: 5 }, { expectedVersion: 3 }));
    expect(stale.status).toBe(409);
    expect(stale.response).toMatchObject({ status: "error", reason: "wrong_expected_version" });
    expect(answered(await api.call("deposit", { account_id, amount: 5 }, { expectedVersion: 0 })).response).toEqual({ status: "ok", version: 1 });
  });

  it("a retry with the same message id is applied once and answered the same", async () => {
    const account_id = await openAccount();
    const first = answered(await api.call("deposit", { account_id, amount: 5 }, { messageId: `pay-${account_id}` }));
    const retry = answered(await api.call("deposit", { account_id, amount: 5 }, { messageId: `pay-${account_id}` }));
    expect(retry.status).toBe(first.status);
    expect(retry.envelope).toEqual(first.envelope);
    const read = answered(await api.call("get_account", { account_id }));
    expect(read.response).toMatchObject({ payload: { balance: 5 }, version: 1 });
    // The account logs the retry it answered from its record.
    const replayed = { level: "info", msg: "message already processed: answering as before, without running it again" } as const;
    expect(libraryLog.take({ ...replayed, fields: { stream: `account-${account_id}`, messageId: `pay-${account_id}` } })).toHaveLength(1);
  });

  it("dry runs store nothing; verbose ones return the events", async () => {
    const account_id = await openAccount();
    expect(answered(await api.call("deposit", { account_id, amount: 5 }, { dryRun: true })).response).toEqual({ status: "ok", version: 0 });
    const verbose = answered(await api.validate("deposit", { account_id, amount: 7 }, { dryRun: "verbose" }));
    expect(verbose.envelope.events).toEqual([{ type: "MoneyDeposited", data: { amount: 7 } }]);
    expect(answered(await api.call("get_account", { account_id })).response).toMatchObject({ payload: { balance: 0 }, version: 0 });
  });

  it("a token per call, or none", async () => {
    const account_id = await openAccount();
    // Someone else may not even learn that the account exists.
    expect(answered(await api.call("get_account", { account_id }, { token: "dev-bob" })).response).toEqual({ status: "error", reason: "not_found" });
    expect(answered(await api.call("get_account", { account_id }, { token: "dev-root" })).status).toBe(200);
    expect(answered(await api.call("get_account", { account_id }, { token: null })).response).toEqual({ status: "unauthorized" });
  });
});

describe("the typed client: schedules", () => {
  it("creates, lists and cancels a scheduled deposit", async () => {
    const account_id = await openAccount();
    const created = answered(await api.schedules.create({ service: "deposit", request: { account_id, amount: 10 }, key: account_id, in: 60_000 }));
    expect(created.status).toBe(202);
    expect(created.response).toMatchObject({ status: "ok", payload: { key: account_id, alreadyScheduled: false } });
    const standing = answered(await api.schedules.create({ service: "deposit", request: { account_id, amount: 1 }, key: account_id, every: 60_000 }));
    const at = answered(await api.schedules.create({ service: "greet", request: { name: "Ada" }, key: account_id, at: new Date(Date.now() + 3_600_000) }));
    expect(at.status).toBe(202);

    const listed = await api.schedules.list(account_id);
    expect(listed.kind).toBe("answer");
    if (listed.kind === "answer") {
      expect(listed.key).toBe(account_id);
      expect(listed.schedules.map((s) => s.messageId).sort()).toEqual([created.envelope.messageId, standing.envelope.messageId, at.envelope.messageId].sort());
    }
    const cancelled = await api.schedules.cancel(account_id, standing.envelope.messageId);
    // A deposit into an account that does not exist is given up on: the listing tells its outcome.
    const key = `gone-${newId()}`;
    answered(await api.schedules.create({ service: "deposit", request: { account_id: key, amount: 1 }, key, in: 0 }));
    expect(await runDurableObjectAlarm(env.SCHEDULER.get(env.SCHEDULER.idFromName(key)))).toBe(true);
    const ended = await api.schedules.list(key);
    expect(ended).toMatchObject({ kind: "answer", schedules: [], outcomes: [{ key, service: "deposit", outcome: "gave_up", reason: "not_found" }] });
    // The scheduler logs the give-up as an error, with the service's answer.
    const [gaveUp, ...more] = libraryLog.take({ level: "error", msg: "scheduled message given up", fields: { key } });
    expect(more).toEqual([]);
    expect(gaveUp?.fields).toMatchObject({ service: "deposit", response: { status: "error", reason: "not_found" } });
    expect(cancelled).toMatchObject({ kind: "answer", status: 200, response: { status: "ok" } });
    const again = await api.schedules.cancel(account_id, standing.envelope.messageId);
    expect(again).toMatchObject({ kind: "answer", status: 404, response: { status: "error", reason: "not_found" } });
  });

  it("refusals are values too: an anonymous listing is refused 401, a bad schedule answered 400", async () => {
    expect(await api.schedules.list("k", { token: null })).toMatchObject({ kind: "refused", status: 401, response: { status: "unauthorized" } });
    const late = answered(await api.schedules.create({ service: "greet", request: { name: "Ada" }, key: "k", in: -1 }));
    expect(late.status).toBe(400);
  });
});

describe("the typed client never throws", () => {
  const withFetch = (fetch: (request: Request) => Promise<Response>, timeoutMs?: number) =>
    createClient<typeof greeter>({ baseUrl: "http://demo", fetch, ...(timeoutMs === undefined ? {} : { timeoutMs }) });

  it("a network error is a failure with reason network", async () => {
    const result = await withFetch(() => Promise.reject(new TypeError("connection refused"))).call("greet", { name: "Ada" });
    expect(result).toEqual({ kind: "failure", reason: "network", message: "connection refused" });
  });

  it("no answer within the timeout is a failure with reason timeout", async () => {
    const hanging = () => new Promise<Response>(() => {});
    expect(await withFetch(hanging, 5).call("greet", { name: "Ada" })).toMatchObject({ kind: "failure", reason: "timeout" });
    expect(await withFetch(hanging).call("greet", { name: "Ada" }, { timeoutMs: 5 })).toMatchObject({ kind: "failure", reason: "timeout" });
  });

  it("an aborted signal is a failure with reason aborted, and the fetch sees the abort", async () => {
    let seen: AbortSignal | undefined;
    const hanging = (request: Request) => {
      seen = request.signal;
      return new Promise<Response>(() => {});
    };
    const controller = new AbortController();
    const pending = withFetch(hanging).call("greet", { name: "Ada" }, { signal: controller.signal });
    controller.abort();
    expect(await pending).toMatchObject({ kind: "failure", reason: "aborted" });
    expect(seen?.aborted).toBe(true);
    expect(await withFetch(hanging).call("greet", { name: "Ada" }, { signal: controller.signal })).toMatchObject({ kind: "failure", reason: "aborted" });
  });

  it("something that is not the gateway's JSON is a failure with reason unexpected_answer and its status", async () => {
    const proxy = async () => new Response("<html>502 Bad Gateway</html>", { status: 502 });
    expect(await withFetch(proxy).call("greet", { name: "Ada" })).toMatchObject({ kind: "failure", reason: "unexpected_answer", status: 502 });
    const other = async () => Response.json({ hello: "world" });
    expect(await withFetch(other).services()).toMatchObject({ kind: "failure", reason: "unexpected_answer", status: 200 });
  });

  it("a request that cannot be built is a failure with reason bad_input", async () => {
    const result = await api.call("greet", { name: "Ada" }, { messageId: "two\nlines" });
    expect(result).toMatchObject({ kind: "failure", reason: "bad_input" });
  });

  it("a wrong base URL reaches no route: refused 404 not_found", async () => {
    const lost = createClient<typeof greeter>({ baseUrl: "http://demo/api/", fetch: demoFetch });
    expect(await lost.call("greet", { name: "Ada" })).toMatchObject({ kind: "refused", status: 404, response: { status: "error", reason: "not_found" } });
  });
});

/** What a custom fetch saw of one request. */
type Seen = { method: string; url: string; body: string; authorization: string | null; redirect: string };

async function seen(request: Request): Promise<Seen> {
  const body = await request.clone().text();
  return { method: request.method, url: request.url, body, authorization: request.headers.get("Authorization"), redirect: request.redirect };
}

/** A gateway's answer to `greet`, as JSON. */
const greeting = (payload: string) => ({ messageId: "m-1", correlationId: "m-1", causationId: "m-1", service: "greet", response: { status: "ok", payload } });

/**
 * A fetch that records every request and answers the gateway's routes (`http://demo/v1/…`) with
 * a redirect to `location`, where the gateway's answer is forged. Like the platform's fetch, it
 * follows the redirect itself — same method, body and headers, as for a 307 — unless the request
 * says `redirect: "manual"`.
 */
function redirecting(status: number, location: string) {
  const requests: Seen[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    requests.push(await seen(request));
    // The gateway's routes redirect; anything else (the target) answers.
    if (!request.url.startsWith("http://demo/v1/")) return Response.json(greeting("from elsewhere"));
    if (request.redirect === "manual") return new Response(null, { status, headers: { Location: location } });
    const body = request.method === "GET" ? undefined : await request.text();
    return fetch(new Request(new URL(location, request.url), { method: request.method, headers: request.headers, body }));
  };
  return { requests, fetch };
}

/** A response body of `total` bytes in chunks of `chunk` bytes, pulled only when read; counts what was pulled. */
function countingBody(total: number, chunk: number) {
  const counted = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (counted.pulled >= total) return controller.close();
        const size = Math.min(chunk, total - counted.pulled);
        counted.pulled += size;
        controller.enqueue(new Uint8Array(size).fill(0x20)); // spaces: valid JSON whitespace
      },
      cancel() {
        counted.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { counted, stream };
}

describe("the typed client follows no redirect", () => {
  it("a 307 to another origin is a failure with reason redirect: not followed, its body and token sent nowhere else", async () => {
    const { requests, fetch } = redirecting(307, "https://evil.example/collect");
    const client = createClient<typeof greeter>({ baseUrl: "http://demo", token: "secret-token", fetch });
    const result = await client.call("greet", { name: "Ada" });
    expect(result).toMatchObject({ kind: "failure", reason: "redirect", status: 307 });
    expect(result.kind === "failure" ? result.message : "").toContain("https://evil.example/collect (another origin)");
    expect(requests).toEqual([
      { method: "POST", url: "http://demo/v1/services/greet", body: '{"name":"Ada"}', authorization: "Bearer secret-token", redirect: "manual" },
    ]);
  });

  it("every redirect status is refused the same way, on every route", async () => {
    for (const status of [301, 302, 303, 307, 308]) {
      const { requests, fetch } = redirecting(status, "https://evil.example/");
      const client = createClient<typeof greeter>({ baseUrl: "http://demo", fetch });
      expect(await client.services()).toMatchObject({ kind: "failure", reason: "redirect", status });
      expect(await client.schedules.list("k")).toMatchObject({ kind: "failure", reason: "redirect", status });
      expect(await client.schedules.cancel("k", "m")).toMatchObject({ kind: "failure", reason: "redirect", status });
      expect(requests.map((request) => new URL(request.url).origin)).toEqual(["http://demo", "http://demo", "http://demo"]);
    }
  });

  it("a redirect to the same origin is not followed either, and the message says where it pointed", async () => {
    const { requests, fetch } = redirecting(308, "/v2/services/greet");
    const result = await createClient<typeof greeter>({ baseUrl: "http://demo", fetch }).call("greet", { name: "Ada" });
    expect(result).toMatchObject({ kind: "failure", reason: "redirect", status: 308 });
    expect(result.kind === "failure" ? result.message : "").toContain("http://demo/v2/services/greet (the same origin)");
    expect(requests.map((request) => request.url)).toEqual(["http://demo/v1/services/greet"]);
  });

  it("an answer that a custom fetch reached by following a redirect itself is refused, not taken as the gateway's", async () => {
    const followed = async () =>
      Object.defineProperties(Response.json(greeting("from elsewhere")), { redirected: { value: true }, url: { value: "https://evil.example/collect" } });
    const result = await createClient<typeof greeter>({ baseUrl: "http://demo", fetch: followed }).call("greet", { name: "Ada" });
    expect(result).toMatchObject({ kind: "failure", reason: "redirect" });
    expect(result.kind === "failure" ? result.message : "").toContain("https://evil.example/collect (another origin)");
  });

  it("a browser's opaque redirect (status 0) is a failure with reason redirect", async () => {
    const opaque = async () => Object.defineProperties(new Response(null), { type: { value: "opaqueredirect" }, status: { value: 0 } });
    const result = await createClient<typeof greeter>({ baseUrl: "http://demo", fetch: opaque }).call("greet", { name: "Ada" });
    expect(result).toMatchObject({ kind: "failure", reason: "redirect" });
    expect(result).not.toHaveProperty("status");
  });
});

describe("the typed client reads at most maxAnswerBytes of an answer", () => {
  const withBody = (body: () => Response, maxAnswerBytes?: number) =>
    createClient<typeof greeter>({ baseUrl: "http://demo", fetch: async () => body(), ...(maxAnswerBytes === undefined ? {} : { maxAnswerBytes }) });

  it("an answer over the limit is a failure with reason too_large, and its stream is cancelled right after the limit", async () => {
    const { counted, stream } = countingBody(10 * 1024 * 1024, 1024);
    const result = await withBody(() => new Response(stream, { status: 200 }), 64 * 1024).call("greet", { name: "Ada" });
    expect(result).toMatchObject({ kind: "failure", reason: "too_large", status: 200 });
    expect(counted.pulled).toBeGreaterThan(64 * 1024);
    expect(counted.pulled).toBeLessThanOrEqual(64 * 1024 + 4 * 1024);
    expect(counted.cancelled).toBe(true);
  });

  it("by default the limit is 8 MiB: an answer past it is refused and not read further", async () => {
    expect(DEFAULT_MAX_ANSWER_BYTES).toBe(8 * 1024 * 1024);
    const { counted, stream } = countingBody(16 * 1024 * 1024, 64 * 1024);
    const result = await withBody(() => new Response(stream)).call("greet", { name: "Ada" });
    expect(result).toMatchObject({ kind: "failure", reason: "too_large" });
    expect(counted.pulled).toBeLessThanOrEqual(DEFAULT_MAX_ANSWER_BYTES + 4 * 64 * 1024);
    expect(counted.cancelled).toBe(true);
  });

  it("a Content-Length over the limit is refused before the body is read", async () => {
    const { counted, stream } = countingBody(1_000_000, 1024);
    const big = () => new Response(stream, { headers: { "Content-Length": "1000000" } });
    const result = await withBody(big, 1000).call("greet", { name: "Ada" });
    expect(result).toMatchObject({ kind: "failure", reason: "too_large", status: 200 });
    expect(result.kind === "failure" ? result.message : "").toContain("Content-Length: 1000000");
    expect(counted.pulled).toBe(0);
  });

  it("the limit is set per client and per call; an answer within it is read whole", async () => {
    const answer = () => Response.json(greeting("x".repeat(2000)));
    expect(await withBody(answer, 1000).call("greet", { name: "Ada" })).toMatchObject({ kind: "failure", reason: "too_large" });
    expect(await withBody(answer, 1000).call("greet", { name: "Ada" }, { maxAnswerBytes: 4096 })).toMatchObject({ kind: "answer", response: { payload: "x".repeat(2000) } });
    expect(await withBody(answer, 4096).call("greet", { name: "Ada" })).toMatchObject({ kind: "answer" });
    expect(await withBody(answer, 4096).services({ maxAnswerBytes: 100 })).toMatchObject({ kind: "failure", reason: "too_large" });
    expect(await withBody(answer, 0).call("greet", { name: "Ada" }, { maxAnswerBytes: Number.POSITIVE_INFINITY })).toMatchObject({ kind: "answer" });
  });

  it("an answer of exactly the limit is read; one byte more is not (counted as read, or by its Content-Length)", async () => {
    const body = JSON.stringify(greeting("Hello"));
    const size = new TextEncoder().encode(body).byteLength;
    for (const headers of [{}, { "Content-Length": String(size) }] as Record<string, string>[]) {
      const answer = () => new Response(body, { headers });
      expect(await withBody(answer, size).call("greet", { name: "Ada" })).toMatchObject({ kind: "answer", response: { payload: "Hello" } });
      expect(await withBody(answer, size - 1).call("greet", { name: "Ada" })).toMatchObject({ kind: "failure", reason: "too_large" });
    }
  });

  it("an answer whose characters are split across chunks is decoded whole", async () => {
    const bytes = new TextEncoder().encode(JSON.stringify(greeting("Grüße, 👋")));
    let at = 0;
    const byteByByte = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= bytes.byteLength) return controller.close();
        controller.enqueue(bytes.slice(at, at + 1));
        at += 1;
      },
    });
    const result = await withBody(() => new Response(byteByByte)).call("greet", { name: "Ada" });
    expect(result).toMatchObject({ kind: "answer", response: { payload: "Grüße, 👋" } });
  });

  it("a timeout while the body is read cancels its stream", async () => {
    const counted = { cancelled: false };
    let pulls = 0;
    const stalling = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulls += 1;
          if (pulls === 1) controller.enqueue(new TextEncoder().encode("{"));
          return pulls === 1 ? undefined : new Promise<void>(() => {});
        },
        cancel() {
          counted.cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    const client = createClient<typeof greeter>({ baseUrl: "http://demo", fetch: async () => new Response(stalling), timeoutMs: 20 });
    expect(await client.call("greet", { name: "Ada" })).toMatchObject({ kind: "failure", reason: "timeout" });
    await expect.poll(() => counted.cancelled).toBe(true);
  });

  it("a maxAnswerBytes that is not a number from 0 is a failure with reason bad_input, and nothing is sent", async () => {
    let sent = 0;
    const counting = async () => {
      sent += 1;
      return Response.json(greeting("Hello"));
    };
    for (const maxAnswerBytes of [-1, Number.NaN]) {
      const client = createClient<typeof greeter>({ baseUrl: "http://demo", fetch: counting, maxAnswerBytes });
      expect(await client.call("greet", { name: "Ada" })).toMatchObject({ kind: "failure", reason: "bad_input" });
    }
    expect(sent).toBe(0);
  });
});

describe("the typed client's types (checked by tsc)", () => {
  it("only public services, each with its schema's request type", () => {
    type Services = PublicServices<typeof greeter | typeof bank>;
    expectTypeOf<keyof Services>().toEqualTypeOf<"greet" | "open_account" | "ensure_account" | "deposit" | "withdraw" | "get_account" | "close_account">();
    expectTypeOf<Services["greet"]>().toEqualTypeOf<{ name: string }>();
    expectTypeOf<Services["deposit"]>().toEqualTypeOf<{ account_id: string; amount: number }>();
    expectTypeOf<Services["open_account"]>().toEqualTypeOf<{ account_id?: string | undefined; region?: "eu" | undefined }>();
    // A tuple of routers is the same as their union.
    expectTypeOf<PublicServices<[typeof greeter, typeof bank]>>().toEqualTypeOf<Services>();
    expectTypeOf<CallResult<"greet">>().toMatchTypeOf<{ kind: "answer" | "refused" | "failure" }>();
    expectTypeOf<Extract<CallResult, { kind: "answer" }>["response"]>().toEqualTypeOf<ServiceResponse>();
  });

  it("a private service, a misspelt one, or a wrong request does not compile", () => {
    const typed = createClient<typeof greeter>({ baseUrl: "http://demo", fetch: demoFetch });
    // Not sent: the calls below only have to fail type checking.
    const never = (): void => {
      // @ts-expect-error format_greeting is private
      void typed.call("format_greeting", { name: "Ada" });
      // @ts-expect-error misspelt service
      void typed.call("greeet", { name: "Ada" });
      // @ts-expect-error misspelt field
      void typed.call("greet", { nam: "Ada" });
      // @ts-expect-error wrong field type
      void typed.call("greet", { name: 42 });
      // @ts-expect-error the bank is not among this client's routers
      void typed.call("deposit", { account_id: "a", amount: 1 });
      // @ts-expect-error a bank command's request has its schema's type: amount is a number
      void api.call("deposit", { account_id: "a", amount: "100" });
      // @ts-expect-error …and account_id is required
      void api.call("withdraw", { amount: 1 });
      // @ts-expect-error a schedule needs exactly one of in, at, cron, every
      void typed.schedules.create({ service: "greet", request: { name: "Ada" }, key: "k", in: 5, every: 1000 });
      // @ts-expect-error a private service cannot be scheduled either
      void typed.schedules.create({ service: "format_greeting", key: "k", in: 5 });
      // @ts-expect-error scheduling has no dry run
      void typed.schedules.create({ service: "greet", request: { name: "Ada" }, key: "k", in: 5 }, { dryRun: true });
    };
    expect(typeof never).toBe("function");
  });

  it("an untyped client takes any service name and JSON object", () => {
    const untyped = createClient({ baseUrl: "http://demo" });
    expectTypeOf(untyped.call).parameter(0).toEqualTypeOf<string>();
  });
});
