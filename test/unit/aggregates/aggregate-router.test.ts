import { describe, expect, it } from "vitest";
import * as v from "valibot";
import { Aggregate, aggregateRouter, aggregateSpec, Dispatcher, MemoryAggregates, newMessage, silentLogger, type AggregateClient } from "../../../src/core/index.js";
import { account } from "../../../examples/bank/account.js";
import { durableObjectAggregates } from "../../../src/objects/durable-aggregate-client.js";

const ada = { identity: { user: "ada" }, principal: "ada" };

describe("aggregateRouter's options", () => {
  it("a command's own authorize wins over the router's: withdraw is refused while deposit goes through", async () => {
    const accounts = new MemoryAggregates(account);
    const router = aggregateRouter(account, accounts, {
      authorize: () => "ok",
      commands: { withdraw: { authorize: () => "forbidden" } },
    });
    const dispatcher = new Dispatcher({ services: [router], logger: silentLogger });
    const send = (service: string, rawRequest: object) => dispatcher.dispatch(newMessage(service, { rawRequest: { ...rawRequest }, assigns: ada }));
    expect((await send("open_account", { account_id: "a-1" })).response).toMatchObject({ status: "created" });
    expect((await send("deposit", { account_id: "a-1", amount: 5 })).response).toEqual({ status: "ok", version: 1 });
    expect((await send("withdraw", { account_id: "a-1", amount: 1 })).response).toEqual({ status: "forbidden" });
    expect((await accounts.readStream({}, "account-a-1", { from: 0, limit: 10 })).version).toBe(1);
  });

  it("a private command is never offered: not listed, not callable from outside, callable from inside", async () => {
    const accounts = new MemoryAggregates(account);
    const router = aggregateRouter(account, accounts, { authorize: () => "ok", private: ["close_account"] });
    expect(router.registeredServices("public")).not.toContain("close_account");
    expect(router.registeredServices("private")).toEqual(["close_account"]);
    const dispatcher = new Dispatcher({ services: [router], logger: silentLogger });
    await dispatcher.dispatch(newMessage("open_account", { rawRequest: { account_id: "p-1" }, assigns: ada }));
    const outside = await dispatcher.dispatch(newMessage("close_account", { rawRequest: { account_id: "p-1" }, assigns: ada }), { publicOnly: true });
    expect(outside.response).toMatchObject({ status: "service_unavailable" });
    const inside = await dispatcher.dispatch(newMessage("close_account", { rawRequest: { account_id: "p-1" }, assigns: ada }));
    expect(inside.response).toMatchObject({ status: "ok" });
  });

  it("anything but an AggregateClient where one is wanted is refused with what to pass instead", () => {
    const hint = "aggregateRouter takes an AggregateClient: durableObjectAggregates((env) => env.ACCOUNTS), or new MemoryAggregates(aggregate)";
    // @ts-expect-error -- the aggregate itself, not a client: TypeScript refuses it too (its message names what to pass)
    expect(() => aggregateRouter(account, account, { authorize: () => "ok" })).toThrow(hint);
    // @ts-expect-error -- something shaped like a Durable Object namespace
    expect(() => aggregateRouter(account, { idFromName: () => ({}), get: () => ({}) }, { authorize: () => "ok" })).toThrow(hint);
    expect(() => aggregateRouter(account, new MemoryAggregates(account), { authorize: () => "ok" })).not.toThrow();
  });

  it("a Durable Object binding missing from the env is named in the error, not a TypeError about get of undefined", async () => {
    const accounts = durableObjectAggregates((env: { ACCOUNTS?: DurableObjectNamespace }) => env.ACCOUNTS as DurableObjectNamespace);
    const message = newMessage("open_account", { rawRequest: { account_id: "a" } });
    await expect(accounts.execute({}, { streamName: "account-a", command: "open_account", message })).rejects.toThrow(/durableObjectAggregates: .*env\.ACCOUNTS.* gave no Durable Object namespace — is its binding declared/);
  });

  it("a misspelt command name does not compile, in the router's options or in a spec", () => {
    const accounts = new MemoryAggregates(account);
    // @ts-expect-error: there is no command "withdrew"
    aggregateRouter(account, accounts, { commands: { withdrew: { authorize: () => "ok" } } });
    // @ts-expect-error: there is no command "closeAccount"
    aggregateRouter(account, accounts, { private: ["closeAccount"] });
    // @ts-expect-error: there is no command "depositt"
    expect(() => aggregateSpec(account).when("depositt", {})).toBeDefined();
  });
});

describe("a command's schema", () => {
  // A schema that counts its runs, on a counter whose commands reach their instance as they would
  // reach a Durable Object: the message crosses as JSON, its parsed request left behind.
  let runs = 0;
  const By = v.pipe(
    v.object({ id: v.string(), by: v.pipe(v.number(), v.integer(), v.minValue(1)) }),
    v.check(() => (runs += 1) > 0),
  );
  type Added = { type: "Added"; data: { by: number } };
  const counter = new Aggregate<{ count: number }, Added>({ stream: "counter", initialState: () => ({ count: 0 }), apply: (state, event) => ({ count: state.count + event.data.by }) })
    .command("add", { creates: "if-missing", schema: By }, (request) => ({ type: "Added", data: { by: request.by } }));
  const overTheWire = (inner: AggregateClient<unknown>): AggregateClient<unknown> => ({
    execute: (env, request) => inner.execute(env, JSON.parse(JSON.stringify({ ...request, message: { ...request.message, request: null } }))),
    readStream: (env, name, page) => inner.readStream(env, name, page),
    deleteStream: (env, name, options) => inner.deleteStream(env, name, options),
  });

  it("runs once per command, in the instance, wherever the instance is; a refused request stores nothing", async () => {
    const counters = new MemoryAggregates(counter);
    for (const client of [counters, overTheWire(counters)]) {
      const dispatcher = new Dispatcher({ services: [aggregateRouter(counter, client, { authorize: () => "ok" })], logger: silentLogger });
      const id = client === counters ? "here" : "there";
      runs = 0;
      expect((await dispatcher.dispatch(newMessage("add", { rawRequest: { id, by: 2 } }))).response).toMatchObject({ status: "created" });
      expect((await dispatcher.dispatch(newMessage("add", { rawRequest: { id, by: 3 } }))).response).toEqual({ status: "ok", version: 1 });
      expect(runs).toBe(2);
      const refused = await dispatcher.dispatch(newMessage("add", { rawRequest: { id: `${id}-new`, by: 0 } }));
      expect(refused.response).toMatchObject({ status: "validation_error" });
      expect(counters.streamCount).toBe(client === counters ? 1 : 2);
    }
  });

  it("runs even on a message another schema already validated (a handler forwarding its own request)", async () => {
    const counters = new MemoryAggregates(counter);
    const dispatcher = new Dispatcher({ services: [aggregateRouter(counter, counters, { authorize: () => "ok" })], logger: silentLogger });
    const forwarded = { ...newMessage("add", { rawRequest: { id: "fwd", by: -5 } }), valid: true, request: { id: "fwd", by: -5 } };
    expect((await dispatcher.dispatch(forwarded)).response).toMatchObject({ status: "validation_error" });
    expect(counters.streamCount).toBe(0);
  });
});

describe("whose idempotency records a message is kept in", () => {
  type Added = { type: "Added"; data: { by: number } };
  const tally = new Aggregate<{ count: number }, Added>({ stream: "tally", initialState: () => ({ count: 0 }), apply: (state, event) => ({ count: state.count + event.data.by }) })
    .command("add", { creates: "if-missing", schema: v.object({ id: v.string(), by: v.number() }) }, (request) => ({ type: "Added", data: { by: request.by } }));

  it("a message with an identity and no principal (app code's own) is its identity's, not the anonymous callers'", async () => {
    const dispatcher = new Dispatcher({ services: [aggregateRouter(tally, new MemoryAggregates(tally), { authorize: () => "ok" })], logger: silentLogger });
    const add = (by: number, assigns: Record<string, { user: string }>) => dispatcher.dispatch(newMessage("add", { id: "pay-1", rawRequest: { id: "t-1", by }, assigns }));
    // An anonymous caller takes the id first…
    expect((await add(1, {})).response).toMatchObject({ status: "created" });
    // …and the app's own message with that id is its own: run, not refused as a reused id.
    expect((await add(5, { identity: { user: "ada" } })).response).toEqual({ status: "ok", version: 1 });
    // Its retry is answered from its own record.
    expect((await add(5, { identity: { user: "ada" } })).response).toEqual({ status: "ok", version: 1 });
  });
});
