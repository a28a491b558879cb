import { abortAllDurableObjects, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { EVERY_OWNER, newMessage } from "../../src/core/index.js";
import { durableObjectScheduler } from "../../src/objects/index.js";
import { sleep } from "../support/recorders.js";
import { freshKey, seen } from "../support/test-scheduling.js";

const scheduler = durableObjectScheduler((e: Cloudflare.Env) => e.TEST_SCHEDULER);
const stub = (key: string) => env.TEST_SCHEDULER.get(env.TEST_SCHEDULER.idFromName(key));

describe("restarts", () => {
  it("a crash during a delivery delays it by the restart, not by the delivery's lease", async () => {
    const key = freshKey();
    const message = newMessage("stall", { rawRequest: {} });
    await scheduler.schedule(env, { key, message, spec: { inMs: 0 } });
    // The alarm starts delivering: the entry is claimed with a lease of about 40 s.
    const delivering = runDurableObjectAlarm(stub(key)).catch(() => "aborted");
    for (let waited = 0; !seen.deliveries.some((d) => d.id === message.id) && waited < 2000; waited += 10) await sleep(10);
    expect(seen.deliveries.filter((d) => d.id === message.id)).toHaveLength(1);
    // The object crashes mid-delivery (its in-flight work is lost) and starts again. Crashed from
    // outside (every object of the test runtime): `state.abort()` inside a request fails that
    // request too, which workerd prints as an uncaught exception.
    await abortAllDurableObjects();
    expect(await delivering).toBe("aborted");
    // The next request finds the delivery due again at once and arms the alarm for it.
    const [entry] = await scheduler.list(env, key, EVERY_OWNER);
    expect(entry?.attempts).toBe(1);
    expect(Date.parse(entry?.nextAttemptAt ?? "")).toBeLessThanOrEqual(Date.now());
    expect(await runDurableObjectAlarm(stub(key))).toBe(true);
    expect(seen.deliveries.filter((d) => d.id === message.id).map((d) => d.attempts)).toEqual([1, 2]);
  }, 20_000);

  /** Starts the alarm's delivery of `key`, waits until `id` is being delivered (its `count`-th time), and crashes the object. */
  async function crashWhileDelivering(key: string, id: string, count: number): Promise<void> {
    const delivering = runDurableObjectAlarm(stub(key)).catch(() => "aborted");
    for (let waited = 0; seen.deliveries.filter((d) => d.id === id).length < count && waited < 2000; waited += 10) await sleep(10);
    expect(seen.deliveries.filter((d) => d.id === id)).toHaveLength(count);
    await abortAllDurableObjects();
    expect(await delivering).toBe("aborted");
  }

  it("a delivery that stopped its object alone is judged by the app's policy before it is tried again: given up when it says so, and recorded", async () => {
    const key = freshKey();
    const poison = newMessage("stall", { rawRequest: { noRetry: true } });
    const batchmate = newMessage("record", { rawRequest: {} });
    await scheduler.schedule(env, { key, message: poison, spec: { inMs: 0 } });
    await scheduler.schedule(env, { key, message: batchmate, spec: { inMs: 0 } });
    // In a batch: no telling which delivery stopped the object, so each goes again, alone, unasked.
    await crashWhileDelivering(key, poison.id, 1);
    await scheduler.list(env, key, EVERY_OWNER);
    await crashWhileDelivering(key, poison.id, 2);
    expect(seen.responded.filter((r) => r.id === poison.id)).toEqual([]);
    // It stopped the object alone: the policy hears of that attempt, and says no more.
    await scheduler.list(env, key, EVERY_OWNER);
    expect(await runDurableObjectAlarm(stub(key))).toBe(true);
    expect(seen.responded.filter((r) => r.id === poison.id)).toMatchObject([{ attempts: 2, response: { status: "error", reason: "internal_error" } }]);
    expect(seen.deliveries.filter((d) => d.id === poison.id)).toHaveLength(2);
    // Its batchmate, delivered before the first crash but not settled, went again once (at least once).
    expect(seen.deliveries.filter((d) => d.id === batchmate.id).map((d) => d.attempts)).toEqual([1, 2]);
    expect(await scheduler.list(env, key, EVERY_OWNER)).toEqual([]);
    expect(await scheduler.outcomes(env, key, EVERY_OWNER)).toMatchObject([{ messageId: poison.id, outcome: "gave_up", reason: "internal_error", attempts: 2 }]);
  }, 30_000);

  it("a delivery that stops its object every time: its batchmate is delivered again once, not at every crash, and the policy hears of each attempt it made alone", async () => {
    const key = freshKey();
    const poison = newMessage("stall", { rawRequest: {} });
    const batchmate = newMessage("record", { rawRequest: {} });
    await scheduler.schedule(env, { key, message: poison, spec: { inMs: 0 } });
    await scheduler.schedule(env, { key, message: batchmate, spec: { inMs: 0 } });
    for (let crash = 1; crash <= 4; crash += 1) {
      await scheduler.list(env, key, EVERY_OWNER);
      await crashWhileDelivering(key, poison.id, crash);
    }
    expect(seen.deliveries.filter((d) => d.id === batchmate.id).map((d) => d.attempts)).toEqual([1, 2]);
    // This test's policy retries at once; it heard of the attempts that stopped the object alone.
    expect(seen.responded.filter((r) => r.id === poison.id).map((r) => [r.attempts, r.response?.status])).toEqual([
      [2, "error"],
      [3, "error"],
    ]);
  }, 30_000);

  it("the deliveries a crash interrupted each go again alone, none of them given up unasked", async () => {
    const key = freshKey();
    const poison = newMessage("stall", { rawRequest: { noRetry: true } });
    const others = [1, 2, 3, 4, 5].map(() => newMessage("record", { rawRequest: { noRetry: true } }));
    for (const message of others) await scheduler.schedule(env, { key, message, spec: { inMs: 0 } });
    await scheduler.schedule(env, { key, message: poison, spec: { inMs: 0 } });
    await crashWhileDelivering(key, poison.id, 1);
    await scheduler.list(env, key, EVERY_OWNER);
    // The five others, then the poison, each alone (none of them given up unasked).
    const ringing = runDurableObjectAlarm(stub(key)).catch(() => "aborted");
    for (let waited = 0; seen.deliveries.filter((d) => d.id === poison.id).length < 2 && waited < 2000; waited += 10) await sleep(10);
    for (const message of others) expect(seen.deliveries.filter((d) => d.id === message.id).map((d) => d.attempts)).toEqual([1, 2]);
    expect(seen.deliveries.filter((d) => d.id === poison.id)).toHaveLength(2);
    await abortAllDurableObjects();
    await ringing;
    expect(await scheduler.outcomes(env, key, EVERY_OWNER)).toEqual([]);
  }, 30_000);

  it("entries a crash interrupted still go alone after a later restart that found nothing claimed", async () => {
    const key = freshKey();
    const poison = newMessage("stall", { rawRequest: {} });
    const mates = [newMessage("record", { rawRequest: {} }), newMessage("record", { rawRequest: {} })];
    await scheduler.schedule(env, { key, message: poison, spec: { inMs: 0 } });
    for (const message of mates) await scheduler.schedule(env, { key, message, spec: { inMs: 0 } });
    await crashWhileDelivering(key, poison.id, 1);
    // Started again (the claims are released and marked), then stopped again with nothing claimed.
    await scheduler.list(env, key, EVERY_OWNER);
    await abortAllDurableObjects();
    await scheduler.list(env, key, EVERY_OWNER);
    await crashWhileDelivering(key, poison.id, 2);
    // The poison went alone: its batchmates were not delivered beside it again.
    for (const message of mates) expect(seen.deliveries.filter((d) => d.id === message.id).map((d) => d.attempts)).toEqual([1]);
    await scheduler.list(env, key, EVERY_OWNER);
    await runDurableObjectAlarm(stub(key));
    for (const message of mates) expect(seen.deliveries.filter((d) => d.id === message.id).map((d) => d.attempts)).toEqual([1, 2]);
  }, 30_000);

  it("a crash's backlog holds up nothing else that is due: its entries and batches of the others take turns", async () => {
    const key = freshKey();
    const mates = [1, 2, 3].map(() => newMessage("record", { rawRequest: {} }));
    const poison = newMessage("stall", { rawRequest: { noRetry: true } });
    for (const message of mates) await scheduler.schedule(env, { key, message, spec: { inMs: 0 } });
    await scheduler.schedule(env, { key, message: poison, spec: { inMs: 0 } });
    await crashWhileDelivering(key, poison.id, 1);
    const fresh = newMessage("record", { rawRequest: {} });
    await scheduler.schedule(env, { key, message: fresh, spec: { inMs: 0 } });
    const from = seen.deliveries.length;
    const ringing = runDurableObjectAlarm(stub(key)).catch(() => "aborted");
    for (let waited = 0; seen.deliveries.filter((d) => d.id === poison.id).length < 2 && waited < 2000; waited += 10) await sleep(10);
    await abortAllDurableObjects();
    await ringing;
    const order = seen.deliveries.slice(from).map((d) => d.id);
    expect(order).toEqual([mates[0]?.id, fresh.id, mates[1]?.id, mates[2]?.id, poison.id]);
  }, 30_000);
});
