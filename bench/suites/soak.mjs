// Soak benchmark (not a test): SOAK_SECONDS (default 600) of mixed load on the demo Worker (the
// repo's wrangler.toml, bundled as deployed, on Miniflare) — deposits over many accounts, greet,
// validate dry runs, schedules with `in` (delivered by alarms while the load runs), reads of
// pending schedules, account reads and bad input — while the RSS of its workerd process is
// sampled every SOAK_SAMPLE_SECONDS (default 10).
//
// The baseline, in the same run and its own workerd process (so that each RSS is its own): the
// hand-written account Worker of the aggregates suite, sent the same account openings and deposits
// at the same moments. Both then keep the same account objects alive, evicted and woken again; what
// the demo adds beyond that (scheduler objects, other services, the library) shows as a difference.
//
// Memory counts as bounded when the RSS slope over the second half of the run is at most a tenth of
// the first half's (the early growth — objects, SQLite caches, JIT — has flattened out; a leak keeps
// both halves alike), or under 2 MiB/min (within the noise of GC and object churn). Runs only when
// named.
import { bundle, childWorkerdPids, demoMiniflare, fetchRetrying, miniflare, retried, rssBytes, sleep } from "../lib.mjs";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS ?? 10);
const IN_FLIGHT = Number(process.env.SOAK_IN_FLIGHT ?? 8);
/** Accounts the deposits spread over: more than stay in memory, so objects are evicted and woken all along. */
const ACCOUNT_POOL = 5000;
/** After the load: longer than workerd's ~10 s idle eviction, so that only what outlives objects remains. */
const COOL_DOWN_SECONDS = 30;
const BOUNDED_MIB_PER_MIN = 2;
const BOUNDED_FRACTION = 0.1;

const API_TOKENS = "dev-ada=ada,dev-bob=bob,dev-root=root:admin";
const MiB = 2 ** 20;

const pick = (items) => items[Math.floor(Math.random() * items.length)];
const account = () => `soak-${Math.floor(Math.random() * ACCOUNT_POOL)}`;
const post = (path, body, headers = {}) => ({ method: "POST", path, body: typeof body === "string" ? body : JSON.stringify(body), headers });
const badInputs = [
  () => ({ ...post("/v1/services/deposit", "{not json"), expect: [400] }),
  () => ({ ...post("/v1/services/deposit", { account_id: account(), amount: -5 }), expect: [422] }),
  () => ({ ...post("/v1/services/no_such_service", {}), expect: [404] }),
  () => ({ ...post("/v1/services/greet", { name: "x" }, { "X-Message-Id": "has spaces" }), expect: [400] }),
  () => ({ ...post("/v1/services/deposit", { account_id: account(), amount: 1 }, { Authorization: "Bearer nobody" }), expect: [401] }),
  () => ({ ...post("/v1/schedules", { service: "deposit", request: {}, key: account(), in: -1 }), expect: [400] }),
];
/** The mix: weight, one request with the statuses it may answer, and whether it needs an opened account. */
const MIX = [
  { name: "deposit", weight: 45, request: (id) => ({ ...post("/v1/services/deposit", { account_id: id, amount: 1 }), expect: [200] }), opened: true },
  { name: "greet", weight: 15, request: () => ({ ...post("/v1/services/greet", { name: `soak ${Math.random()}` }), expect: [200] }) },
  { name: "validate", weight: 10, request: (id) => ({ ...post("/v1/validate/deposit", { account_id: id, amount: 3 }), expect: [200] }), opened: true },
  {
    name: "schedule",
    weight: 10,
    request: (id) => ({ ...post("/v1/schedules", { service: "deposit", request: { account_id: id, amount: 1 }, key: id, in: 1000 + Math.floor(Math.random() * 4000) }), expect: [202] }),
    opened: true,
  },
  { name: "list schedules", weight: 8, request: (id) => ({ method: "GET", path: `/v1/schedules?key=${id}`, expect: [200] }) },
  { name: "get_account", weight: 4, request: (id) => ({ ...post("/v1/services/get_account", { account_id: id }), expect: [200] }), opened: true },
  { name: "bad input", weight: 8, request: () => pick(badInputs)() },
];
const totalWeight = MIX.reduce((sum, op) => sum + op.weight, 0);

/** Least-squares slope of (x, y) points. */
function slope(points) {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxy / sxx;
}

/** Counts the lines a workerd prints (the demo logs warnings as JSON lines), keeping the last few. */
function lineCounter() {
  const counter = { lines: 0, last: [] };
  const count = (stream) =>
    stream.on("data", (chunk) => {
      for (const line of chunk.toString().split("\n").filter(Boolean)) {
        counter.lines += 1;
        counter.last.push(line.slice(0, 300));
        if (counter.last.length > 5) counter.last.shift();
      }
    });
  counter.handleRuntimeStdio = (stdout, stderr) => {
    count(stdout);
    count(stderr);
  };
  return counter;
}

/** A Miniflare started alone, with the pids of the workerd it added. */
async function started(make) {
  const before = new Set(childWorkerdPids());
  const mf = await make();
  const url = String(await mf.ready).replace(/\/$/, "");
  return { mf, url, pids: childWorkerdPids().filter((pid) => !before.has(pid)) };
}

export async function run() {
  const retriedBefore = retried.count;
  const demoLog = lineCounter();
  const baseLog = lineCounter();
  const demoScript = bundle("../wrangler.toml");
  const baseScript = bundle("workers/aggregates-baseline.toml");
  const sides = [];
  try {
    const demo = await started(() =>
      demoMiniflare(demoScript, {
        bindings: { API_TOKENS, ADMIN_TOKEN: "dev-admin" },
        handleRuntimeStdio: demoLog.handleRuntimeStdio,
      }),
    );
    sides.push(demo);
    const base = await started(() => miniflare(baseScript, { ACCOUNTS: "BaselineAccount" }, { bindings: { API_TOKENS }, handleRuntimeStdio: baseLog.handleRuntimeStdio }));
    sides.push(base);

    const opened = { demo: new Set(), base: new Set() };
    /** Keys scheduled on: each is one more SchedulerObject in the demo (the baseline has none). */
    const scheduledKeys = new Set();
    const counts = Object.fromEntries(MIX.map((op) => [op.name, 0]));
    const unexpected = [];
    let requests = 0;
    const send = async (url, { method, path, body, headers = {}, expect }) => {
      const answer = await fetchRetrying(`${url}${path}`, {
        method,
        body,
        headers: { Authorization: "Bearer dev-ada", "Content-Type": "application/json", ...headers },
      });
      const text = await answer.text();
      requests += 1;
      if (!expect.includes(answer.status)) unexpected.push({ url, path, status: answer.status, body: text.slice(0, 300) });
    };
    // The baseline gets the same openings and deposits as the demo, at the same moment.
    const ensure = (id) =>
      Promise.all([
        opened.demo.has(id) ? null : send(demo.url, { ...post("/v1/services/ensure_account", { account_id: id }), expect: [200, 201] }).then(() => opened.demo.add(id)),
        opened.base.has(id) ? null : send(base.url, { ...post("/v1/services/open_account", { account_id: id }), expect: [201, 409] }).then(() => opened.base.add(id)),
      ]);

    const start = Date.now();
    const deadline = start + SECONDS * 1000;
    const samples = [];
    const sample = (phase = "load") => {
      const row = {
        seconds: Math.round((Date.now() - start) / 1000),
        phase,
        demoMiB: rssBytes(demo.pids) / MiB,
        baseMiB: rssBytes(base.pids) / MiB,
        requests,
        unexpected: unexpected.length,
        logLines: demoLog.lines,
      };
      samples.push(row);
      console.log(
        `${String(row.seconds).padStart(5)} s  demo ${row.demoMiB.toFixed(1).padStart(7)} MiB  baseline ${row.baseMiB.toFixed(1).padStart(7)} MiB  ` +
          `${String(requests).padStart(8)} requests  ${unexpected.length} unexpected${phase === "load" ? "" : `  (${phase})`}`,
      );
    };
    sample();
    const sampler = setInterval(sample, SAMPLE_SECONDS * 1000);
    const lane = async () => {
      while (Date.now() < deadline) {
        let roll = Math.random() * totalWeight;
        const op = MIX.find((candidate) => (roll -= candidate.weight) < 0) ?? MIX[0];
        const id = account();
        if (op.opened) await ensure(id);
        counts[op.name] += 1;
        if (op.name === "schedule") scheduledKeys.add(id);
        const request = op.request(id);
        await Promise.all([send(demo.url, request), op.name === "deposit" ? send(base.url, request) : null]);
      }
    };
    try {
      await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
    } finally {
      clearInterval(sampler);
    }
    // The last scheduled deliveries run, the idle objects are evicted: what is left stays.
    await sleep(COOL_DOWN_SECONDS * 1000);
    sample("after cool-down");

    return report({ samples, counts, unexpected, requests, sentAgain: retried.count - retriedBefore, opened: opened.demo.size, openedBase: opened.base.size, schedulerKeys: scheduledKeys.size, logs: { demo: demoLog, baseline: baseLog } });
  } finally {
    for (const side of sides) await side.mf.dispose();
  }
}

function report({ samples, counts, unexpected, requests, sentAgain, opened, openedBase, schedulerKeys, logs }) {
  const loadSamples = samples.filter((s) => s.phase === "load");
  const half = SECONDS / 2;
  const slopes = (key) => {
    const points = (keep) => loadSamples.filter(keep).map((s) => ({ x: s.seconds / 60, y: s[key] }));
    const first = slope(points((s) => s.seconds <= half));
    const second = slope(points((s) => s.seconds >= half));
    return { first, second, bounded: second <= Math.max(BOUNDED_MIB_PER_MIN, BOUNDED_FRACTION * first) };
  };
  const demo = slopes("demoMiB");
  const base = slopes("baseMiB");
  const verdict = (s) => (s.bounded ? "bounded" : "GROWING");
  const last = samples[samples.length - 1];
  const endOfLoad = loadSamples[loadSamples.length - 1];
  const peak = (key) => Math.max(...samples.map((s) => s[key]));
  const perSecond = requests / SECONDS;

  const table = [
    "| s | demo RSS MiB | baseline RSS MiB | requests | unexpected | demo log lines |",
    "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ...samples.map((s) => `| ${s.seconds}${s.phase === "load" ? "" : ` (${s.phase})`} | ${s.demoMiB.toFixed(1)} | ${s.baseMiB.toFixed(1)} | ${s.requests} | ${s.unexpected} | ${s.logLines} |`),
  ].join("\n");
  console.log(`\n${table}\n`);
  console.log(`mix: ${JSON.stringify(counts)}; ${opened} accounts; ${requests} requests (${perSecond.toFixed(0)}/s); ${unexpected.length} unexpected statuses`);
  for (const u of unexpected.slice(0, 5)) console.log(`  unexpected: ${JSON.stringify(u)}`);
  if (logs.demo.lines > 0) console.log(`the demo's workerd printed ${logs.demo.lines} lines; the last:\n  ${logs.demo.last.join("\n  ")}`);
  console.log(`RSS slope (MiB/min): demo ${demo.first.toFixed(2)} then ${demo.second.toFixed(2)} → ${verdict(demo)}; baseline ${base.first.toFixed(2)} then ${base.second.toFixed(2)} → ${verdict(base)}`);

  const mib = (v) => `${v.toFixed(1)} MiB`;
  const row = (measure, a, b, format, r = b > 0 ? (a / b).toFixed(2) : "n/a") => ({ measure, value: format(a), baseline: format(b), baselineName: "hand-written account Worker, same openings and deposits", ratio: r });
  const perMin = (v) => `${v.toFixed(2)} MiB/min`;
  const kib = (v) => `${v.toFixed(0)} KiB`;
  // Locally every Durable Object created stays in workerd's memory: the demo creates an account
  // object per account and a SchedulerObject per key scheduled on; the baseline only accounts.
  const perObject = (rssMiB, objects) => (objects > 0 ? (rssMiB * 1024) / objects : 0);
  return {
    columns: ["x3m-system (demo Worker)", "baseline"],
    raw: { seconds: SECONDS, inFlight: IN_FLIGHT, samples, counts, opened, schedulerKeys, unexpected, logs: { demo: logs.demo.lines, demoLast: logs.demo.last, baseline: logs.baseline.lines } },
    note:
      `${SECONDS} s of mixed load, ${IN_FLIGHT} in flight, ${requests.toLocaleString("en")} requests (${perSecond.toFixed(0)}/s, both Workers), ` +
      `${unexpected.length} unexpected statuses, ${sentAgain} requests sent again after a kept-alive connection closed under them, ${opened.toLocaleString("en")} accounts, ${schedulerKeys.toLocaleString("en")} scheduler keys. Memory: demo **${verdict(demo)}**, baseline **${verdict(base)}** ` +
      `(rule: second-half RSS slope ≤ max(${BOUNDED_MIB_PER_MIN} MiB/min, ${BOUNDED_FRACTION} × first-half slope)). The per-sample table is printed by the run and kept in bench/.results/.`,
    rows: [
      row("workerd RSS slope, first half of the load", demo.first, base.first, perMin),
      row("workerd RSS slope, second half of the load", demo.second, base.second, perMin),
      row("workerd RSS at the end of the load", endOfLoad.demoMiB, endOfLoad.baseMiB, mib),
      row("workerd RSS peak", peak("demoMiB"), peak("baseMiB"), mib),
      row(`workerd RSS ${COOL_DOWN_SECONDS} s after the load (idle objects evicted)`, last.demoMiB, last.baseMiB, mib),
      row(
        "workerd RSS at the end of the load per Durable Object created (demo: accounts + scheduler keys; baseline: accounts)",
        perObject(endOfLoad.demoMiB, opened + schedulerKeys),
        perObject(endOfLoad.baseMiB, openedBase),
        kib,
      ),
    ],
  };
}
