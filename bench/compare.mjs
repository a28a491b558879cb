#!/usr/bin/env node
// Is the hot path slower than it was? `node bench/compare.mjs <other-checkout> [pairs]` runs the
// aggregates suite's library Worker (bench/workers/aggregates-x3m.toml) of another checkout — an
// earlier commit, say — against this one's, in ONE Miniflare (one workerd process), and sends
// both the same deposits over HTTP in alternating rounds: 16 in flight on one hot account, 16 in
// flight over 1,000 accounts, and 1 in flight on the hot account. It prints, per case, each side's
// workerd CPU per command (median round) and the median of the pairs' ratios (this / other) — a
// ratio of both sides measured in the same seconds, so that the machine's drift cancels out.
// COMPARE_ONLY=hot,spread,one picks cases.
//
// The other checkout needs its own node_modules (a symlink to this one's will do) and a
// bench/workers/aggregates-x3m.{toml,ts} that builds on its code: copy this one's there and adapt
// its imports to that commit's layout if they moved. Not a suite of `npm run bench`: it writes no
// table, only prints.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { callService, childWorkerdPids, cpuMs, load, median, miniflare, pairedRatio, workerOptions } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const [otherRoot, pairsArg] = process.argv.slice(2);
if (otherRoot === undefined) {
  console.error("usage: node bench/compare.mjs <other-checkout> [pairs]");
  process.exit(2);
}
const PAIRS = Number(pairsArg ?? 16);
const ACCOUNTS = 1000;
// Rounds of a second or more of CPU: workerd's CPU time is read in 10 ms ticks, and a pair's
// ratio of two short rounds moves in steps of several percent.
const CASES = [
  { name: "hot", inFlight: 16, spread: false, commands: 3000 },
  { name: "spread", inFlight: 16, spread: true, commands: 3000 },
  { name: "one", inFlight: 1, spread: false, commands: 1500 },
].filter((c) => process.env.COMPARE_ONLY === undefined || process.env.COMPARE_ONLY.split(",").includes(c.name));

// Each checkout bundles its own Worker (wrangler deploy --dry-run, with its own lib.mjs); both
// bundles are copied side by side, because workerd reads every module below one directory.
const other = await import(pathToFileURL(resolve(otherRoot, "bench/lib.mjs")).href);
const scripts = join(here, ".build", "compare");
mkdirSync(scripts, { recursive: true });
const sides = [
  { key: "other", bundle: other.bundle },
  { key: "this", bundle: (await import("./lib.mjs")).bundle },
].map((side) => {
  const script = join(scripts, `${side.key}.js`);
  copyFileSync(side.bundle("workers/aggregates-x3m.toml"), script);
  return { key: side.key, script };
});

const mf = miniflare(null, {}, {
  workers: sides.map((side) =>
    workerOptions(side.key, side.script, { ACCOUNTS: "BenchAccountObject" }, { bindings: { API_TOKENS: "dev-ada=ada" }, unsafeDirectSockets: [{}] }),
  ),
});
try {
  await mf.ready;
  for (const side of sides) side.origin = String(await mf.unsafeGetDirectURL(side.key)).replace(/\/$/, "");
  const call = callService;
  const ids = Array.from({ length: ACCOUNTS }, (_, i) => `acct-${i}`);
  for (const side of sides) {
    await call(side, "open_account", { account_id: "hot" }, 201);
    await load({ total: ACCOUNTS, inFlight: 16, send: (i) => call(side, "open_account", { account_id: ids[i] }, 201) });
  }
  for (const c of CASES) {
    const target = () => (c.spread ? ids[Math.floor(Math.random() * ACCOUNTS)] : "hot");
    const deposit = (side) => () => call(side, "deposit", { account_id: target(), amount: 1 }, 200);
    const rounds = { other: [], this: [] };
    for (const side of sides) await load({ total: 300, inFlight: c.inFlight, send: deposit(side) });
    for (let pair = 0; pair < PAIRS; pair += 1) {
      for (const side of pair % 2 === 0 ? sides : [...sides].reverse()) {
        // Every object in memory before the clock starts (an idle object is evicted after ~10 s).
        if (c.spread) await load({ total: ACCOUNTS, inFlight: 16, send: (i) => call(side, "deposit", { account_id: ids[i], amount: 1 }, 200) });
        const pids = childWorkerdPids();
        const before = cpuMs(pids);
        await load({ total: c.commands, inFlight: c.inFlight, send: deposit(side) });
        rounds[side.key].push((cpuMs(pids) - before) / c.commands);
      }
    }
    const label = `${c.inFlight} in flight, ${c.spread ? `${ACCOUNTS.toLocaleString("en")} accounts` : "one hot account"}`;
    console.log(
      `${label}: CPU per command this ${median(rounds.this).toFixed(3)} ms, other ${median(rounds.other).toFixed(3)} ms; ` +
        `this / other, median of ${PAIRS} pairs: ${pairedRatio(rounds.this, rounds.other)}`,
    );
  }
} finally {
  await mf.dispose();
}
