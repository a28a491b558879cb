import { describe, expect, it } from "vitest";
import { addEvent, Dispatcher, newMessage, ok, Router, silentLogger, type Message } from "../../../src/core/index.js";
import { noReply } from "../../../src/core/messaging/router.js";
import { putRequest } from "../../../src/core/messaging/message.js";
import { ServiceRegistry } from "../../../src/core/messaging/service-registry.js";
import { recordingTelemetry } from "../../support/recorders.js";
import { testRouter } from "../../support/test-router.js";

function dispatcherOf(...routers: Router[]) {
  const recorded = recordingTelemetry();
  const dispatcher = new Dispatcher({ services: routers, env: {}, telemetry: recorded.telemetry, logger: silentLogger });
  return { dispatcher, ...recorded };
}

describe("registered services", () => {
  it("lists public, private and all (private first) in declaration order", () => {
    expect(testRouter.registeredServices("public")).toEqual(["first", "unauthorized_service", "custom_unauthorized_service"]);
    expect(testRouter.registeredServices("private")).toEqual(["private_service"]);
    expect(testRouter.registeredServices("all")).toEqual([
      "private_service",
      "first",
      "unauthorized_service",
      "custom_unauthorized_service",
    ]);
    expect(testRouter.registeredServices()).toEqual(testRouter.registeredServices("all"));
  });

  it("a registry merges the public services of every router and refuses a name declared twice", () => {
    const other = new Router({ authorize: () => "ok" }).service("second", (m) => ok(m)).privateService("hidden", (m) => ok(m));
    const registry = new ServiceRegistry([testRouter, other]);
    expect(registry.services("public")).toEqual(["first", "unauthorized_service", "custom_unauthorized_service", "second"]);
    expect(registry.services("private")).toEqual(["private_service", "hidden"]);
    expect(registry.find("hidden", true)).toBeUndefined();
    expect(registry.find("hidden")?.visibility).toBe("private");
    const clash = new Router().service("first", (m) => ok(m));
    expect(() => new ServiceRegistry([testRouter, clash])).toThrow(/first is declared by two routers/);
  });

  it("refuses a service declared twice in one router, or with an empty name", () => {
    expect(() => new Router().service("a", (m) => ok(m)).privateService("a", (m) => ok(m))).toThrow(/declared twice/);
    expect(() => new Router().service("", (m) => ok(m))).toThrow(/non-empty name/);
  });
});

describe("authorize", () => {
  it("without an authorize hook every call is forbidden and the handler never runs", async () => {
    let calls = 0;
    const router = new Router().service("open_sesame", (m) => {
      calls += 1;
      return ok(m);
    });
    const { dispatcher } = dispatcherOf(router);
    const reply = await dispatcher.dispatch(newMessage("open_sesame"));
    expect(reply.response).toEqual({ status: "forbidden" });
    expect(calls).toBe(0);
  });

  it("a denial reason becomes the response and the handler is not called", async () => {
    const { dispatcher } = dispatcherOf(testRouter);
    expect((await dispatcher.dispatch(newMessage("unauthorized_service"))).response).toEqual({ status: "forbidden" });
    expect((await dispatcher.dispatch(newMessage("custom_unauthorized_service"))).response).toEqual({
      status: "forbidden",
      reason: "None shall pass!",
    });
    let calls = 0;
    const quota = new Router({
      authorize: (m) => (m.assigns["plan"] === "free" ? { status: "error", reason: "quota_exceeded", details: { limit: 10 } } : "unauthorized"),
    }).service("expensive", (m) => {
      calls += 1;
      return ok(m);
    });
    const quotaDispatcher = dispatcherOf(quota).dispatcher;
    expect((await quotaDispatcher.dispatch(newMessage("expensive", { assigns: { plan: "free" } }))).response).toEqual({
      status: "error",
      reason: "quota_exceeded",
      details: { limit: 10 },
    });
    expect((await quotaDispatcher.dispatch(newMessage("expensive"))).response).toEqual({ status: "unauthorized" });
    expect(calls).toBe(0);
  });

  it("authorize by assigns: an admin passes, anyone else is forbidden", async () => {
    const router = new Router({ authorize: (m) => (m.assigns["role"] === "admin" ? "ok" : "forbidden") }).service("admin_only", (m) =>
      ok(m, "done"),
    );
    const { dispatcher } = dispatcherOf(router);
    expect((await dispatcher.dispatch(newMessage("admin_only", { assigns: { role: "admin" } }))).response).toEqual({
      status: "ok",
      payload: "done",
    });
    expect((await dispatcher.dispatch(newMessage("admin_only", { assigns: { role: "user" } }))).response).toEqual({ status: "forbidden" });
  });

  it("an authorize hook that answers something unexpected refuses (deny by default)", async () => {
    // A JavaScript caller could return `true`; only "ok" lets a call through.
    const router = new Router({ authorize: () => true as unknown as "ok" }).service("s", (m) => ok(m));
    expect((await dispatcherOf(router).dispatcher.dispatch(newMessage("s"))).response).toEqual({ status: "forbidden" });
  });

  it("authorize sees the env and the service's visibility", async () => {
    const seen: unknown[] = [];
    const router = new Router<{ FLAG: string }>({
      authorize: (_m, context) => {
        seen.push([context.env.FLAG, context.visibility]);
        return "ok";
      },
    }).privateService("p", (m) => ok(m));
    const dispatcher = new Dispatcher({ services: [router], env: { FLAG: "on" }, logger: silentLogger });
    await dispatcher.dispatch(newMessage("p"));
    expect(seen).toEqual([["on", "private"]]);
  });

  it("router.authorization answers null exactly when authorize lets the call through, and rejects when the hook throws", async () => {
    expect(await testRouter.authorization(newMessage("first"), {})).toBeNull();
    expect(await testRouter.authorization(newMessage("unauthorized_service"), {})).toEqual({ status: "forbidden" });
    expect(await testRouter.authorization(newMessage("custom_unauthorized_service"), {})).toEqual({ status: "forbidden", reason: "None shall pass!" });
    expect(await testRouter.authorization(newMessage("not_declared"), {})).toEqual({ status: "service_unavailable", service: "not_declared" });
    const throwing = new Router({
      authorize: () => {
        throw new Error("auth backend down");
      },
    }).service("s", (m) => ok(m));
    await expect(throwing.authorization(newMessage("s"), {})).rejects.toThrow("auth backend down");
  });
});

describe("replies", () => {
  const router = new Router({ authorize: () => "ok" }).service("with_events", (m: Message) =>
    ok(addEvent(addEvent(putRequest(m, { parsed: true }), { type: "A", data: 1 }), { type: "B", data: 2 }), "done"),
  );

  it("a reply reaches the caller without its request and without events", async () => {
    const { dispatcher } = dispatcherOf(router);
    const reply = await dispatcher.dispatch(newMessage("with_events"));
    expect(reply.response).toEqual({ status: "ok", payload: "done" });
    expect(reply.request).toBeNull();
    expect(reply.events).toEqual([]);
  });

  it("a verbose dry run keeps the events (and a plain dry run does not)", async () => {
    const { dispatcher } = dispatcherOf(router);
    const verbose = await dispatcher.dispatch(newMessage("with_events", { dryRun: "verbose" }));
    expect(verbose.events).toEqual([
      { type: "A", data: 1 },
      { type: "B", data: 2 },
    ]);
    expect(verbose.request).toBeNull();
    expect((await dispatcher.dispatch(newMessage("with_events", { dryRun: true }))).events).toEqual([]);
  });

  it("noReply sends nothing: the caller times out", async () => {
    const silent = new Router({ authorize: () => "ok" }).service("silent", () => noReply);
    const { dispatcher } = dispatcherOf(silent);
    const message = newMessage("silent");
    const reply = await dispatcher.dispatch(message, { timeoutMs: 20 });
    expect(reply.response).toEqual({ status: "service_timeout", service: "silent", messageId: message.id, timeoutMs: 20 });
  });

  it("a handler reaches the env and dispatches private services of its Worker", async () => {
    type Env = { GREETING: string };
    const router = new Router<Env>({ authorize: () => "ok" })
      .service("outer", async (m, { env, dispatch }) => {
        const inner = await dispatch(newMessage("inner"));
        return ok(m, `${env.GREETING} ${inner.response?.status === "ok" ? String(inner.response.payload) : "?"}`);
      })
      .privateService("inner", (m) => ok(m, "from inside"));
    const dispatcher = new Dispatcher({ services: [router], env: { GREETING: "hi" }, logger: silentLogger });
    expect((await dispatcher.dispatch(newMessage("outer"), { publicOnly: true })).response).toEqual({
      status: "ok",
      payload: "hi from inside",
    });
  });
});

describe("schemas on services", () => {
  it("validates the raw request after authorize and hands the handler a typed request", async () => {
    const { z } = await import("zod");
    let calls = 0;
    const router = new Router({ authorize: (m) => (m.assigns["ok"] === true ? "ok" : "forbidden") }).service(
      "deposit",
      { schema: z.object({ amount: z.number().int().positive() }) },
      (m) => {
        calls += 1;
        return ok(m, m.request.amount * 2);
      },
    );
    const { dispatcher } = dispatcherOf(router);
    const allowed = { assigns: { ok: true } };
    expect((await dispatcher.dispatch(newMessage("deposit", { ...allowed, rawRequest: { amount: 21 } }))).response).toEqual({
      status: "ok",
      payload: 42,
    });
    const invalid = await dispatcher.dispatch(newMessage("deposit", { ...allowed, rawRequest: { amount: -1 } }));
    expect(invalid.response?.status).toBe("validation_error");
    expect(invalid.valid).toBe(false);
    // Not authorized: the caller learns nothing about the schema.
    expect((await dispatcher.dispatch(newMessage("deposit", { rawRequest: { amount: -1 } }))).response).toEqual({ status: "forbidden" });
    expect(calls).toBe(1);
  });
});

describe("router telemetry", () => {
  it("emits service_request_received (with visibility), executing_service, execution_finished in order", async () => {
    const { dispatcher, events } = dispatcherOf(testRouter);
    await dispatcher.dispatch(newMessage("private_service"));
    const routerEvents = events.filter((e) =>
      ["service_request_received", "executing_service", "execution_finished"].includes(e.name),
    );
    expect(routerEvents.map((e) => e.name)).toEqual(["service_request_received", "executing_service", "execution_finished"]);
    expect(routerEvents[0]?.metadata).toEqual({ service: "private_service", visibility: "private", originNode: "local" });
    expect(routerEvents[1]?.metadata).toEqual({ node: "local", service: "private_service" });
  });

  it("emits no execution events when authorize refuses, and no execution_finished without a reply", async () => {
    const refused = dispatcherOf(testRouter);
    await refused.dispatcher.dispatch(newMessage("unauthorized_service"));
    expect(refused.names()).not.toContain("executing_service");
    const silent = dispatcherOf(new Router({ authorize: () => "ok" }).service("silent", () => noReply));
    await silent.dispatcher.dispatch(newMessage("silent"), { timeoutMs: 10 });
    expect(silent.names()).toContain("executing_service");
    expect(silent.names()).not.toContain("execution_finished");
  });
});
