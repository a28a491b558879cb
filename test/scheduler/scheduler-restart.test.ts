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
});
