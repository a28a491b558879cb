// The typed client against the demo Worker (inside workerd: the Worker's own fetch is the
// client's fetch), and what does not compile.
import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, expectTypeOf, it } from "vitest";
import { newId, type ServiceResponse } from "../../src/core/index.js";
import { createClient, type CallResult, type ClientEnvelope, type PublicServices } from "../../src/client/index.js";
import type { bank } from "../../examples/bank/services.js";
import type { greeter } from "../../examples/greeter.js";

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

describe("the typed client's types (checked by tsc)", () => {
  it("only public services, each with its schema's request type", () => {
    type Services = PublicServices<typeof greeter | typeof bank>;
    expectTypeOf<keyof Services>().toEqualTypeOf<"greet" | "open_account" | "ensure_account" | "deposit" | "withdraw" | "get_account" | "close_account">();
    expectTypeOf<Services["greet"]>().toEqualTypeOf<{ name: string }>();
    expectTypeOf<Services["deposit"]>().toEqualTypeOf<{ account_id: string; amount: number }>();
    expectTypeOf<Services["open_account"]>().toEqualTypeOf<{ account_id?: string | undefined }>();
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
