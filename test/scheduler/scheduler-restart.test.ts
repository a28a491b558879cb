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

  it("a delivery that stopped its object is judged by the app's policy before it is tried again: given up when it says so, and recorded", async () => {
    const key = freshKey();
    const poison = newMessage("stall", { rawRequest: { noRetry: true } });
    const batchmate = newMessage("record", { rawRequest: {} });
    await scheduler.schedule(env, { key, message: poison, spec: { inMs: 0 } });
    await scheduler.schedule(env, { key, message: batchmate, spec: { inMs: 0 } });
    await crashWhileDelivering(key, poison.id, 1);
    expect(seen.deliveries.filter((d) => d.id === batchmate.id)).toHaveLength(1);

    // After the restart: the policy hears of the attempt that never answered, and says no more.
    await scheduler.list(env, key, EVERY_OWNER);
    for (let run = 0; run < 3 && (await scheduler.list(env, key, EVERY_OWNER)).length > 0; run += 1) await runDurableObjectAlarm(stub(key));
    expect(seen.responded.filter((r) => r.id === poison.id)).toMatchObject([{ attempts: 1, response: { status: "error", reason: "internal_error" } }]);
    expect(seen.deliveries.filter((d) => d.id === poison.id)).toHaveLength(1);
    // Its batchmate, delivered before the crash but not yet settled, is delivered again (at least once).
    expect(seen.deliveries.filter((d) => d.id === batchmate.id).map((d) => d.attempts)).toEqual([1, 2]);
    expect(await scheduler.list(env, key, EVERY_OWNER)).toEqual([]);
    expect(await scheduler.outcomes(env, key, EVERY_OWNER)).toMatchObject([{ messageId: poison.id, outcome: "gave_up", reason: "internal_error" }]);
  }, 30_000);

  it("a delivery that stops its object every time goes alone after the first crash: its batchmate is delivered again once, not at every crash", async () => {
    const key = freshKey();
    const poison = newMessage("stall", { rawRequest: {} });
    const batchmate = newMessage("record", { rawRequest: {} });
    await scheduler.schedule(env, { key, message: poison, spec: { inMs: 0 } });
    await scheduler.schedule(env, { key, message: batchmate, spec: { inMs: 0 } });
    for (let crash = 1; crash <= 3; crash += 1) {
      await scheduler.list(env, key, EVERY_OWNER);
      // After a crash the stopped entries go one at a time, the one tried least first.
      if (crash === 3) expect(await runDurableObjectAlarm(stub(key))).toBe(true);
      await crashWhileDelivering(key, poison.id, crash);
    }
    expect(seen.deliveries.filter((d) => d.id === batchmate.id).map((d) => d.attempts)).toEqual([1, 2]);
    // The policy (this test's: retry at once) heard of each attempt that never answered.
    expect(seen.responded.filter((r) => r.id === poison.id).map((r) => [r.attempts, r.response?.status])).toEqual([
      [1, "error"],
      [2, "error"],
    ]);
  }, 30_000);
});
