import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { EVERY_OWNER, newMessage, type JsonObject, type ScheduleSpec } from "../../src/core/index.js";
import { newId } from "../../src/core/shared/ids.js";
import { durableObjectScheduler } from "../../src/objects/index.js";
import { meterOf } from "../../src/objects/sql.js";
import { sleep } from "../support/recorders.js";
import { freshKey, seen, testClock } from "../support/test-scheduling.js";

const scheduler = durableObjectScheduler((e: Cloudflare.Env) => e.TEST_SCHEDULER);
const stub = (key: string) => env.TEST_SCHEDULER.get(env.TEST_SCHEDULER.idFromName(key));

async function schedule(key: string, service: string, spec: ScheduleSpec, rawRequest: JsonObject = {}, options: { id?: string; assigns?: JsonObject } = {}) {
  const message = newMessage(service, { rawRequest, assigns: options.assigns ?? {}, ...(options.id === undefined ? {} : { id: options.id }) });
  const answer = await scheduler.schedule(env, { key, message, spec });
  return { message, answer };
}

/** Runs the shard's alarm until nothing more is due; returns how many times it ran. */
async function drain(key: string, maxRuns = 100): Promise<number> {
  let runs = 0;
  while (runs < maxRuns && (await runDurableObjectAlarm(stub(key)))) {
    runs += 1;
    const pending = await scheduler.list(env, key, EVERY_OWNER);
    // Nothing due now (a retry is due at its next attempt, not at its occurrence's time): stop.
    if (pending.every((entry) => Date.parse(entry.nextAttemptAt) > testClock.now())) break;
  }
  return runs;
}

/** The assigns of ada's calls, as the gateway makes them. */
const ada = { identity: { user: "ada" }, principal: "ada" };

const alarmOf = (key: string) => runInDurableObject(stub(key), (_instance, state) => state.storage.getAlarm());
const deliveriesOf = (id: string) => seen.deliveries.filter((d) => d.id === id || d.id.startsWith(`${id}-`));

afterEach(() => {
  testClock.offset = 0;
});

// Scheduling: what the scheduler stores for a message (its dispatchAt and attempt count), what it
// hands the service and serviceResponded on delivery, and what it refuses.
describe("scheduling", () => {
  // A relative time (inMs): saveAlarm sees dispatchAt at least that far ahead and no attempt yet; the
  // delivery counts as attempt 1, and its reply (here service_unavailable) reaches serviceResponded.
  it("in: 50 saves the alarm with dispatchAt and attempts 0, then delivers with attempts 1 and hands the reply to serviceResponded", async () => {
    const key = freshKey();
    const before = Date.now();
    const { message, answer } = await schedule(key, "wrong_service", { inMs: 50 }, { noRetry: true });
    expect(answer).toMatchObject({ status: "ok", payload: { key, alreadyScheduled: false, recurrence: null } });
    const saved = seen.saved.find((s) => s.id === message.id);
    expect(saved?.key).toBe(key);
    expect(saved?.assigns["dispatchAttempts"]).toBe(0);
    expect(Date.parse(String(saved?.assigns["dispatchAt"])) - before).toBeGreaterThanOrEqual(50);
    await sleep(60);
    await drain(key);
    const responded = seen.responded.filter((r) => r.id === message.id);
    expect(responded).toHaveLength(1);
    expect(responded[0]).toMatchObject({ attempts: 1, response: { status: "service_unavailable", service: "wrong_service" } });
    expect(await scheduler.list(env, key, EVERY_OWNER)).toEqual([]);
  });

  // An absolute time (at) is stored as given; the assigns the saveAlarm hook adds are delivered
  // with the message.
  it("at: a date keeps dispatchAt as given; assigns injected by saveAlarm reach the service", async () => {
    const key = freshKey();
    const at = new Date(Date.now() - 10).toISOString();
    const { message } = await schedule(key, "record", { at });
    expect((await scheduler.list(env, key, EVERY_OWNER))[0]?.dispatchAt).toBe(at);
    await drain(key);
    const [delivery] = deliveriesOf(message.id);
    expect(delivery?.assigns).toMatchObject({ dispatchAt: at, dispatchAttempts: 1, injected: "value" });
  });

  it("a message id already scheduled is not scheduled twice", async () => {
    const key = freshKey();
    const id = `once-${newId()}`;
    await schedule(key, "record", { inMs: 60_000 }, {}, { id });
    const again = await schedule(key, "record", { inMs: 5 }, {}, { id });
    expect(again.answer).toMatchObject({ status: "ok", payload: { alreadyScheduled: true } });
    const listed = await scheduler.list(env, key, EVERY_OWNER);
    expect(listed).toHaveLength(1);
    expect(Date.parse(listed[0]?.dispatchAt ?? "") - Date.now()).toBeGreaterThan(50_000);
  });

  // Each delivery is bounded by the dispatch timeout: a service slower than it answers
  // service_timeout, and that reply reaches serviceResponded.
  it("dispatchTimeout bounds each delivery: a slow service answers service_timeout to serviceResponded", async () => {
    const key = freshKey();
    const { message } = await schedule(key, "slow", { inMs: 0 }, { noRetry: true });
    await drain(key);
    expect(seen.responded.find((r) => r.id === message.id)?.response).toMatchObject({ status: "service_timeout", timeoutMs: 50 });
  });

  // The deliveries of a batch share the object's one timer: the fast ones finishing first must
  // not take the slow one's deadline with them.
  it("a slow delivery still times out when the fast deliveries of its batch finish first", async () => {
    const key = freshKey();
    const { message } = await schedule(key, "slow", { inMs: 0 }, { noRetry: true });
    for (let i = 0; i < 3; i++) await schedule(key, "record", { inMs: 0 });
    await drain(key);
    expect(seen.responded.find((r) => r.id === message.id)?.response).toMatchObject({ status: "service_timeout", timeoutMs: 50 });
  });

  it("bad input is refused and nothing is stored", async () => {
    const key = freshKey();
    const bad: ScheduleSpec[] = [
      { inMs: -1 },
      { inMs: 1.5 },
      { inMs: 400 * 24 * 3600 * 1000 },
      { at: "tomorrow" },
      { at: "2030-01-01T10:00:00" },
      { cron: "61 * * * *" },
      { cron: "* * * *" },
      { everyMs: 10 },
      { inMs: 5, at: "2030-01-01T00:00:00Z" } as unknown as ScheduleSpec,
      {} as ScheduleSpec,
    ];
    for (const spec of bad) {
      expect((await schedule(key, "record", spec)).answer).toMatchObject({ status: "error", reason: "invalid_request" });
    }
    const message = newMessage("record");
    for (const badKey of ["x".repeat(201), "a\u0001b"]) {
      expect(await scheduler.schedule(env, { key: badKey, message, spec: { inMs: 1 } })).toMatchObject({
        status: "error",
        reason: "invalid_request",
        details: expect.stringMatching(/^key /),
      });
    }
    const notAMessage = { ...message, id: "" };
    expect(await scheduler.schedule(env, { key, message: notAMessage, spec: { inMs: 1 } })).toMatchObject({
      status: "error",
      reason: "invalid_request",
    });
    expect(await scheduler.list(env, key, EVERY_OWNER)).toEqual([]);
    expect(await alarmOf(key)).toBeNull();
  });
});

// Delivery: retries with the attempt count and assigns kept, the late flag, the alarm's due time,
// cancellation, restarts, the owner's current rights, telemetry, and exactly-once under load.
describe("delivery", () => {
  // A failed delivery is retried: each try carries the next attempt number and the assigns the
  // message had, until the service answers ok and the message is removed.
  it("a service failing twice then succeeding is tried three times, with attempts 1, 2, 3 and its assigns kept", async () => {
    const key = freshKey();
    const { message } = await schedule(key, "flaky", { inMs: 0 });
    await drain(key);
    expect(deliveriesOf(message.id).map((d) => d.attempts)).toEqual([1, 2, 3]);
    expect(deliveriesOf(message.id)[2]?.assigns).toMatchObject({ redelivered: true, injected: "value" });
    expect(seen.responded.filter((r) => r.id === message.id).map((r) => r.response?.status)).toEqual(["error", "error", "ok"]);
    expect(await scheduler.list(env, key, EVERY_OWNER)).toEqual([]);
  });

  // A delivery is marked late when its time had already passed when it was scheduled, or when it
  // runs well after its time (lateAfterMs); a punctual one is not marked.
  it("a date already past gives late = true; so does a delivery long after its time", async () => {
    const key = freshKey();
    const past = await schedule(key, "record", { at: new Date(Date.now() - 60_000).toISOString() });
    const soon = await schedule(key, "record", { inMs: 10 });
    testClock.offset = 1000;
    await drain(key);
    expect(deliveriesOf(past.message.id)[0]?.assigns["late"]).toBe(true);
    expect(deliveriesOf(soon.message.id)[0]?.assigns["late"]).toBe(true);
    const key2 = freshKey();
    const punctual = await schedule(key2, "record", { inMs: 0 });
    await drain(key2);
    expect(deliveriesOf(punctual.message.id)[0]?.assigns["late"]).toBeUndefined();
  });

  // A message due far ahead is kept in storage: an alarm run before its time delivers nothing and
  // leaves the alarm at the message's time.
  it("a message far in the future is only stored; the alarm waits for it", async () => {
    const key = freshKey();
    const at = new Date(Date.now() + 300 * 24 * 3600 * 1000).toISOString();
    const { message } = await schedule(key, "record", { at });
    expect(await alarmOf(key)).toBe(Date.parse(at));
    await runDurableObjectAlarm(stub(key));
    expect(deliveriesOf(message.id)).toEqual([]);
    expect(await alarmOf(key)).toBe(Date.parse(at));
  });

  it("the alarm is always set to the earliest due time, and cleared when nothing is left", async () => {
    const key = freshKey();
    const now = Date.now();
    const later = await schedule(key, "record", { inMs: 600_000 });
    const sooner = await schedule(key, "record", { inMs: 300_000 });
    expect((await alarmOf(key)) ?? 0).toBeGreaterThanOrEqual(now + 300_000);
    expect((await alarmOf(key)) ?? 0).toBeLessThan(now + 600_000);
    expect(await scheduler.cancel(env, key, sooner.message.id, EVERY_OWNER)).toEqual({ status: "ok" });
    expect((await alarmOf(key)) ?? 0).toBeGreaterThanOrEqual(now + 600_000);
    expect(await scheduler.cancel(env, key, later.message.id, EVERY_OWNER)).toEqual({ status: "ok" });
    expect(await alarmOf(key)).toBeNull();
  });

  it("cancel prevents delivery; cancelling what is not there answers not_found", async () => {
    const key = freshKey();
    const { message } = await schedule(key, "record", { inMs: 0 });
    expect(await scheduler.cancel(env, key, message.id, EVERY_OWNER)).toEqual({ status: "ok" });
    expect(await scheduler.cancel(env, key, message.id, EVERY_OWNER)).toEqual({ status: "error", reason: "not_found" });
    await runDurableObjectAlarm(stub(key));
    expect(deliveriesOf(message.id)).toEqual([]);
  });

  it("a message survives a restart of its object between scheduling and delivery", async () => {
    const key = freshKey();
    const { message } = await schedule(key, "record", { inMs: 30 });
    await evictDurableObject(stub(key));
    await sleep(40);
    await drain(key);
    expect(deliveriesOf(message.id)).toHaveLength(1);
  });

  it("a throwing serviceResponded loses nothing: the message is delivered again when its lease ends", async () => {
    const key = freshKey();
    const id = `throws-${newId()}`;
    seen.throwOnce.add(id);
    await schedule(key, "record", { inMs: 0 }, {}, { id });
    await drain(key);
    expect(deliveriesOf(id)).toHaveLength(1);
    expect(await scheduler.list(env, key, EVERY_OWNER)).toHaveLength(1);
    testClock.offset = 11_000; // past the lease: dispatch timeout 5 s + 5 s margin
    await drain(key);
    expect(deliveriesOf(id).map((d) => d.attempts)).toEqual([1, 2]);
    expect(await scheduler.list(env, key, EVERY_OWNER)).toEqual([]);
  });

  it("delivery runs with the identity the owner has now: a refusal of their current rights is a denial, settled and recorded", async () => {
    const key = freshKey();
    const { message } = await schedule(key, "record", { inMs: 0 }, {}, { assigns: { identity: { user: "mallory" }, principal: "mallory" } });
    // saveAlarm sees the caller's identity; what is stored keeps only who scheduled.
    expect(seen.saved.find((s) => s.id === message.id)?.assigns["identity"]).toEqual({ user: "mallory" });
    const stored = await runInDurableObject(stub(key), (_instance, state) =>
      state.storage.sql.exec<{ template: string; message: string }>("SELECT COALESCE(template, message) AS template, message FROM schedule_messages").one(),
    );
    for (const json of [stored.template, stored.message]) {
      expect((JSON.parse(json) as { assigns: JsonObject }).assigns).toMatchObject({ principal: "mallory" });
      expect((JSON.parse(json) as { assigns: JsonObject }).assigns["identity"]).toBeUndefined();
    }
    seen.revoked.add("mallory");
    await drain(key);
    expect(deliveriesOf(message.id)).toEqual([]);
    // Not a failure to retry: serviceResponded is not asked, the entry is gone, the denial recorded.
    expect(seen.responded.filter((r) => r.id === message.id)).toEqual([]);
    expect(await scheduler.list(env, key, EVERY_OWNER)).toEqual([]);
    expect(await scheduler.outcomes(env, key, EVERY_OWNER)).toMatchObject([
      { messageId: message.id, owner: "mallory", outcome: "denied", reason: "forbidden", attempts: 1, response: { status: "forbidden" } },
    ]);
  });

  it("a recurring schedule whose owner no longer resolves is denied and stops", async () => {
    const key = freshKey();
    const { message } = await schedule(key, "record", { everyMs: 60_000 }, {}, { assigns: { identity: { user: "trudy" }, principal: "trudy" } });
    testClock.offset = 60_010;
    await drain(key);
    expect(deliveriesOf(message.id).map((d) => [d.id, d.assigns["identity"], d.assigns["principal"]])).toEqual([[`${message.id}-0`, { user: "trudy" }, "trudy"]]);
    seen.gone.add("trudy");
    testClock.offset = 120_010;
    await drain(key);
    expect(deliveriesOf(message.id)).toHaveLength(1);
    expect(await scheduler.list(env, key, EVERY_OWNER)).toEqual([]);
    expect(await scheduler.outcomes(env, key, "trudy")).toMatchObject([{ messageId: `${message.id}-1`, outcome: "denied", reason: "principal_unknown" }]);
    expect(await scheduler.outcomes(env, key, "someone-else")).toEqual([]);
  });

  it("the object's telemetry handlers receive the scheduler's events: a delivery and a cancel", async () => {
    const key = freshKey();
    const { message } = await schedule(key, "record", { inMs: 0 });
    const later = await schedule(key, "record", { inMs: 60_000 });
    await drain(key);
    await scheduler.cancel(env, key, later.message.id, EVERY_OWNER);
    const mine = seen.telemetry.filter((e) => (e.metadata as { key?: string }).key === key);
    expect(mine.map((e) => e.name)).toEqual(["scheduled_delivery", "scheduled_cancel"]);
    expect(mine[0]).toMatchObject({ measurements: { lateness: expect.any(Number) }, metadata: { attempt: 1, status: "ok", message: { id: message.id } } });
    expect(mine[1]).toMatchObject({ metadata: { messageId: later.message.id, owner: null, by: "admin" } });
  });

  it("1,000 messages due at random times are each delivered exactly once", async () => {
    const key = freshKey();
    const ids: string[] = [];
    for (let i = 0; i < 1000; i += 1) {
      const { message } = await schedule(key, "record", { inMs: Math.floor(Math.random() * 500) });
      ids.push(message.id);
    }
    testClock.offset = 1000;
    const runs = await drain(key, 200);
    expect(runs).toBeLessThan(10); // ten batches of 100, several per ring of the alarm (one per ring took ten)
    const counts = new Map<string, number>();
    for (const delivery of seen.deliveries) counts.set(delivery.id, (counts.get(delivery.id) ?? 0) + 1);
    expect(ids.filter((id) => counts.get(id) !== 1)).toEqual([]);
    expect(await scheduler.list(env, key, EVERY_OWNER)).toEqual([]);
  }, 30_000);

  it("scheduling on a key with many pending entries reads a few rows, not every pending entry (rows read are billed)", async () => {
    const key = freshKey();
    for (let i = 0; i < 300; i += 1) await schedule(key, "record", { inMs: 3_600_000 });
    const rowsRead = () => runInDurableObject(stub(key), (_instance, state) => meterOf(state.storage.sql).rowsRead);
    const before = await rowsRead();
    for (let i = 0; i < 20; i += 1) expect((await schedule(key, "record", { inMs: 3_600_000 })).answer).toMatchObject({ status: "ok" });
    expect((await rowsRead()) - before).toBeLessThan(20 * 10);
    expect(await scheduler.list(env, key, EVERY_OWNER)).toHaveLength(320);
  });

  it("a ring of the alarm delivers batch after batch while more are due, then re-arms at once for the rest", async () => {
    const key = freshKey();
    const ids = new Set<string>();
    for (let i = 0; i < 1050; i += 1) ids.add((await schedule(key, "record", { inMs: 0 })).message.id);
    testClock.offset = 1000;
    const delivered = () => seen.deliveries.filter((d) => ids.has(d.id)).length;
    expect(await runDurableObjectAlarm(stub(key))).toBe(true);
    // More than one batch of 100 in one ring, at most ten; the rest is due, the alarm set for now.
    const first = delivered();
    expect(first).toBeGreaterThan(100);
    expect(first).toBeLessThanOrEqual(1000);
    expect(first % 100).toBe(0);
    expect(await alarmOf(key)).toBeLessThanOrEqual(Date.now() + 1000);
    for (let rings = 1; rings < 20 && delivered() < ids.size; rings += 1) await runDurableObjectAlarm(stub(key));
    expect(delivered()).toBe(1050);
    expect(await scheduler.list(env, key, EVERY_OWNER)).toEqual([]);
  }, 30_000);
});

describe("recurring schedules", () => {
  it("every: fires again and again, each occurrence with its own message id, and stops on cancel", async () => {
    const key = freshKey();
    const { message, answer } = await schedule(key, "record", { everyMs: 60_000 }, {}, { assigns: ada });
    expect(answer).toMatchObject({ payload: { recurrence: { everyMs: 60_000 } } });
    for (let n = 1; n <= 3; n += 1) {
      testClock.offset = n * 60_000 + 10;
      await drain(key);
    }
    expect(deliveriesOf(message.id).map((d) => d.id)).toEqual([`${message.id}-0`, `${message.id}-1`, `${message.id}-2`]);
    expect(await scheduler.cancel(env, key, message.id, EVERY_OWNER)).toEqual({ status: "ok" });
    testClock.offset = 10 * 60_000;
    await drain(key);
    expect(deliveriesOf(message.id)).toHaveLength(3);
  });

  it("cron: fires at each matching minute (UTC)", async () => {
    const key = freshKey();
    const { message } = await schedule(key, "record", { cron: "*/5 * * * *" }, {}, { assigns: ada });
    const [entry] = await scheduler.list(env, key, EVERY_OWNER);
    const first = Date.parse(entry?.dispatchAt ?? "");
    expect(new Date(first).getUTCMinutes() % 5).toBe(0);
    expect(new Date(first).getUTCSeconds()).toBe(0);
    testClock.offset = first - Date.now() + 1000;
    await drain(key);
    const [next] = await scheduler.list(env, key, EVERY_OWNER);
    expect(Date.parse(next?.dispatchAt ?? "") - first).toBe(5 * 60_000);
    testClock.offset = first + 5 * 60_000 - Date.now() + 1000;
    await drain(key);
    expect(deliveriesOf(message.id)).toHaveLength(2);
    await scheduler.cancel(env, key, message.id, EVERY_OWNER);
  });
});
