import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { newId } from "../../src/core/shared/ids.js";
import { referenceOf } from "../../src/core/readside/event-envelope.js";
import { env } from "cloudflare:workers";
import { eventually, flakyTallies, outboxOf, tallyCommand, tallyStub } from "../support/read-side-helpers.js";
import { publishedTallies, tallyQueueFaults, tallyReadSide } from "../support/test-read-side.js";

/** The versions of stream `tally-<id>` published so far, in the order the queue delivered them. */
const published = (id: string) => publishedTallies.filter((e) => referenceOf(e).streamName === `tally-${id}`);
const versions = (id: string) => published(id).map((e) => referenceOf(e).version);

describe("the transactional outbox of an aggregate object", () => {
  // The flaky queue's faults are shared: a test that failed half-way must not break the next.
  beforeEach(() => {
    Object.assign(tallyQueueFaults, { failNext: 0, failed: 0, holding: false });
  });

  it("publishes each committed event once, in version order, and empties its outbox", async () => {
    const id = newId();
    await tallyCommand("add", { id, amount: 1 });
    await tallyCommand("add_twice", { id, amount: 2 });
    await tallyCommand("add", { id, amount: 3 });
    await eventually(async () => versions(id), (seen) => seen.length >= 4);
    expect(versions(id)).toEqual([0, 1, 2, 3]);
    expect(published(id).map((e) => (e.kind === "event" ? [e.event.type, e.event.data] : null))).toEqual([
      ["Added", { amount: 1 }],
      ["Added", { amount: 2 }],
      ["Added", { amount: 2 }],
      ["Added", { amount: 3 }],
    ]);
    expect(await outboxOf(id)).toEqual([]);
    // All sent: the safety alarm set with the first commit is left to ring (cheaper than clearing
    // it after every send); it finds nothing to send, sends nothing again, and leaves no alarm.
    expect(await runDurableObjectAlarm(tallyStub(id))).toBe(true);
    expect(published(id)).toHaveLength(4);
    expect(await runInDurableObject(tallyStub(id), (_object, state) => state.storage.getAlarm())).toBeNull();
  });

  it("while its queue refuses every send, the alarm still records in the catalog what was committed", async () => {
    const id = newId();
    const recorded = async () => (await tallyReadSide.store(env).streams("tally", { after: `tally-${id}`.slice(0, -1), limit: 1 }))[0];
    tallyQueueFaults.failNext = 1_000;
    try {
      await tallyCommand("add", { id, amount: 1 }, { flaky: true });
      await tallyCommand("add", { id, amount: 2 }, { flaky: true });
      expect(await outboxOf(id, true)).toEqual([0, 1]);
      expect(await runDurableObjectAlarm(tallyStub(id, true))).toBe(true);
      expect(await outboxOf(id, true)).toEqual([0, 1]);
      expect(await recorded()).toEqual({ stream: "tally", streamName: `tally-${id}`, version: 1 });
      // And the alarm stays on, to send them once the queue takes them.
      expect(await runInDurableObject(tallyStub(id, true), (_object, state) => state.storage.getAlarm())).not.toBeNull();
    } finally {
      tallyQueueFaults.failNext = 0;
    }
    expect(await runDurableObjectAlarm(tallyStub(id, true))).toBe(true);
    expect(await outboxOf(id, true)).toEqual([]);
  });

  it("a burst of commits sets the safety alarm once, not once per commit", async () => {
    const id = newId();
    await tallyCommand("add", { id, amount: 1 });
    const first = await runInDurableObject(tallyStub(id), (_object, state) => state.storage.getAlarm());
    for (let amount = 2; amount <= 5; amount += 1) await tallyCommand("add", { id, amount });
    await eventually(async () => versions(id), (seen) => seen.length >= 5);
    expect(first).not.toBeNull();
    expect(await runInDurableObject(tallyStub(id), (_object, state) => state.storage.getAlarm())).toBe(first);
  });

  it("a dry run publishes nothing", async () => {
    const id = newId();
    await tallyCommand("add", { id, amount: 1 });
    expect((await tallyCommand("add", { id, amount: 50 }, { dryRun: true })).response).toMatchObject({ status: "ok" });
    await tallyCommand("add", { id, amount: 2 });
    await eventually(async () => versions(id), (seen) => seen.length >= 2);
    expect(published(id).map((e) => (e.kind === "event" ? e.event.data : null))).toEqual([{ amount: 1 }, { amount: 2 }]);
  });

  it("a failed append publishes nothing: its events and its reply roll back together, and nothing counts as unsent", async () => {
    const id = newId();
    await tallyCommand("add", { id, amount: 1 });
    await eventually(async () => versions(id), (seen) => seen.length === 1);
    // The append's last write (the idempotency record) fails inside the transaction.
    await runInDurableObject(tallyStub(id), (_object, state) => {
      state.storage.sql.exec("CREATE TRIGGER fail_append BEFORE INSERT ON processed_messages BEGIN SELECT RAISE(ABORT, 'disk full (injected)'); END");
    });
    expect((await tallyCommand("add_twice", { id, amount: 99 })).response).toEqual({ status: "error", reason: "internal_error" });
    expect(await outboxOf(id)).toEqual([]);
    await runInDurableObject(tallyStub(id), (_object, state) => {
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM events").one()).toEqual({ n: 1 });
      state.storage.sql.exec("DROP TRIGGER fail_append");
    });
    expect((await tallyCommand("add", { id, amount: 2 })).response).toEqual({ status: "ok", version: 1 });
    await eventually(async () => versions(id), (seen) => seen.length >= 2);
    expect(published(id).map((e) => (e.kind === "event" ? [e.event.version, e.event.data] : null))).toEqual([
      [0, { amount: 1 }],
      [1, { amount: 2 }],
    ]);
  });

  it("a send that fails leaves the events in the outbox, and the alarm sends them later, in order", async () => {
    const id = newId();
    tallyQueueFaults.failed = 0;
    tallyQueueFaults.failNext = 2;
    await tallyCommand("add", { id, amount: 1 }, { flaky: true });
    await tallyCommand("add", { id, amount: 2 }, { flaky: true });
    await eventually(async () => versions(id), (seen) => seen.length >= 2);
    expect(tallyQueueFaults.failed).toBe(2);
    expect(versions(id)).toEqual([0, 1]);
    expect(await outboxOf(id, true)).toEqual([]);
  });

  it("events committed by an object evicted before it could send them are sent by its alarm", async () => {
    const id = newId();
    tallyQueueFaults.failNext = 1_000;
    await tallyCommand("add_twice", { id, amount: 5 }, { flaky: true });
    expect(await outboxOf(id, true)).toEqual([0, 1]);
    await evictDurableObject(tallyStub(id, true));
    tallyQueueFaults.failNext = 0;
    // The alarm wakes a fresh instance, which knows its stream from storage alone.
    expect(await runDurableObjectAlarm(tallyStub(id, true))).toBe(true);
    await eventually(async () => versions(id), (seen) => seen.length >= 2);
    expect(versions(id)).toEqual([0, 1]);
    expect(await outboxOf(id, true)).toEqual([]);
  });

  it("an object evicted after its sends, before its cursor reached storage, sends those events again when it wakes: at least once, in order, and nothing after is lost", async () => {
    const id = newId();
    await tallyCommand("add", { id, amount: 1 });
    await tallyCommand("add", { id, amount: 2 });
    await eventually(async () => versions(id), (seen) => seen.length >= 2);
    // Sent; storage knows of no send of version 1 yet (the next commit or the alarm would write it).
    const stored = () => runInDurableObject(tallyStub(id), (_object, state) => state.storage.sql.exec<{ published: number }>("SELECT published FROM stream").one().published);
    expect(await stored()).toBeLessThan(1);
    await evictDurableObject(tallyStub(id));
    expect(await outboxOf(id)).toEqual([1]);
    expect(await runDurableObjectAlarm(tallyStub(id))).toBe(true);
    await eventually(async () => versions(id), (seen) => seen.length >= 3);
    expect(versions(id)).toEqual([0, 1, 1]);
    expect(await stored()).toBe(1);
    await tallyCommand("add", { id, amount: 3 });
    await eventually(async () => versions(id), (seen) => seen.length >= 4);
    expect(versions(id)).toEqual([0, 1, 1, 2]);
    expect(await outboxOf(id)).toEqual([]);
  });

  it("after a hard delete (which takes the alarm with the storage), the next commit sets the safety alarm again", async () => {
    const id = newId();
    tallyQueueFaults.failNext = 1_000;
    await tallyCommand("add", { id, amount: 1 }, { flaky: true });
    const alarm = () => runInDurableObject(tallyStub(id, true), (_object, state) => state.storage.getAlarm());
    expect(await alarm()).not.toBeNull();
    expect(await flakyTallies.deleteStream(env, id, { mode: "hard" })).toMatchObject({ status: "ok", payload: { events: 1, outbox: 1, alarm: true } });
    expect(await alarm()).toBeNull();
    // Its send hangs: only the alarm set with the commit would send the event if the object went now.
    tallyQueueFaults.holding = true;
    try {
      await tallyCommand("add", { id, amount: 2 }, { flaky: true });
      expect(await outboxOf(id, true)).toEqual([0]);
      expect(await alarm()).not.toBeNull();
    } finally {
      tallyQueueFaults.holding = false;
    }
    tallyQueueFaults.failNext = 0;
    expect(await runDurableObjectAlarm(tallyStub(id, true))).toBe(true);
    // The first event went with the storage before it was sent; the stream begins again at 0.
    await eventually(async () => versions(id), (seen) => seen.length >= 1);
    expect(published(id).map((e) => (e.kind === "event" ? e.event.data : null))).toEqual([{ amount: 2 }]);
  });

  it("an event too large for one queue message is published as a reference to its stream and version", async () => {
    const id = newId();
    await tallyCommand("note", { id, text: "x".repeat(200_000) });
    const [envelope] = await eventually(async () => published(id), (seen) => seen.length >= 1);
    expect(envelope).toMatchObject({ kind: "reference", ref: { stream: "tally", streamName: `tally-${id}`, aggregateId: id, version: 0 } });
  });
});
