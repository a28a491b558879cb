#!/usr/bin/env node
// Where a deposit's CPU goes on the library side: `node bench/profile.mjs [commands]` runs the
// aggregates suite's library Worker (bench/workers/aggregates-x3m.ts) on Miniflare with workerd's
// V8 inspector, records a CPU profile of its isolate (Worker and account objects share it) during
// `commands` deposits (default 5,000; 16 in flight — PROFILE_IN_FLIGHT — over 100 accounts —
// PROFILE_ACCOUNTS), and prints self time by original source file and by function, mapped through
// the bundle's source map. Not a benchmark: no baseline, nothing written to the README; the raw
// profile goes to bench/.results/ (open it in Chrome DevTools). PROFILE_SIDE=baseline profiles the
// hand-written baseline (reached by stub.fetch) the same way, for the split of a deposit's time
// into the runtime's, V8's and the code's.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundle, freePort, load, miniflare, workerOptions } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const COMMANDS = Number(process.argv[2] ?? 5000);
/** Accounts the deposits go round (PROFILE_ACCOUNTS, default 100; 1 is the suite's hot account). */
const ACCOUNTS = Number(process.env.PROFILE_ACCOUNTS ?? 100);
/** Deposits in flight while profiling (PROFILE_IN_FLIGHT, default 16). */
const IN_FLIGHT = Number(process.env.PROFILE_IN_FLIGHT ?? 16);

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
async function devtools(url) {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", reject, { once: true });
  });
  let next = 0;
  const waiting = new Map();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data));
    const pending = waiting.get(message.id);
    if (pending === undefined) return;
    waiting.delete(message.id);
    if (message.error) pending.reject(new Error(`${pending.method}: ${JSON.stringify(message.error)}`));
    else pending.resolve(message.result);
  });
  return {
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        next += 1;
        waiting.set(next, { resolve, reject, method });
        socket.send(JSON.stringify({ id: next, method, params }));
      }),
    close: () => socket.close(),
  };
}

/** PROFILE_SIDE=baseline profiles the suite's hand-written Worker reached by stub.fetch instead. */
const BASELINE = process.env.PROFILE_SIDE === "baseline";
const side = BASELINE
  ? { name: "aggregates-baseline", toml: "aggregates-baseline", className: "BaselineAccount", bindings: { TRANSPORT: "fetch" } }
  : { name: "aggregates-x3m", toml: "aggregates-x3m", className: "BenchAccountObject", bindings: {} };
/**
 * Whose code a sample ran: the runtime's (a built-in called from JavaScript: fetch, a stream's
 * read, SQLite's exec, Response…), V8's own work ("(program)", GC), the waiting isolate, a
 * dependency, the library, or the Worker's own code (the app's or the baseline's).
 */
function kindOf(frame, file) {
  if (frame.functionName === "(idle)") return "idle (waiting for I/O)";
  if (frame.functionName === "(program)" || frame.functionName === "(garbage collector)") return "V8 (program, GC)";
  if (frame.url === "") return "runtime built-ins (fetch, streams, SQLite, Response…)";
  if (file.startsWith("node_modules/")) return `dependency ${file.slice("node_modules/".length)}`;
  if (file.startsWith("src/")) return "library (src/)";
  return "the Worker's own code (examples/, bench/)";
}

const script = bundle(`workers/${side.toml}.toml`);
const sourceMap = new SourceMap(JSON.parse(readFileSync(`${script}.map`, "utf8")));
const inspectorPort = await freePort();
const mf = miniflare(null, {}, {
  inspectorPort,
  // Reached on its own socket, as the aggregates suite does (see there why not dispatchFetch).
  workers: [workerOptions(side.name, script, { ACCOUNTS: side.className }, { bindings: { API_TOKENS: "dev-ada=ada", ...side.bindings }, unsafeDirectSockets: [{}] })],
});
try {
  await mf.ready;
  const origin = String(await mf.unsafeGetDirectURL(side.name)).replace(/\/$/, "");
  const deposit = async (i) => {
    const answer = await fetch(`${origin}/v1/services/deposit`, {
      method: "POST",
      headers: { Authorization: "Bearer dev-ada", "X-Message-Id": crypto.randomUUID() },
      body: JSON.stringify({ account_id: `p-${i % ACCOUNTS}`, amount: 1 }),
    });
    await answer.arrayBuffer();
    if (answer.status !== 200) throw new Error(`deposit: ${answer.status}`);
  };
  for (let i = 0; i < ACCOUNTS; i += 1) {
    const answer = await fetch(`${origin}/v1/services/open_account`, {
      method: "POST",
      headers: { Authorization: "Bearer dev-ada" },
      body: JSON.stringify({ account_id: `p-${i}` }),
    });
    await answer.arrayBuffer();
  }
  await load({ total: 1000, inFlight: 16, send: deposit });

  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const target = targets.find((t) => t.webSocketDebuggerUrl && new RegExp(side.name).test(`${t.id} ${t.title} ${t.url}`)) ?? targets[0];
  const cdp = await devtools(target.webSocketDebuggerUrl);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
  await cdp.send("Profiler.start");
  const run = await load({ total: COMMANDS, inFlight: IN_FLIGHT, send: deposit });
  const { profile } = await cdp.send("Profiler.stop");
  cdp.close();

  mkdirSync(join(here, ".results"), { recursive: true });
  const file = join(here, ".results", `profile-${side.name}-${new Date().toISOString().replace(/[:.]/g, "-")}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));

  // Self time of each node: the time deltas of the samples that landed in it.
  const self = new Map();
  profile.samples.forEach((nodeId, i) => self.set(nodeId, (self.get(nodeId) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFile = new Map();
  const byFunction = new Map();
  const byKind = new Map();
  let total = 0;
  for (const node of profile.nodes) {
    const micros = self.get(node.id) ?? 0;
    if (micros === 0) continue;
    total += micros;
    const frame = node.callFrame;
    let where = frame.url === "" ? frame.functionName : frame.url.split("/").pop();
    let line = frame.lineNumber + 1;
    if (frame.url.endsWith(".js") && frame.lineNumber >= 0) {
      const entry = sourceMap.findEntry(frame.lineNumber, frame.columnNumber);
      if (entry?.originalSource) {
        where = entry.originalSource.replace(/^.*?(node_modules\/|src\/|examples\/|bench\/)/, "$1");
        line = entry.originalLine + 1;
      }
    }
    const file = where.startsWith("node_modules/") ? where.split("/").slice(0, where.startsWith("node_modules/@") ? 3 : 2).join("/") : where;
    byFile.set(file, (byFile.get(file) ?? 0) + micros);
    byKind.set(kindOf(frame, file), (byKind.get(kindOf(frame, file)) ?? 0) + micros);
    const key = `${frame.functionName || "(anonymous)"}  ${where}:${line}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
  }
  const top = (map, n) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, micros]) => `${((100 * micros) / total).toFixed(1).padStart(5)} %  ${(micros / 1000 / COMMANDS).toFixed(3)} ms/cmd  ${name}`)
      .join("\n");
  console.log(`${COMMANDS} deposits in ${(run.elapsedMs / 1000).toFixed(1)} s; profiled isolate time ${(total / 1000).toFixed(0)} ms (${(total / 1000 / COMMANDS).toFixed(3)} ms per deposit, idle included)\n`);
  console.log(`by kind (self time):\n${top(byKind, 10)}\n`);
  console.log(`by source (self time):\n${top(byFile, 25)}\n`);
  console.log(`by function (self time):\n${top(byFunction, 40)}\n`);
  console.log(`profile: ${file}`);
} finally {
  await mf.dispose();
}
