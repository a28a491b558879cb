// Scheduler benchmark: draining 10,000 due messages (three runs each), and how late 1,000
// messages due at random within 10 s are delivered. The baseline, in the same run: a hand-written
// multiplexing scheduler in one Durable Object with the same batching (no router, dispatcher,
// hooks, leases or retries).
import { bundle, miniflare, percentile, sleep } from "../lib.mjs";

const DRAIN_COUNT = 10_000;
const DRAIN_RUNS = 3;
const LATE_COUNT = 1_000;
const LATE_WINDOW_MS = 10_000;
const FAR = Date.now() + 24 * 3600 * 1000;

export async function run() {
  const mf = miniflare(bundle("workers/scheduler-bench.toml"), { SCHEDULER: "BenchScheduler", DRAIN: "BaselineDrain" });
  await mf.ready;
  const call = async (path, body) => {
    const answer = await mf.dispatchFetch(`http://bench${path}`, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
    if (!answer.ok) throw new Error(`${path}: ${answer.status} ${await answer.text()}`);
    return answer.json();
  };
  /** Waits until nothing is pending; a drain that stalls fails the suite instead of hanging it. */
  const drained = async (prefix, key, pollMs) => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const { pending } = await call(`/${prefix}/pending?key=${key}`);
      if (pending === 0) return;
      if (Date.now() > deadline) throw new Error(`${prefix} ${key}: ${pending} messages still pending after 120 s`);
      await sleep(pollMs);
    }
  };
  const fill = async (prefix, key, dues) => {
    for (let i = 0; i < dues.length; i += 1000) await call(`/${prefix}/fill`, { key, dues: dues.slice(i, i + 1000) });
  };
  const drainTime = async (prefix, key) => {
    await fill(prefix, key, Array(DRAIN_COUNT).fill(FAR));
    const start = performance.now();
    await call(`/${prefix}/make-due?key=${key}`);
    await drained(prefix, key, 10);
    return performance.now() - start;
  };
  const lateness = async (prefix, key, takePath) => {
    await call(`${takePath}?key=${key}`); // forget earlier deliveries
    const start = Date.now() + 3000;
    await fill(prefix, key, Array.from({ length: LATE_COUNT }, () => start + Math.floor(Math.random() * LATE_WINDOW_MS)));
    await sleep(start + LATE_WINDOW_MS - Date.now());
    await drained(prefix, key, 50);
    const taken = await call(`${takePath}?key=${key}`);
    return taken.lateness;
  };

  try {
    const ours = [];
    const baseline = [];
    // Alternating runs, so that neither side always runs on the warmer machine.
    for (let i = 0; i < DRAIN_RUNS; i += 1) {
      ours.push(await drainTime("scheduler", `drain-${i}`));
      baseline.push(await drainTime("drain", `drain-${i}`));
    }
    const median = (values) => percentile(values, 50);
    console.log(`drain ${DRAIN_COUNT}: x3m-system ${ours.map((v) => v.toFixed(0)).join(", ")} ms; baseline ${baseline.map((v) => v.toFixed(0)).join(", ")} ms`);

    const oursLate = await lateness("scheduler", "late", "/scheduler/lateness");
    const baseLate = await lateness("drain", "late", "/drain/lateness");
    console.log(`lateness: ${oursLate.length} deliveries, ${baseLate.length} baseline deliveries`);

    const p = (values, q) => percentile(values, q);
    const ratio = (a, b) => (b > 0 ? (a / b).toFixed(2) : a === 0 ? "1.00" : `+${a - b} ms`);
    const spread = (values) => `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`;
    return {
      raw: { drainMs: { ours, baseline }, lateness: { ours: oursLate, baseline: baseLate } },
      rows: [
        {
          measure: `drain ${DRAIN_COUNT} due messages (median of ${DRAIN_RUNS})`,
          value: `${median(ours).toFixed(0)} ms (${spread(ours)})`,
          baseline: `${median(baseline).toFixed(0)} ms (${spread(baseline)})`,
          baselineName: "hand-written multiplexer, same batches",
          ratio: ratio(median(ours), median(baseline)),
        },
        { measure: `lateness p50, ${LATE_COUNT} due within 10 s`, value: `${p(oursLate, 50)} ms`, baseline: `${p(baseLate, 50)} ms`, baselineName: "hand-written multiplexer", ratio: ratio(p(oursLate, 50), p(baseLate, 50)) },
        { measure: `lateness p99, ${LATE_COUNT} due within 10 s`, value: `${p(oursLate, 99)} ms`, baseline: `${p(baseLate, 99)} ms`, baselineName: "hand-written multiplexer", ratio: ratio(p(oursLate, 99), p(baseLate, 99)) },
      ],
    };
  } finally {
    await mf.dispose();
  }
}
