// Scheduler benchmark: draining 10,000 due messages, and how late 1,000 messages due at random
// within 10 s are delivered. Baselines in the same run: a hand-written SQLite drain with the same
// batching, and one bare Durable Object alarm per message.
import { bundle, miniflare, percentile, sleep } from "../lib.mjs";

const DRAIN_COUNT = 10_000;
const LATE_COUNT = 1_000;
const LATE_WINDOW_MS = 10_000;
const FAR = Date.now() + 24 * 3600 * 1000;

export async function run() {
  const mf = miniflare(bundle("workers/scheduler-bench.toml"), { SCHEDULER: "BenchScheduler", DRAIN: "BaselineDrain", ALARM: "BaselineAlarm" });
  await mf.ready;
  const call = async (path, body) => {
    const answer = await mf.dispatchFetch(`http://bench${path}`, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
    if (!answer.ok) throw new Error(`${path}: ${answer.status} ${await answer.text()}`);
    return answer.json();
  };
  const fill = async (prefix, key, dues) => {
    for (let i = 0; i < dues.length; i += 1000) await call(`/${prefix}/fill`, { key, dues: dues.slice(i, i + 1000) });
  };
  const drainTime = async (prefix, key) => {
    await fill(prefix, key, Array(DRAIN_COUNT).fill(FAR));
    const start = performance.now();
    await call(`/${prefix}/make-due?key=${key}`);
    while ((await call(`/${prefix}/pending?key=${key}`)).pending > 0) await sleep(10);
    return performance.now() - start;
  };

  try {
    const ours = await drainTime("scheduler", "drain");
    const baseline = await drainTime("drain", "drain");
    console.log(`drain ${DRAIN_COUNT}: x3m-system ${ours.toFixed(0)} ms, baseline ${baseline.toFixed(0)} ms`);

    // Lateness: ours, then the baseline, in separate windows so they do not compete for the CPU.
    await call("/scheduler/deliveries?key=late"); // forget the drain's deliveries
    const dueTimes = (from) => Array.from({ length: LATE_COUNT }, () => from + Math.floor(Math.random() * LATE_WINDOW_MS));

    const oursStart = Date.now() + 3000;
    await fill("scheduler", "late", dueTimes(oursStart));
    await sleep(oursStart + LATE_WINDOW_MS - Date.now());
    while ((await call("/scheduler/pending?key=late")).pending > 0) await sleep(50);
    const lateness = (await call("/scheduler/deliveries?key=late")).deliveries.map((d) => d.at - d.due);

    const bareStart = Date.now() + 15_000;
    const bareDues = dueTimes(bareStart);
    const armStart = Date.now();
    for (let i = 0; i < bareDues.length; i += 50) {
      await Promise.all(bareDues.slice(i, i + 50).map((due, j) => call("/alarm/arm", { key: `late-${i + j}`, due })));
    }
    const armed = Date.now();
    if (armed > bareStart) throw new Error(`arming the bare alarms took ${armed - armStart} ms, longer than the lead time`);
    await sleep(bareStart + LATE_WINDOW_MS + 1000 - Date.now());
    let bare = [];
    for (let tries = 0; tries < 100; tries += 1) {
      bare = (await Promise.all(bareDues.map((_, i) => call(`/alarm/lateness?key=late-${i}`)))).map((r) => r.lateness);
      if (bare.every((v) => v !== null)) break;
      await sleep(200);
    }
    bare = bare.filter((v) => v !== null);
    const p = (values, q) => percentile(values, q);
    console.log(`lateness: ${lateness.length} deliveries, ${bare.length} bare alarms (armed in ${armed - armStart} ms)`);

    const ratio = (a, b) => (b > 0 ? (a / b).toFixed(2) : `${a - b} ms more`);
    return {
      raw: { drainMs: { ours, baseline }, lateness: { ours: lateness, baseline: bare } },
      rows: [
        { measure: `drain ${DRAIN_COUNT} due messages`, value: `${ours.toFixed(0)} ms`, baseline: `${baseline.toFixed(0)} ms`, baselineName: "hand-written SQLite drain, same batches", ratio: ratio(ours, baseline) },
        { measure: `lateness p50, ${LATE_COUNT} due within 10 s`, value: `${p(lateness, 50)} ms`, baseline: `${p(bare, 50)} ms`, baselineName: "one bare DO alarm per message", ratio: ratio(p(lateness, 50), p(bare, 50)) },
        { measure: `lateness p99, ${LATE_COUNT} due within 10 s`, value: `${p(lateness, 99)} ms`, baseline: `${p(bare, 99)} ms`, baselineName: "one bare DO alarm per message", ratio: ratio(p(lateness, 99), p(bare, 99)) },
      ],
    };
  } finally {
    await mf.dispose();
  }
}
