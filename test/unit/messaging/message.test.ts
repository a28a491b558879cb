import type { StandardSchemaV1 } from "@standard-schema/spec";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { addEvent, assign, created, error, halt, newCausedBy, newMessage, ok, response, type JsonObject, type Message } from "../../../src/core/index.js";
import { newId } from "../../../src/core/shared/ids.js";
import { prepareAggregateId, putInRawRequest, putRequest, putValidationErrors, toService, tryAnotherNode, validateRequest } from "../../../src/core/messaging/message.js";

const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

describe("newMessage", () => {
  it("has the documented defaults", () => {
    const message = newMessage("x");
    expect(message).toMatchObject({
      serviceName: "x",
      dryRun: false,
      valid: true,
      halted: false,
      events: [],
      assigns: {},
      aggregateMeta: {},
      request: null,
      rawRequest: null,
      response: null,
      trace: {},
    });
    expect(message.id).toMatch(uuidV7);
    expect(Date.parse(message.invokedAt)).not.toBeNaN();
  });

  it("correlation and causation default to the id", () => {
    const message = newMessage("x", { id: "m-1" });
    expect(message.correlationId).toBe("m-1");
    expect(message.causationId).toBe("m-1");
  });

  it("causation falls back to the correlation id, not the id", () => {
    const message = newMessage("x", { id: "a", correlationId: "c" });
    expect(message.causationId).toBe("c");
  });

  it("a null id is generated", () => {
    expect(newMessage("x", { id: null }).id).toMatch(uuidV7);
  });

  it("carries the caller's trace context (explicit: JavaScript has no implicit logger metadata)", () => {
    const trace = { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" };
    const message = newMessage("x", { trace });
    expect(message.trace).toEqual(trace);
    expect(message.trace).not.toBe(trace);
  });
});

describe("newCausedBy", () => {
  it("takes correlation from the parent, causation from the parent's id, raw request from options only", () => {
    const parent = assign(newMessage("parent", { id: "p", correlationId: "c", dryRun: true, trace: { tenant: "t1" } }), "identity", "ada");
    const child = newCausedBy("child", parent, { rawRequest: { a: 1 } });
    expect(child.id).not.toBe(parent.id);
    expect(child.correlationId).toBe("c");
    expect(child.causationId).toBe("p");
    expect(child.rawRequest).toEqual({ a: 1 });
    expect(child.assigns).toEqual({});
    expect(child.dryRun).toBe(false);
    // Deliberate change: the trace context is the current context of whoever creates the child.
    expect(child.trace).toEqual({ tenant: "t1" });
  });

  it("takes an id when given one, so that a retried parent causes the same children", () => {
    const parent = newMessage("parent", { id: "p-1" });
    expect(newCausedBy("debit", parent, { id: `${parent.id}:debit` }).id).toBe("p-1:debit");
  });

  it("passes assigns and dry run on when asked to", () => {
    const parent = newMessage("parent", { dryRun: "verbose" });
    const child = newCausedBy("child", parent, { assigns: { identity: "ada" }, dryRun: parent.dryRun });
    expect(child.assigns).toEqual({ identity: "ada" });
    expect(child.dryRun).toBe("verbose");
  });
});

describe("ids", () => {
  it("are distinct, URL-safe, time-ordered UUIDv7", () => {
    const ids = Array.from({ length: 100 }, () => newId());
    expect(new Set(ids).size).toBe(100);
    for (const id of ids) {
      expect(id).toMatch(uuidV7);
      expect(encodeURIComponent(id)).toBe(id);
    }
    expect([...ids].sort()).toEqual(ids);
  });
});

describe("events, halting and responses", () => {
  it("addEvent ignores null and keeps events in the order they were added", () => {
    const message = newMessage("x");
    expect(addEvent(message, null)).toBe(message);
    expect(addEvent(message, undefined)).toBe(message);
    const withEvents = addEvent(addEvent(message, { type: "a", data: 1 }), { type: "b", data: 2 });
    expect(withEvents.events.map((e) => e.type)).toEqual(["a", "b"]);
    // Halting, even twice, keeps them in the order they were added.
    const halted = ok(ok(withEvents));
    expect(halted.events.map((e) => e.type)).toEqual(["a", "b"]);
  });

  it("halt, ok, created, error and tryAnotherNode set the response and halt", () => {
    const message = newMessage("x");
    expect(halt(message, response.forbidden())).toMatchObject({ response: { status: "forbidden" }, halted: true });
    expect(ok(message)).toMatchObject({ response: { status: "ok" }, halted: true });
    expect(ok(message).response).toStrictEqual({ status: "ok" });
    expect(ok(message, { a: 1 })).toMatchObject({ response: { status: "ok", payload: { a: 1 } }, halted: true });
    expect(created(message, "id-1")).toMatchObject({ response: { status: "created", id: "id-1" }, halted: true });
    expect(error(message, "boom")).toMatchObject({ response: { status: "error", reason: "boom" }, halted: true });
    expect(error(message, "boom", { why: "x" }).response).toStrictEqual({ status: "error", reason: "boom", details: { why: "x" } });
    expect(tryAnotherNode(message, "quorum_not_met").response).toStrictEqual({
      status: "error",
      reason: "try_another_node",
      details: "quorum_not_met",
    });
  });
});

describe("requests", () => {
  it("putRequest stores a valid request and does not halt", () => {
    const message = putRequest(newMessage("x"), { amount: 5 });
    expect(message).toMatchObject({ request: { amount: 5 }, valid: true, halted: false, response: null });
  });

  it("putValidationErrors marks the message invalid and halts with validation_error", () => {
    const errors = [{ path: "amount", message: "must be positive" }];
    const message = putValidationErrors(newMessage("x"), errors);
    expect(message).toMatchObject({ valid: false, halted: true, response: { status: "validation_error", errors } });
  });

  it("validateRequest accepts a zod schema and yields a readable error list", async () => {
    const schema = z.object({ name: z.string().min(1), items: z.array(z.object({ qty: z.number().positive() })) });
    const valid = await validateRequest(newMessage("x", { rawRequest: { name: "Ada", items: [{ qty: 1 }] } }), schema);
    expect(valid).toMatchObject({ valid: true, halted: false, request: { name: "Ada", items: [{ qty: 1 }] } });
    const invalid = await validateRequest(newMessage("x", { rawRequest: { name: "", items: [{ qty: -1 }] } }), schema);
    expect(invalid.valid).toBe(false);
    expect(invalid.halted).toBe(true);
    expect(invalid.response).toMatchObject({ status: "validation_error" });
    const errors = invalid.response?.status === "validation_error" ? invalid.response.errors : [];
    expect(errors.map((e) => e.path)).toEqual(["name", "items.0.qty"]);
    for (const e of errors) expect(e.message).toEqual(expect.any(String));
  });

  it("validateRequest accepts any Standard Schema validator, sync or async, and treats a null raw request as {}", async () => {
    const seen: unknown[] = [];
    const evenNumber: StandardSchemaV1<unknown, { n: number }> = {
      "~standard": {
        version: 1,
        vendor: "hand-written",
        validate: async (value) => {
          seen.push(value);
          const n = (value as { n?: unknown }).n;
          return typeof n === "number" && n % 2 === 0
            ? { value: { n } }
            : { issues: [{ message: "n must be even", path: [{ key: "n" }] }] };
        },
      },
    };
    expect((await validateRequest(newMessage("x", { rawRequest: { n: 2 } }), evenNumber)).request).toEqual({ n: 2 });
    const invalid = await validateRequest(newMessage("x"), evenNumber);
    expect(seen[1]).toEqual({});
    expect(invalid.response).toEqual({ status: "validation_error", errors: [{ path: "n", message: "n must be even" }] });
  });

  it("putInRawRequest on a null raw request creates an object", () => {
    expect(putInRawRequest(newMessage("x"), "a", 1).rawRequest).toEqual({ a: 1 });
    expect(putInRawRequest(newMessage("x", { rawRequest: { b: 2 } }), "a", 1).rawRequest).toEqual({ a: 1, b: 2 });
  });
});

describe("prepareAggregateId", () => {
  it("reads a present id into aggregateMeta", () => {
    const message = prepareAggregateId(newMessage("x", { rawRequest: { id: "acc-1" } }), "id");
    expect(message.aggregateMeta.id).toBe("acc-1");
    expect(message.halted).toBe(false);
  });

  it("halts with missing_id when the id is missing, empty or not an id", () => {
    const cases: (JsonObject | null)[] = [null, {}, { id: "" }, { id: null }, { id: { nested: 1 } }, { id: true }];
    for (const rawRequest of cases) {
      const message = prepareAggregateId(newMessage("x", { rawRequest }), "id");
      expect(message.response).toEqual({ status: "missing_id", field: "id" });
      expect(message.halted).toBe(true);
    }
  });

  it("when asked, takes the message id (a UUIDv7) into both the raw request and aggregateMeta, even with a null raw request", () => {
    const message = prepareAggregateId(newMessage("x"), "account_id", { generateIfMissing: true });
    expect(message.aggregateMeta.id).toMatch(uuidV7);
    expect(message.aggregateMeta.id).toBe(message.id);
    expect(message.rawRequest?.["account_id"]).toBe(message.aggregateMeta.id);
    expect(message.halted).toBe(false);
  });

  it("accepts a numeric id as its string form", () => {
    expect(prepareAggregateId(newMessage("x", { rawRequest: { id: 42 } }), "id").aggregateMeta.id).toBe("42");
  });
});

describe("toService and assign", () => {
  it("toService changes only the service name", () => {
    const message = newMessage("x", { rawRequest: { a: 1 } });
    expect(toService(message, "other")).toEqual({ ...message, serviceName: "other" });
  });

  it("assign sets one key of assigns", () => {
    const message = assign(assign(newMessage("x"), "identity", { user: "ada" }), "tenant", "t1");
    expect(message.assigns).toEqual({ identity: { user: "ada" }, tenant: "t1" });
  });
});

describe("a message as a value", () => {
  it("survives a JSON round trip unchanged, with every field populated", () => {
    let message: Message = newMessage("deposit", {
      id: "m-1",
      correlationId: "c-1",
      causationId: "p-1",
      dryRun: "verbose",
      rawRequest: { id: "acc-1", amount: 5, nested: { list: [1, "two", null, true] } },
      trace: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    });
    message = prepareAggregateId(putRequest(message, { amount: 5 }), "id");
    message = assign(addEvent(message, { type: "Deposited", data: { amount: 5 } }), "identity", { sub: "ada" });
    message = { ...halt(message, response.ok({ balance: 5 })), aggregateMeta: { id: "acc-1", version: 3 } };
    const copy: unknown = JSON.parse(JSON.stringify(message));
    expect(copy).toStrictEqual(message);
  });

  it("is never mutated by the helpers", () => {
    const message = deepFreeze(newMessage("x", { rawRequest: { a: 1 } }));
    expect(() => {
      addEvent(message, { type: "e", data: null });
      assign(message, "k", 1);
      putInRawRequest(message, "b", 2);
      prepareAggregateId(message, "id", { generateIfMissing: true });
      ok(message, 1);
      putRequest(message, {});
      toService(message, "y");
    }).not.toThrow();
    expect(message.events).toEqual([]);
    expect(message.rawRequest).toEqual({ a: 1 });
  });
});
