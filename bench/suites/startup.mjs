// Startup benchmark: the first commands after the Worker restarts — workerd started afresh on the
// state an earlier start left, as `npm run dev` restarts after an edit — for the demo Worker as
// `npm run dev` runs it (its wrangler.toml bundle: gateway, pages, scheduler, read side) and for
// the aggregates suite's hand-written Worker. It also says what the start spends: the bundle's
// size, workerd's own start until it serves, and — in runs of their own — a first request that
// reaches no object (GET /v1/health on the demo: its modules evaluated, the gateway built), then the
// first deposit (the account's object woken: SQLite opened, the schema checked, the state loaded).
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundle, demoMiniflare, fmtMs, median, miniflare, pairedRatio } from "../lib.mjs";

const RUNS = process.env.BENCH_QUICK === "1" ? 2 : 9;
const API_TOKENS = "dev-ada=ada";
const HEADERS = { Authorization: "Bearer dev-ada", "Content-Type": "application/json" };

export async function run() {
  const scripts = { demo: bundle("../wrangler.toml"), baseline: bundle("workers/aggregates-baseline.toml") };
  const root = mkdtempSync(join(tmpdir(), "x3m-startup-"));
  const persist = (side) => ({ durableObjectsPersist: join(root, side, "do"), d1Persist: join(root, side, "d1") });
  const start = async (side, first) => {
    const began = performance.now();
    const mf =
      side === "demo"
        ? await demoMiniflare(scripts.demo, { bindings: { API_TOKENS }, ...persist(side) }, first)
        : miniflare(scripts.baseline, { ACCOUNTS: "BaselineAccount" }, { bindings: { API_TOKENS, TRANSPORT: "fetch" }, ...persist(side) });
    await mf.ready;
    return { mf, startMs: performance.now() - began };
  };
  const timed = async (mf, path, init) => {
    const began = performance.now();
    const answer = await mf.dispatchFetch(`http://localhost${path}`, init);
    await answer.arrayBuffer();
    if (!answer.ok) throw new Error(`${path}: ${answer.status}`);
    return performance.now() - began;
  };
  const deposit = (mf) => timed(mf, "/v1/services/deposit", { method: "POST", headers: HEADERS, body: JSON.stringify({ account_id: "startup-1", amount: 1 }) });

  const results = { demo: { start: [], first: [], second: [], health: [], afterHealth: [] }, baseline: { start: [], first: [], second: [] } };
  try {
    // The state a restart finds: an account opened (and the demo's read models migrated) by an earlier start.
    for (const side of ["demo", "baseline"]) {
      const { mf } = await start(side, true);
      await timed(mf, "/v1/services/open_account", { method: "POST", headers: HEADERS, body: JSON.stringify({ account_id: "startup-1" }) });
      await deposit(mf);
      await mf.dispose();
    }
    for (let run = 0; run < RUNS; run += 1) {
      for (const side of run % 2 === 0 ? ["demo", "baseline"] : ["baseline", "demo"]) {
        const { mf, startMs } = await start(side, false);
        try {
          results[side].start.push(startMs);
          results[side].first.push(await deposit(mf));
          results[side].second.push(await deposit(mf));
        } finally {
          await mf.dispose();
        }
      }
    }
    // Where the demo's first deposit spends its time: a first request that reaches no object (its
    // modules evaluated, the gateway built), then the deposit (the account's object woken).
    for (let run = 0; run < RUNS; run += 1) {
      const { mf } = await start("demo", false);
      try {
        results.demo.health.push(await timed(mf, "/v1/health"));
        results.demo.afterHealth.push(await deposit(mf));
      } finally {
        await mf.dispose();
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const kb = (path) => `${Math.round(statSync(path).size / 1024)} KB`;
  const { demo, baseline } = results;
  console.log(`first deposit after a restart: demo ${demo.first.map((v) => v.toFixed(1)).join(", ")} ms; baseline ${baseline.first.map((v) => v.toFixed(1)).join(", ")} ms`);
  const name = "the aggregates suite's hand-written Worker (fetch transport), same state";
  return {
    raw: results,
    rows: [
      { measure: `first deposit after a restart (median of ${RUNS})`, value: fmtMs(median(demo.first)), baseline: fmtMs(median(baseline.first)), baselineName: name, ratio: pairedRatio(demo.first, baseline.first) },
      { measure: "second deposit after a restart (median)", value: fmtMs(median(demo.second)), baseline: fmtMs(median(baseline.second)), baselineName: name, ratio: pairedRatio(demo.second, baseline.second) },
      { measure: "the demo's first request after a restart when it is GET /v1/health: its modules evaluated, no object (median)", value: fmtMs(median(demo.health)), baseline: "—", baselineName: name, ratio: "—" },
      { measure: "the demo's first deposit after that request: the account's object woken (median)", value: fmtMs(median(demo.afterHealth)), baseline: "—", baselineName: name, ratio: "—" },
      { measure: "workerd started until it serves (median)", value: fmtMs(median(demo.start)), baseline: fmtMs(median(baseline.start)), baselineName: name, ratio: pairedRatio(demo.start, baseline.start) },
      { measure: "bundle (wrangler deploy --dry-run, not minified)", value: kb(scripts.demo), baseline: kb(scripts.baseline), baselineName: name, ratio: (statSync(scripts.demo).size / statSync(scripts.baseline).size).toFixed(1) },
    ],
  };
}
