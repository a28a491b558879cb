#!/usr/bin/env node
// Where a deposit's CPU goes in the whole workerd process, not only in the isolate: `node
// bench/perf-split.mjs [deposits]` runs the aggregates suite's library Worker and its hand-written
// baseline (reached by stub.fetch), one after the other, each in its own Miniflare, sends each
// `deposits` deposits (default 4,000; 1 in flight over 100 accounts: PERF_IN_FLIGHT, PERF_ACCOUNTS)
// and samples its workerd with Linux `perf record` (999 Hz) meanwhile; then it prints CPU per
// deposit by kind of work — V8 (JavaScript, JIT, builtins, GC), workerd's JS API bindings,
// workerd/kj (HTTP, RPC, event loop), SQLite, malloc, libc, the kernel (syscalls, writes, fsync) —
// for both sides and their difference. Needs `perf` (linux-perf) and permission to attach to a
// process. Not a benchmark: sampling slows both sides; compare the columns, not the totals, with
// the suites'.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundle, load, miniflare, sleep, workerOptions } from "./lib.mjs";

const DEPOSITS = Number(process.argv[2] ?? 4000);
/** Accounts the deposits go round (PERF_ACCOUNTS, default 100; 1 is the hot account of the aggregates suite). */
const ACCOUNTS = Number(process.env.PERF_ACCOUNTS ?? 100);
/**
 * With PERF_SYMBOLS=n, also n symbols: those whose CPU per deposit differs most between the sides,
 * or with PERF_SORT=x3m those the library's side spends most on.
 */
const SYMBOLS = Number(process.env.PERF_SYMBOLS ?? 0);
const BY_LIBRARY_SIDE = process.env.PERF_SORT === "x3m";
/** Deposits in flight (PERF_IN_FLIGHT, default 1). */
const IN_FLIGHT = Number(process.env.PERF_IN_FLIGHT ?? 1);
const SIDES = [
  { key: "x3m", name: "aggregates-x3m", toml: "aggregates-x3m", className: "BenchAccountObject", bindings: {} },
  { key: "baseline", name: "aggregates-baseline", toml: "aggregates-baseline", className: "BaselineAccount", bindings: { TRANSPORT: "fetch" } },
];
const KINDS = ["V8 (JavaScript, JIT, builtins, GC)", "workerd's JS API bindings", "workerd/kj (HTTP, RPC, event loop)", "SQLite", "malloc", "libc", "kernel (syscalls, writes, fsync)", "other"];

/** The kind of work a sampled symbol does. */
function kindOf(dso, kernel, symbol) {
  if (kernel) return "kernel (syscalls, writes, fsync)";
  if (/^sqlite3|Sqlite|^pager|^btree|Vdbe/i.test(symbol)) return "SQLite";
  if (/tcmalloc|malloc|^operator new|^free$/.test(symbol)) return "malloc";
  if (/^Builtins_|v8::|^Runtime_|^Stub:|^LazyCompile|^Function:|^0x/.test(symbol) || /^(\[JIT\]|perf-)/.test(dso)) return "V8 (JavaScript, JIT, builtins, GC)";
  if (/jsg::|workerd::api/.test(symbol)) return "workerd's JS API bindings";
  if (/kj::|capnp|workerd::/.test(symbol)) return "workerd/kj (HTTP, RPC, event loop)";
  if (/^libc|^\[vdso\]/.test(dso)) return "libc";
  return "other";
}

const dir = mkdtempSync(join(tmpdir(), "x3m-perf-"));
const results = {};
const symbols = {};
try {
  for (const side of SIDES) {
    const script = bundle(`workers/${side.toml}.toml`);
    const mf = miniflare(null, {}, {
      workers: [workerOptions(side.name, script, { ACCOUNTS: side.className }, { bindings: { API_TOKENS: "dev-ada=ada", ...side.bindings }, unsafeDirectSockets: [{}] })],
    });
    try {
      await mf.ready;
      const origin = String(await mf.unsafeGetDirectURL(side.name)).replace(/\/$/, "");
      const post = async (service, body) => {
        const answer = await fetch(`${origin}/v1/services/${service}`, { method: "POST", headers: { Authorization: "Bearer dev-ada", "X-Message-Id": crypto.randomUUID() }, body: JSON.stringify(body) });
        await answer.arrayBuffer();
        if (!answer.ok) throw new Error(`${service}: ${answer.status}`);
      };
      for (let i = 0; i < ACCOUNTS; i += 1) await post("open_account", { account_id: `p-${i}` });
      await load({ total: 1000, inFlight: 1, send: (i) => post("deposit", { account_id: `p-${i % ACCOUNTS}`, amount: 1 }) });
      // The newest workerd is this Miniflare's (the suites start one each).
      const pid = execFileSync("pgrep", ["-n", "-f", "workerd serve"], { encoding: "utf8" }).trim();
      const data = join(dir, `${side.key}.data`);
      const perf = spawn("perf", ["record", "-F", "999", "-g", "-p", pid, "-o", data], { stdio: "ignore" });
      await sleep(1000);
      await load({ total: DEPOSITS, inFlight: IN_FLIGHT, send: (i) => post("deposit", { account_id: `p-${i % ACCOUNTS}`, amount: 1 }) });
      const stopped = new Promise((resolve) => perf.once("exit", resolve));
      perf.kill("SIGINT");
      await stopped;
      const report = execFileSync("perf", ["report", "-i", data, "--no-children", "--sort", "dso,sym", "--stdio", "-g", "none", "-n", "--percent-limit", "0"], { encoding: "utf8", maxBuffer: 1 << 28 });
      const byKind = Object.fromEntries(KINDS.map((kind) => [kind, 0]));
      const bySymbol = new Map();
      for (const line of report.split("\n")) {
        const match = /^\s+[\d.]+%\s+(\d+)\s+(\S+)\s+\[(.)\]\s+(.*)$/.exec(line);
        if (match === null) continue;
        const kind = kindOf(match[2], match[3] === "k", match[4]);
        byKind[kind] += Number(match[1]);
        // JIT-compiled code has no symbol: its addresses count as one entry.
        const symbol = /^(0x|\[JIT\])/.test(match[4]) || /^(\[JIT\]|perf-)/.test(match[2]) ? "(JIT-compiled JavaScript)" : match[4].replace(/\(.*$/, "");
        const key = `${kind.split(" ")[0]}  ${symbol}`;
        bySymbol.set(key, (bySymbol.get(key) ?? 0) + Number(match[1]));
      }
      results[side.key] = byKind;
      symbols[side.key] = bySymbol;
    } finally {
      await mf.dispose();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
// 999 samples a second: a sample is about a millisecond of one thread's CPU.
const ms = (samples) => (samples / 999 / DEPOSITS) * 1000;
const total = (side) => Object.values(results[side]).reduce((a, b) => a + b, 0);
console.log(`CPU per deposit (ms), ${DEPOSITS} deposits at ${IN_FLIGHT} in flight over ${ACCOUNTS} account(s), whole workerd process, sampled by perf:\n`);
console.log(`${"kind".padEnd(40)} ${"x3m".padStart(7)} ${"baseline".padStart(9)} ${"x3m − baseline".padStart(15)}`);
for (const kind of KINDS) {
  const [a, b] = [ms(results.x3m[kind]), ms(results.baseline[kind])];
  console.log(`${kind.padEnd(40)} ${a.toFixed(3).padStart(7)} ${b.toFixed(3).padStart(9)} ${(a - b).toFixed(3).padStart(15)}`);
}
const [a, b] = [ms(total("x3m")), ms(total("baseline"))];
console.log(`${"total".padEnd(40)} ${a.toFixed(3).padStart(7)} ${b.toFixed(3).padStart(9)} ${(a - b).toFixed(3).padStart(15)}   (ratio ${(a / b).toFixed(2)})`);
if (SYMBOLS > 0) {
  const keys = new Set([...symbols.x3m.keys(), ...symbols.baseline.keys()]);
  const rows = [...keys].map((key) => [key, ms(symbols.x3m.get(key) ?? 0), ms(symbols.baseline.get(key) ?? 0)]);
  rows.sort((a, b) => (BY_LIBRARY_SIDE ? b[1] - a[1] : Math.abs(b[1] - b[2]) - Math.abs(a[1] - a[2])));
  const which = BY_LIBRARY_SIDE ? "the library's side spends most on" : "that differ most";
  console.log(`\nthe ${SYMBOLS} symbols ${which} (ms per deposit: x3m, baseline, difference):`);
  for (const [key, a, b] of rows.slice(0, SYMBOLS)) console.log(`${a.toFixed(4).padStart(8)} ${b.toFixed(4).padStart(8)} ${(a - b).toFixed(4).padStart(8)}  ${key.slice(0, 110)}`);
}
