import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { Dispatcher, newMessage, silentLogger, type JsonObject } from "../../src/core/index.js";
import { newId } from "../../src/core/shared/ids.js";
import { durableObjectAggregates } from "../../src/objects/index.js";
import { eventually } from "../support/read-side-helpers.js";
import { sleep } from "../support/recorders.js";
import { goneBorrowers, loanFaults, loans } from "../support/test-loans.js";

const client = durableObjectAggregates((e: Cloudflare.Env) => e.LOANS);
const dispatcher = new Dispatcher({ services: [loans], env, logger: silentLogger });
const stub = (id: string) => env.LOANS.get(env.LOANS.idFromName(`loan-${id}`));

/** Sends a loan command, as `user` when given. */
function send(service: string, request: JsonObject, options: { user?: string; id?: string; dryRun?: true } = {}) {
  const assigns: JsonObject = options.user === undefined ? {} : { identity: { user: options.user }, principal: options.user };
  return dispatcher.dispatch(newMessage(service, { rawRequest: request, assigns, ...(options.id === undefined ? {} : { id: options.id }), dryRun: options.dryRun ?? false }));
}

/**
 * Crashes the objects as a failing machine would: what they hold in memory and the work in flight
 * are lost, storage and alarms stay. Done from outside them: `state.abort()` inside a request
 * fails that request too, which workerd prints as an uncaught exception.
 */
const crash = () => abortAllDurableObjects();

const page = (id: string) => client.readStream(env, `loan-${id}`, { from: 0, limit: 100 });
const types = async (id: string) => (await page(id)).events.map((event) => event.type);

beforeEach(() => {
  loanFaults.holding = false;
  loanFaults.held = 0;
});

describe("follow-ups scheduled by decisions, delivered from the aggregate's own alarm", () => {
  it("a follow-up is committed with its event, listed with the stream, and delivered once when due", async () => {
    const id = `l-${newId()}`;
    const borrowed = await send("borrow", { loan_id: id, book: "Dune", dueInMs: 60_000 }, { user: "ada" });
    expect(borrowed.response).toEqual({ status: "created", id, version: 0 });
    const { followUps } = await page(id);
    expect(followUps).toEqual([
      { id: `loan-${id}:0:reminder`, name: "reminder", service: "remind", nextAttemptAt: expect.any(String), attempts: 0, recurrence: null, owner: "ada" },
    ]);
    // The alarm is set for it, in the commit's own write.
    const alarm = await runInDurableObject(stub(id), (_object, state) => state.storage.getAlarm());
    expect(Math.abs((alarm ?? 0) - Date.parse(followUps[0]?.nextAttemptAt ?? ""))).toBeLessThan(5);
    // Due now (as if the minute passed): the alarm delivers it to `remind`, as ada as she is now.
    await runInDurableObject(stub(id), (_object, state) => state.storage.sql.exec("UPDATE schedules SET due_at = 0"));
    expect(await runDurableObjectAlarm(stub(id))).toBe(true);
    const after = await page(id);
    expect(after.events.map((event) => [event.type, event.data])).toEqual([
      ["Borrowed", { book: "Dune", days: 14, borrower: "ada" }],
      ["Reminded", { by: "ada" }],
    ]);
    expect(after.events[1]?.metadata).toMatchObject({ messageId: `loan-${id}:0:reminder`, causationId: borrowed.id, correlationId: borrowed.correlationId });
    expect(after.followUps).toEqual([]);
    expect(await runDurableObjectAlarm(stub(id))).toBe(false);
    expect(await types(id)).toEqual(["Borrowed", "Reminded"]);
  });

  it("a caller who sends their command with the follow-up's future id cannot stop its delivery", async () => {
    const id = `l-${newId()}`;
    const followUpId = `loan-${id}:0:reminder`;
    // The id is predictable: the borrow that schedules the reminder is sent with it.
    const borrowed = await send("borrow", { loan_id: id, book: "Dune", dueInMs: 60_000 }, { user: "ada", id: followUpId });
    expect(borrowed.response).toEqual({ status: "created", id, version: 0 });
    await runInDurableObject(stub(id), (_object, state) => state.storage.sql.exec("UPDATE schedules SET due_at = 0"));
    expect(await runDurableObjectAlarm(stub(id))).toBe(true);
    const after = await page(id);
    expect(after.events.map((event) => event.type)).toEqual(["Borrowed", "Reminded"]);
    expect(after.followUpOutcomes).toEqual([]);
    // Ada's own record of her borrow is untouched: her retry is answered as the first time.
    expect((await send("borrow", { loan_id: id, book: "Dune", dueInMs: 60_000 }, { user: "ada", id: followUpId })).response).toEqual(borrowed.response);
  });

  it("the object crashes right after the commit: after the restart the follow-up is delivered, once", async () => {
    const id = `l-${newId()}`;
    await send("borrow", { loan_id: id, book: "Dune", dueInMs: 200 });
    // Killed before anything was delivered: everything in memory is gone, storage and alarm stay.
    await crash();
    // Nothing calls the object meanwhile: only the alarm written with the commit can wake it.
    await sleep(1500);
    expect(await types(id)).toEqual(["Borrowed", "Reminded"]);
    expect((await page(id)).followUps).toEqual([]);
  });

  it("a crash while the delivery is under way: delivered again after the restart, applied once", async () => {
    const id = `l-${newId()}`;
    loanFaults.holding = true;
    await send("borrow", { loan_id: id, book: "Dune", dueInMs: 0, via: "held_chime" });
    const delivering = runDurableObjectAlarm(stub(id)).catch(() => "aborted");
    await eventually(async () => loanFaults.held, (held) => held >= 1);
    await crash();
    expect(await delivering).toBe("aborted");
    loanFaults.holding = false;
    // The held delivery of the crashed incarnation goes on, and the restarted one delivers again.
    await eventually(() => types(id), (seen) => seen.length >= 2, 10_000);
    await runDurableObjectAlarm(stub(id)).catch(() => undefined);
    await sleep(200);
    expect(await types(id)).toEqual(["Borrowed", "Reminded"]);
  });

  it("a later decision cancels a pending follow-up: it is never delivered", async () => {
    const id = `l-${newId()}`;
    await send("borrow", { loan_id: id, book: "Dune", dueInMs: 0, via: "chime" });
    expect((await send("give_back", { loan_id: id })).response).toEqual({ status: "ok", version: 1 });
    expect((await page(id)).followUps).toEqual([]);
    await runDurableObjectAlarm(stub(id));
    expect(await types(id)).toEqual(["Borrowed", "Returned"]);
  });

  it("a cancel racing the delivery leaves exactly one outcome: the cancelled delivery does nothing", async () => {
    const id = `l-${newId()}`;
    loanFaults.holding = true;
    await send("borrow", { loan_id: id, book: "Dune", dueInMs: 0, via: "held_chime" });
    const delivering = runDurableObjectAlarm(stub(id));
    await eventually(async () => loanFaults.held, (held) => held === 1);
    // The delivery is under way (claimed, dispatched) when the book comes back.
    expect((await send("give_back", { loan_id: id })).response).toEqual({ status: "ok", version: 1 });
    loanFaults.holding = false;
    await delivering;
    expect(await types(id)).toEqual(["Borrowed", "Returned"]);
    expect((await page(id)).followUps).toEqual([]);
  });

  it("refused, dry-run and retried commands schedule nothing new", async () => {
    const id = `l-${newId()}`;
    await send("borrow", { loan_id: id, book: "Dune" }, { id: `borrow-${id}` });
    // Retried with its message id: answered from its record.
    expect((await send("borrow", { loan_id: id, book: "Dune" }, { id: `borrow-${id}` })).response).toEqual({ status: "created", id, version: 0 });
    // A dry run of a command that would replace the reminder.
    expect((await send("extend", { loan_id: id, days: 30 }, { dryRun: true })).response).toEqual({ status: "ok", version: 0 });
    await send("give_back", { loan_id: id });
    // Refused: the book is not out (its refusal event is stored, no follow-up).
    expect((await send("extend", { loan_id: id, days: 30 })).response).toEqual({ status: "error", reason: "not_out" });
    expect((await send("borrow", { loan_id: id, book: "Dune" })).response).toMatchObject({ status: "error", reason: "already_exists" });
    const after = await page(id);
    expect(after.events.map((event) => event.type)).toEqual(["Borrowed", "Returned", "Extended"]);
    expect(after.followUps).toEqual([]);
  });

  it("a follow-up runs with its caller's rights at delivery: one whose caller is gone is denied and recorded", async () => {
    const id = `l-${newId()}`;
    const user = `gone-${newId()}`;
    await send("borrow", { loan_id: id, book: "Dune", dueInMs: 0 }, { user });
    goneBorrowers.add(user);
    await runDurableObjectAlarm(stub(id));
    expect(await types(id)).toEqual(["Borrowed"]);
    expect((await page(id)).followUps).toEqual([]);
    const outcomes = await runInDurableObject(stub(id), (_object, state) =>
      state.storage.sql.exec<{ outcome: string; reason: string; id: string }>("SELECT outcome, reason, id FROM schedule_outcomes").toArray(),
    );
    expect(outcomes).toEqual([{ outcome: "denied", reason: "principal_unknown", id: `loan-${id}:0:reminder` }]);
    // And a stream read shows it: how the follow-up ended, and why — a soft delete keeps that.
    const denied = [{ at: expect.any(String), messageId: `loan-${id}:0:reminder`, owner: user, key: "reminder", service: "remind", outcome: "denied", reason: "principal_unknown", attempts: 1, response: null }];
    expect((await page(id)).followUpOutcomes).toEqual(denied);
    await client.deleteStream(env, `loan-${id}`, { mode: "soft" });
    expect((await page(id)).followUpOutcomes).toEqual(denied);
  });

  it("a soft delete takes the pending follow-ups with it: none is delivered to fail on the deleted aggregate", async () => {
    const id = `l-${newId()}`;
    await send("borrow", { loan_id: id, book: "Dune", dueInMs: 0 });
    expect((await page(id)).followUps).toHaveLength(1);
    expect(await client.deleteStream(env, `loan-${id}`, { mode: "soft" })).toEqual({ status: "ok" });
    expect((await page(id)).followUps).toEqual([]);
    await runDurableObjectAlarm(stub(id));
    expect(await types(id)).toEqual(["Borrowed"]);
    const outcomes = await runInDurableObject(stub(id), (_object, state) => state.storage.sql.exec("SELECT id FROM schedule_outcomes").toArray());
    expect(outcomes).toEqual([]);
  });

  it("a hard delete takes the pending follow-ups and their alarm with it", async () => {
    const id = `l-${newId()}`;
    await send("borrow", { loan_id: id, book: "Dune", dueInMs: 60_000 });
    expect(await client.deleteStream(env, `loan-${id}`, { mode: "hard" })).toMatchObject({ status: "ok", payload: { followUps: 1, alarm: true } });
    expect(await runInDurableObject(stub(id), (_object, state) => state.storage.getAlarm())).toBeNull();
    expect((await page(id)).followUps).toEqual([]);
    // Borrowed again, it schedules afresh (and sets its alarm again).
    await send("borrow", { loan_id: id, book: "Dune", dueInMs: 60_000 });
    expect((await page(id)).followUps.map((f) => f.id)).toEqual([`loan-${id}:0:reminder`]);
    expect(await runInDurableObject(stub(id), (_object, state) => state.storage.getAlarm())).not.toBeNull();
  });
});
