import { describe, expect, it } from "vitest";
import { aggregateRouter, aggregateSpec, Dispatcher, MemoryAggregates, newMessage, silentLogger } from "../../../src/core/index.js";
import { account } from "../../../examples/bank/account.js";

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
