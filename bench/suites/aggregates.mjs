// Aggregates benchmark: the bank demo's `deposit` over HTTP — the library's gateway and account
// aggregate (bench/workers/aggregates-x3m.ts) against a hand-written Worker and SQLite Durable
// Object doing the same work (bench/workers/aggregates-baseline.ts), reaching it by stub.fetch (the
// library's transport) and by RPC, all in one Miniflare, the
// same Node client (fetch) for both, rounds alternating between the two sides. Measures:
// throughput and latency at 1 and 16 in flight on one hot account and over 1,000 accounts, workerd
// CPU per command, the first command after an eviction, and cold loads of 1k/10k/100k-event
// streams with and without a snapshot.
import {
  bundle,
  callService,
  childWorkerdPids,
  cpuMs,
  fmtMs,
  load,
  median,
  miniflare,
  pairedRatio,
  percentile,
  ratio,
  retried,
  workerOptions,
} from "../lib.mjs";

// BENCH_QUICK=1 shrinks every count, to check that the suite runs (its numbers mean nothing).
const quick = process.env.BENCH_QUICK === "1";
const PAIRS = quick ? 2 : 10;
const ACCOUNTS = quick ? 50 : 1000;
const CASES = [
  { inFlight: 1, spread: false, commands: quick ? 50 : 300 },
  { inFlight: 16, spread: false, commands: quick ? 200 : 1500 },
  { inFlight: 1, spread: true, commands: quick ? 50 : 300 },
  { inFlight: 16, spread: true, commands: quick ? 200 : 1500 },
];
const WAKE_SAMPLES = quick ? 5 : 40;
const COLD_SIZES = quick ? [1000] : [1000, 10_000, 100_000];
const COLD_REPS = quick ? 3 : 7;
const SEED_PER_CALL = 20_000;

const API_TOKENS = "dev-ada=ada,dev-bob=bob,dev-root=root:admin";
// Two baselines, one bundle: the hand-written Worker reaching its object by RPC (the platform's
// ceiling) and by `stub.fetch` (the transport the library uses, so the fair comparison).
const SIDES = [
  { key: "x3m", script: "aggregates-x3m", toml: "aggregates-x3m", className: "BenchAccountObject", bindings: {} },
  { key: "fetch", script: "aggregates-baseline-fetch", toml: "aggregates-baseline", className: "BaselineAccount", bindings: { TRANSPORT: "fetch" } },
  { key: "rpc", script: "aggregates-baseline", toml: "aggregates-baseline", className: "BaselineAccount", bindings: { TRANSPORT: "rpc" } },
];
const BASELINES = [
  { key: "fetch", name: "hand-written Worker + SQLite DO, same work, reached by stub.fetch (same transport)" },
  { key: "rpc", name: "hand-written Worker + SQLite DO, same work, reached by RPC (the platform's ceiling)" },
];
/** The sides in the order of round `i`: rotated every round, so that no side always goes first. */
const orderOf = (i) => SIDES.map((_, k) => SIDES[(k + i) % SIDES.length]);

export async function run() {
  const retriedBefore = retried.count;
  const workers = SIDES.map((side) =>
    workerOptions(side.script, bundle(`workers/${side.toml}.toml`), { ACCOUNTS: side.className }, {
      bindings: { API_TOKENS, ...side.bindings },
      // Each Worker on its own socket, reached by plain HTTP: no Miniflare entry worker in between,
      // and requests keep their Content-Length (dispatchFetch streams bodies chunked, which sends
      // the gateway's body limit down its slow path — not what most clients do).
      unsafeDirectSockets: [{}, { entrypoint: "Control" }],
    }),
  );
  const mf = miniflare(null, {}, { workers });
  await mf.ready;
  for (const side of SIDES) {
    side.origin = String(await mf.unsafeGetDirectURL(side.script)).replace(/\/$/, "");
    side.control = await mf.unsafeGetDirectURL(side.script, "Control");
  }
  const [x3m] = SIDES;

  const call = callService;
  const deposit = (side, accountId) => call(side, "deposit", { account_id: accountId, amount: 1 }, 200);
  const open = (side, accountId) => call(side, "open_account", { account_id: accountId }, 201);
  /** A bench-only RPC on one account object, through the side's Control entrypoint. */
  const control = async (side, op, accountId, arg) => {
    const answer = await fetch(side.control, { method: "POST", body: JSON.stringify({ op, name: `account-${accountId}`, arg }) });
    if (!answer.ok) throw new Error(`${side.key} ${op}: ${answer.status} ${await answer.text()}`);
    return answer.json();
  };
  /**
   * Evicts a running account object, runs its first command, and checks that a new instance
   * served it. (Miniflare refuses to evict an object that is not running: the caller makes sure
   * it runs, with an untimed command or a control call just before.)
   */
  const firstAfterEviction = async (side, accountId) => {
    await mf.unsafeEvictDurableObject(side.script, side.className, { name: `account-${accountId}` });
    const before = Date.now();
    const start = performance.now();
    await deposit(side, accountId);
    const ms = performance.now() - start;
    const bornAt = await control(side, "bornAt", accountId);
    if (bornAt < before) throw new Error(`${side.key} account-${accountId} was not evicted (born ${before - bornAt} ms before the command)`);
    return ms;
  };

  try {
    const raw = { load: [], wake: {}, cold: [] };
    const accountIds = Array.from({ length: ACCOUNTS }, (_, i) => `acct-${i}`);
    for (const side of SIDES) await open(side, "hot");
    // The accounts are opened in chunks, the sides alternating: what a new stream's first command
    // costs (its object created, its tables made), CPU per account opened.
    const opening = Object.fromEntries(SIDES.map((side) => [side.key, []]));
    const chunk = ACCOUNTS / PAIRS;
    for (let pair = 0; pair < PAIRS; pair += 1) {
      for (const side of orderOf(pair)) {
        const pids = childWorkerdPids();
        const cpuBefore = cpuMs(pids);
        await load({ total: chunk, inFlight: 16, send: (i) => open(side, accountIds[pair * chunk + i]) });
        opening[side.key].push((cpuMs(pids) - cpuBefore) / chunk);
      }
    }
    raw.opening = opening;
    const openingRows = BASELINES.map((baseline) => ({
      measure: `open_account of a new account (its object created, its tables made), 16 in flight, against ${baseline.key}: workerd CPU per account, median of ${PAIRS} rounds of ${chunk} (ratio: median of the rounds')`,
      value: fmtMs(median(opening.x3m)),
      baseline: fmtMs(median(opening[baseline.key])),
      baselineName: baseline.name,
      ratio: pairedRatio(opening.x3m, opening[baseline.key]),
    }));
    console.log(`open: ${SIDES.map((side) => `${side.key} ${fmtMs(median(opening[side.key]))}`).join(", ")}`);

    // Throughput, latency and CPU per command: PAIRS pairs of short rounds per case, the two sides
    // back to back (order flipped every pair), so that both meet the same machine — it is shared,
    // and its load drifts within seconds. Ratios are the median of the pairs' own ratios.
    const loadRows = [];
    for (const c of CASES) {
      const label = `${c.inFlight} in flight, ${c.spread ? `${ACCOUNTS.toLocaleString("en")} accounts` : "one hot account"}`;
      const target = () => (c.spread ? accountIds[Math.floor(Math.random() * ACCOUNTS)] : "hot");
      const results = Object.fromEntries(SIDES.map((side) => [side.key, []]));
      for (const side of SIDES) await load({ total: Math.min(200, c.commands), inFlight: c.inFlight, send: () => deposit(side, target()) });
      for (let pair = 0; pair < PAIRS; pair += 1) {
        for (const side of orderOf(pair)) {
          // Every object in memory before the clock starts (an idle object is evicted after ~10 s).
          if (c.spread) await load({ total: ACCOUNTS, inFlight: 16, send: (i) => deposit(side, accountIds[i]) });
          const pids = childWorkerdPids();
          const cpuBefore = cpuMs(pids);
          const run = await load({ total: c.commands, inFlight: c.inFlight, send: () => deposit(side, target()) });
          const cpu = cpuMs(pids) - cpuBefore;
          results[side.key].push({ ...run, perSecond: (c.commands * 1000) / run.elapsedMs, cpuPerCommand: cpu / c.commands });
        }
      }
      const summary = (key) => {
        const rounds = results[key];
        const latencies = rounds.flatMap((r) => r.latencies);
        const perSecond = rounds.map((r) => r.perSecond);
        return {
          perSecond: median(perSecond),
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          cpu: median(rounds.map((r) => r.cpuPerCommand)),
          range: `${Math.min(...perSecond).toFixed(0)}–${Math.max(...perSecond).toFixed(0)}`,
        };
      };
      const ours = summary("x3m");
      raw.load.push({ case: c, ...results });
      const perSecond = (summary) => `${summary.perSecond.toFixed(0)}/s (${summary.range})`;
      for (const baseline of BASELINES) {
        const paired = (field) => pairedRatio(results.x3m.map((r) => r[field]), results[baseline.key].map((r) => r[field]));
        const base = summary(baseline.key);
        console.log(`${label}: x3m ${ours.perSecond.toFixed(0)}/s (${ours.range}), ${baseline.key} ${base.perSecond.toFixed(0)}/s (${base.range}); cpu ${ours.cpu.toFixed(2)} vs ${base.cpu.toFixed(2)} ms`);
        const row = (measure, value, baselineValue, r) =>
          loadRows.push({ measure: `deposit, ${label}, against ${baseline.key}: ${measure}`, value, baseline: baselineValue, baselineName: baseline.name, ratio: r });
        row(`commands/s, median and range of ${PAIRS} rounds of ${c.commands} (ratio: median of the rounds')`, perSecond(ours), perSecond(base), paired("perSecond"));
        row("latency p50, all rounds", fmtMs(ours.p50), fmtMs(base.p50), ratio(ours.p50, base.p50));
        row("latency p99, all rounds", fmtMs(ours.p99), fmtMs(base.p99), ratio(ours.p99, base.p99));
        row("workerd CPU per command, median round (ratio: median of the rounds')", fmtMs(ours.cpu), fmtMs(base.cpu), paired("cpuPerCommand"));
      }
    }

    // Wake-up: the first command to an evicted object (forced with Miniflare's
    // unsafeEvictDurableObject, checked by the instance's construction time), alternating sides.
    const wake = Object.fromEntries(SIDES.map((side) => [side.key, []]));
    for (let i = 0; i < WAKE_SAMPLES; i += 1) {
      for (const side of orderOf(i)) {
        await deposit(side, accountIds[i]);
        wake[side.key].push(await firstAfterEviction(side, accountIds[i]));
      }
    }
    raw.wake = wake;
    console.log(`wake-up p50: ${SIDES.map((side) => `${side.key} ${fmtMs(median(wake[side.key]))}`).join(", ")}`);
    const wakeRows = BASELINES.flatMap((baseline) => {
      const base = wake[baseline.key];
      const wakeRow = (p, measure, r) => ({ measure, value: fmtMs(percentile(wake.x3m, p)), baseline: fmtMs(percentile(base, p)), baselineName: baseline.name, ratio: r });
      return [
        wakeRow(50, `first deposit after eviction, against ${baseline.key}: p50 of ${WAKE_SAMPLES} objects with small streams (ratio: median of the pairs')`, pairedRatio(wake.x3m, base)),
        wakeRow(99, `first deposit after eviction, against ${baseline.key}: p99 of ${WAKE_SAMPLES} objects with small streams`, ratio(percentile(wake.x3m, 99), percentile(base, 99))),
      ];
    });

    // Cold load: a stream of n events (the opening plus n-1 deposits seeded straight into SQLite),
    // evicted, then one deposit that must load it: replaying everything, or from a snapshot.
    const coldRows = [];
    for (const n of COLD_SIZES) {
      const id = `cold-${n}`;
      for (const side of SIDES) {
        const start = performance.now();
        await open(side, id);
        for (let seeded = 1; seeded < n; seeded += SEED_PER_CALL) await control(side, "seed", id, Math.min(SEED_PER_CALL, n - seeded));
        console.log(`seeded ${side.key} ${id}: ${n} events in ${(performance.now() - start).toFixed(0)} ms`);
      }
      for (const snapshot of ["none", "latest"]) {
        const times = Object.fromEntries(SIDES.map((side) => [side.key, []]));
        const replayed = [];
        for (let rep = 0; rep < COLD_REPS; rep += 1) {
          for (const side of orderOf(rep)) {
            await control(side, "setSnapshot", id, snapshot);
            times[side.key].push(await firstAfterEviction(side, id));
            if (side === x3m) replayed.push((await control(side, "stats", id)).replayedEvents);
          }
        }
        const expected = snapshot === "none" ? n : 0;
        if (replayed.some((count) => Math.abs(count - expected) > COLD_REPS)) throw new Error(`${id}: replayed ${replayed.join(", ")}, expected about ${expected}`);
        raw.cold.push({ events: n, snapshot, ...times, replayed });
        console.log(`cold ${n} (${snapshot}): ${SIDES.map((side) => `${side.key} ${times[side.key].map((t) => t.toFixed(1)).join(", ")} ms`).join("; ")}`);
        for (const baseline of BASELINES) {
          coldRows.push({
            measure: `cold load, ${n.toLocaleString("en")} events, ${snapshot === "none" ? "no snapshot (replays all)" : "snapshot at the last event"}, against ${baseline.key}: first deposit, median of ${COLD_REPS} (ratio: median of the pairs')`,
            value: fmtMs(median(times.x3m)),
            baseline: fmtMs(median(times[baseline.key])),
            baselineName: baseline.name,
            ratio: pairedRatio(times.x3m, times[baseline.key]),
          });
        }
      }
    }
    const again = retried.count - retriedBefore;
    const note = again === 0 ? undefined : `${again} requests were sent again after a kept-alive connection closed under them.`;
    return { raw: { ...raw, retried: again }, note, rows: [...loadRows, ...openingRows, ...wakeRows, ...coldRows] };
  } finally {
    await mf.dispose();
  }
}
