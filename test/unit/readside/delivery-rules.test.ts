import { describe, expect, it } from "vitest";
import { statement, type ProjectedEvent } from "../../../src/core/index.js";
import { envelopeOf } from "../../../src/core/readside/event-envelope.js";
import { MAX_ENVELOPE_BYTES, readEnvelope } from "../../../src/core/readside/event-envelope.js";
import { planDelivery } from "../../../src/core/readside/delivery-plan.js";
import { processInstanceId, stepMessageId } from "../../../src/core/readside/process.js";

const event = (version: number, data: ProjectedEvent["data"] = { amount: 1 }): ProjectedEvent => ({
  stream: "account",
  streamName: "account-a1",
  aggregateId: "a1",
  version,
  type: "MoneyDeposited",
  data,
  schemaVersion: 1,
  metadata: { messageId: `m${version}`, correlationId: "c", causationId: "c", service: "deposit" },
  recordedAt: "2026-11-27T10:00:00.000Z",
});

describe("the checkpoint rules", () => {
  it("the next version is applied from its envelope and moves the checkpoint", () => {
    expect(planDelivery(2, [3])).toEqual({ duplicates: [], read: null, fromEnvelopes: [3], target: 3 });
  });

  it("a version at or below the checkpoint is a duplicate and is skipped", () => {
    expect(planDelivery(5, [2, 5])).toEqual({ duplicates: [2, 5], read: null, fromEnvelopes: [], target: 5 });
  });

  it("a version beyond the next leaves a gap that is read from the stream, through the highest delivered", () => {
    expect(planDelivery(-1, [3])).toEqual({ duplicates: [], read: { from: 0, to: 3 }, fromEnvelopes: [], target: 3 });
    expect(planDelivery(1, [2, 3, 6, 5])).toEqual({ duplicates: [], read: { from: 4, to: 6 }, fromEnvelopes: [2, 3], target: 6 });
  });

  it("out-of-order deliveries of a whole range need no read", () => {
    expect(planDelivery(-1, [2, 0, 1])).toEqual({ duplicates: [], read: null, fromEnvelopes: [0, 1, 2], target: 2 });
  });

  it("an event delivered as a reference only is read from the stream", () => {
    expect(planDelivery(0, [1, 3], [2])).toEqual({ duplicates: [], read: { from: 2, to: 3 }, fromEnvelopes: [1], target: 3 });
  });
});

describe("envelopes", () => {
  it("carry the event, and read back as they were sent", () => {
    const { envelope } = envelopeOf(event(4), "2026-11-27T10:00:01.000Z");
    expect(readEnvelope(JSON.parse(JSON.stringify(envelope)))).toEqual({ ok: true, envelope });
  });

  it("an event too large for one queue message travels as a reference to its stream and version", () => {
    const { envelope, bytes } = envelopeOf(event(7, { pad: "é".repeat(MAX_ENVELOPE_BYTES / 2) }), "now");
    expect(envelope).toEqual({ format: 1, kind: "reference", publishedAt: "now", ref: { stream: "account", streamName: "account-a1", aggregateId: "a1", version: 7 } });
    expect(bytes).toBeLessThan(300);
  });

  it("anything else on the queue is refused with the reason", () => {
    expect(readEnvelope({ hello: "world" })).toMatchObject({ ok: false });
    expect(readEnvelope(null)).toMatchObject({ ok: false });
    const wrongStream = { format: 1, kind: "reference", publishedAt: "now", ref: { stream: "account", streamName: "ledger-a1", aggregateId: "a1", version: 0 } };
    expect(readEnvelope(wrongStream)).toEqual({ ok: false, problem: "not an event envelope: stream ledger-a1 is not account-a1" });
  });
});

describe("statements", () => {
  it("every interpolated value is a bound parameter, booleans as 1 and 0", () => {
    expect(statement`UPDATE t SET a = ${"x'; DROP TABLE t; --"}, b = ${true} WHERE id = ${7}`).toEqual({
      sql: "UPDATE t SET a = ?, b = ? WHERE id = ?",
      params: ["x'; DROP TABLE t; --", 1, 7],
    });
  });

  it("undefined and non-finite numbers are refused", () => {
    expect(() => statement`SELECT ${undefined as unknown as null}`).toThrow(/undefined/);
    expect(() => statement`SELECT ${Number.NaN}`).toThrow(/finite/);
  });
});

describe("process ids", () => {
  const event = (streamName: string, version: number, recordedAt = "2026-12-07T10:00:00.000Z", messageId = "m-1") => ({
    streamName,
    version,
    recordedAt,
    metadata: { messageId, correlationId: messageId, causationId: messageId, service: "transfer" },
  });

  it("an instance id is derived from the triggering event: the same event, the same id", async () => {
    const id = await processInstanceId("transfers", event("transfer-t1", 0));
    expect(id).toMatch(/^transfers_transfer-t1_0_[0-9a-f]{10}$/);
    expect(await processInstanceId("transfers", event("transfer-t1", 0))).toBe(id);
    expect(await processInstanceId("transfers", event("transfer-t1", 1))).not.toBe(id);
  });

  it("a stream opened again under its name (after an erasure or a hard delete) starts instances of its own: its events were recorded at other times, by other messages", async () => {
    const first = await processInstanceId("transfers", event("transfer-t1", 0));
    expect(await processInstanceId("transfers", event("transfer-t1", 0, "2026-12-08T10:00:00.000Z"))).not.toBe(first);
    expect(await processInstanceId("transfers", event("transfer-t1", 0, undefined, "m-2"))).not.toBe(first);
  });

  it("an event whose readable id would not be a valid Workflows id gets a hashed one", async () => {
    const id = await processInstanceId("transfers", event("transfer-façade 1", 0));
    expect(id).toMatch(/^transfers_[0-9a-f]{64}$/);
    expect(await processInstanceId("transfers", event(`transfer-${"x".repeat(120)}`, 0))).toMatch(/^transfers_[0-9a-f]{64}$/);
  });

  it("a step's message id is derived from the instance and the step", () => {
    expect(stepMessageId("transfers_transfer-t1_0_0123456789", "withdraw")).toBe("transfers_transfer-t1_0_0123456789:withdraw");
  });
});
