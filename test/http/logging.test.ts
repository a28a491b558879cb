// The gateway's default logger: its format comes from the Worker's LOG_FORMAT variable.
import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ok, Router } from "../../src/core/index.js";
import { env } from "cloudflare:workers";
import { createGateway, readSide, type GatewayOptions } from "../../src/worker/index.js";

const failing = new Router({ authorize: () => "ok" }).service("fails", () => {
  throw new Error("broken\u2028on purpose");
});

let printed: string[] = [];
const original = { log: console.log, error: console.error };
beforeEach(() => {
  printed = [];
  console.log = (text: unknown) => void printed.push(String(text));
  console.error = (text: unknown) => void printed.push(String(text));
});
afterEach(() => {
  console.log = original.log;
  console.error = original.error;
});

async function callFailing(env: object, options: Partial<GatewayOptions<object>> = {}) {
  const app = createGateway({ services: [failing], ...options });
  const ctx = createExecutionContext();
  const answer = await app.fetch(new Request("http://gw/v1/services/fails", { method: "POST", body: "{}" }), env, ctx);
  await waitOnExecutionContext(ctx);
  expect(answer.status).toBe(500);
}

describe("the gateway's default logger", () => {
  it("logs a handler's failing background work when the gateway is called without an execution context (plain app.fetch)", async () => {
    const background = new Router({ authorize: () => "ok" }).service("background", (message, { waitUntil }) => {
      waitUntil(Promise.reject(new Error("background write broke")));
      return ok(message);
    });
    const app = createGateway({ services: [background] });
    const answer = await app.fetch(new Request("http://gw/v1/services/background", { method: "POST", body: "{}" }), {});
    expect(answer.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 0));
    const line = printed.find((text) => text.includes("work handed to waitUntil failed"));
    expect(line).toBeDefined();
    expect(line).toContain("background write broke");
  });

  it("writes JSON lines when LOG_FORMAT is unset, each event on one line", async () => {
    await callFailing({});
    expect(printed.length).toBeGreaterThan(0);
    for (const line of printed) {
      expect(line).not.toMatch(/[\n\u2028]/u);
      expect(JSON.parse(line)).toHaveProperty("level");
    }
    expect(printed.map((line) => JSON.parse(line) as { error?: { message?: string } }).some((l) => l.error?.message === "broken\u2028on purpose")).toBe(true);
  });

  it("writes pretty lines, the stack below, when LOG_FORMAT=pretty (as npm run dev sets it)", async () => {
    await callFailing({ LOG_FORMAT: "pretty" });
    const failure = printed.find((text) => text.includes("ERROR"));
    expect(failure).toBeDefined();
    const [line, ...stack] = (failure ?? "").split("\n");
    expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} ERROR .*service=fails.*error="Error: broken\\u2028on purpose"/);
    expect(stack[0]).toBe("    Error: broken\\u2028on purpose");
    expect(stack.some((frame) => /^\s+at /.test(frame))).toBe(true);
  });

  it("the logFormat option wins over LOG_FORMAT; a logger of the app's wins over both", async () => {
    await callFailing({ LOG_FORMAT: "pretty" }, { logFormat: "json" });
    expect(printed.length).toBeGreaterThan(0); // every() of nothing would pass
    expect(printed.every((line) => line.startsWith("{"))).toBe(true);
    printed = [];
    const own: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (message: string) => void own.push(message) };
    await callFailing({ LOG_FORMAT: "pretty" }, { logger });
    expect(printed).toEqual([]);
    expect(own.length).toBeGreaterThan(0);
  });
});

describe("the read side's default logger", () => {
  it("follows LOG_FORMAT too: a message that is no event is logged as a pretty line under LOG_FORMAT=pretty", async () => {
    const reads = readSide<{ READ_MODELS: D1Database; LOG_FORMAT?: string }>({ subscribers: [], database: (e) => e.READ_MODELS, sources: {} });
    const batch = createMessageBatch("events", [{ id: "m1", timestamp: new Date(), attempts: 1, body: { not: "an event" } }]);
    const ctx = createExecutionContext();
    await reads.queue(batch, { ...env, LOG_FORMAT: "pretty" }, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m1"]);
    const line = printed.find((text) => text.includes("not an event envelope"));
    expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} ERROR /);
  });
});
