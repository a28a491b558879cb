// Memory harness: where the memory of a `wrangler dev` server goes under load (issue 20, item 2).
//
//   node bench/memory/run.mjs [scenario…]        (Node >= 22.12; see README.md beside this file)
//   node bench/memory/run.mjs --list
//
// Each scenario starts its own dev server — bin/x3m-dev.mjs (what `npm run dev` runs) on the
// scenario's wrangler config, on a free port, with a fresh `--persist-to` folder and its own dev
// registry — in its own process group (setsid), drives MEM_INFLIGHT requests in flight for
// MEM_SECONDS, and samples the resident memory of the whole group (the sum of VmRSS over every
// process in it: x3m-dev's Node, wrangler's Node, workerd, esbuild) before the load, right after
// it, and after each of MEM_IDLE idle periods. It prints MiB and MiB per operation, the per-process
// split, what the persistence folder holds (SQLite files per Durable Object namespace: one per
// object created), and writes the samples to bench/.results/memory-<time>.json. The group is
// ended (SIGTERM, then SIGKILL) however the run ends.
//
// Environment: MEM_OPS (each scenario's own count: operations of a measured load), MEM_SECONDS
// (120: a load stops after this long even if short of its count), MEM_WARMUP (half the count:
// operations sent first, not measured, then 15 s idle), MEM_INFLIGHT (32), MEM_IDLE ("60,60":
// seconds of each idle period after a load), MEM_ROUNDS (1: loads, each followed by the idle
// periods), MEM_SAMPLE_SECONDS (5), MEM_HEAP (1: also read every V8 heap of the app's workerd
// through its inspector), MEM_KEEP_OUTPUT (1: the dev server's last output goes to
// bench/.results/memory-<scenario>-output.txt), MEM_PERSIST (a `--persist-to` folder of your own,
// kept afterwards, instead of a fresh one), X_LOCAL_OBSERVABILITY (false, as `npm run dev`).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { fetchRetrying, freePort, groupPids, sleep, spawnGroup, waitForHttp } from "../lib.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const here = dirname(fileURLToPath(import.meta.url));
const SECONDS = Number(process.env.MEM_SECONDS ?? 120);
const IN_FLIGHT = Number(process.env.MEM_INFLIGHT ?? 32);
const IDLE = (process.env.MEM_IDLE ?? "60,60").split(",").filter(Boolean).map(Number);
const SAMPLE_SECONDS = Number(process.env.MEM_SAMPLE_SECONDS ?? 5);
const OPS = process.env.MEM_OPS === undefined ? undefined : Number(process.env.MEM_OPS);
const WARMUP = process.env.MEM_WARMUP === undefined ? undefined : Number(process.env.MEM_WARMUP);
const ROUNDS = Number(process.env.MEM_ROUNDS ?? 1);
const HEAP = process.env.MEM_HEAP === "1";
const MiB = 1024 * 1024;
const API_TOKENS = "dev-ada=ada,dev-bob=bob,dev-root=root:admin";
const RUN = `${Date.now().toString(36)}`;

const DEMO = join(root, "wrangler.toml");
const HAND = join(here, "hand.toml");
const LIB = join(here, "lib.toml");

// ---------------------------------------------------------------------------------------------
// Operations. Each answers true when the status was the expected one.

async function post(origin, path, body, headers = {}) {
  const answer = await fetchRetrying(`${origin}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body ?? {}),
  });
  const text = await answer.text();
  return { status: answer.status, text };
}

const ada = { Authorization: "Bearer dev-ada" };

/** A demo service called as Ada, with its own message id; true when answered `expected`. */
async function service(origin, name, body, expected) {
  const { status, text } = await post(origin, `/v1/services/${name}`, body, { ...ada, "X-Message-Id": crypto.randomUUID() });
  if (!expected.includes(status)) throw new Error(`${name} ${status} ${text.slice(0, 300)}`);
  return true;
}

async function hand(origin, path, body, expected = [200, 201]) {
  const { status, text } = await post(origin, path, body);
  if (!expected.includes(status)) throw new Error(`${path} ${status} ${text.slice(0, 300)}`);
  return true;
}

const HOT = 8;

/** Opens Ada's HOT source accounts (with money for every transfer) and HOT destinations. */
async function openHot(origin, { money = false } = {}) {
  for (let k = 0; k < HOT; k += 1) {
    await service(origin, "open_account", { account_id: `hot-${RUN}-${k}` }, [201]);
    await service(origin, "open_account", { account_id: `dst-${RUN}-${k}` }, [201]);
    if (money) await service(origin, "deposit", { account_id: `hot-${RUN}-${k}`, amount: 1_000_000_000 }, [200]);
  }
}

/**
 * The scenarios. `config` is served by x3m-dev; `health` is polled until it answers; `setup` runs
 * before the first sample; `op(i)` is one operation of the load; `objects(i)` says how many new
 * Durable Objects (and Workflow instances) one operation makes, for the per-object figure.
 */
const SCENARIOS = {
  // The library (the bank demo, as `npm run dev` serves it).
  "demo-deposits-hot": {
    ops: 3000,
    what: "demo: deposit to one of 8 accounts (outbox, queue, 2 projections in D1)",
    config: DEMO,
    health: "/v1/health",
    setup: (o) => openHot(o),
    op: (o, i) => service(o, "deposit", { account_id: `hot-${RUN}-${i % HOT}`, amount: 1 }, [200]),
  },
  "demo-accounts-new": {
    ops: 2000,
    what: "demo: open_account of a new account per operation (a new AccountObject, outbox, queue, D1)",
    config: DEMO,
    health: "/v1/health",
    op: (o, i) => service(o, "open_account", { account_id: `new-${RUN}-${i}` }, [201]),
    perOp: "1 AccountObject",
  },
  "demo-transfers": {
    ops: 600,
    what: "demo: transfer of 1 between 8 pairs of accounts (a new TransferObject, its check, a Workflow instance of 5 steps)",
    config: DEMO,
    health: "/v1/health",
    setup: (o) => openHot(o, { money: true }),
    op: (o, i) => service(o, "transfer", { from: `hot-${RUN}-${i % HOT}`, to: `dst-${RUN}-${i % HOT}`, amount: 1 }, [201]),
    perOp: "1 TransferObject + 1 Workflow instance",
  },
  "demo-schedules": {
    ops: 1500,
    what: "demo: a schedule on a new scheduler key per operation, due in 1 s (a new SchedulerObject)",
    config: DEMO,
    health: "/v1/health",
    setup: (o) => openHot(o),
    op: async (o, i) => {
      const { status, text } = await post(
        o,
        "/v1/schedules",
        { service: "deposit", request: { account_id: `hot-${RUN}-${i % HOT}`, amount: 1 }, key: `key-${RUN}-${i}`, in: 1000 },
        { ...ada, "X-Message-Id": crypto.randomUUID() },
      );
      if (status !== 202) throw new Error(`schedule ${status} ${text.slice(0, 300)}`);
      return true;
    },
    perOp: "1 SchedulerObject",
  },
  "demo-mixed": {
    ops: 900,
    what: "demo: the issue's mix — transfers, a schedule on a new key, deposits to new accounts, in turn",
    config: DEMO,
    health: "/v1/health",
    setup: (o) => openHot(o, { money: true }),
    op: (o, i) => {
      switch (i % 3) {
        case 0:
          return service(o, "transfer", { from: `hot-${RUN}-${i % HOT}`, to: `dst-${RUN}-${i % HOT}`, amount: 1 }, [201]);
        case 1:
          return SCENARIOS["demo-schedules"].op(o, i);
        default:
          return service(o, "open_account", { account_id: `new-${RUN}-${i}` }, [201]);
      }
    },
  },
  "lib-workflows": {
    ops: 2000,
    what: "library: a trivial process (one step) started per request by workflowLauncher, run by processWorkflow",
    config: LIB,
    health: "/",
    op: (o) => hand(o, "/workflow", {}),
    perOp: "1 Workflow instance",
  },

  // Hand-written (bench/memory/hand-worker.ts), same wrangler dev and workerd.
  "hand-noop": {
    ops: 6000,
    what: "hand-written: a request that touches nothing (the path through wrangler dev and workerd alone)",
    config: HAND,
    health: "/",
    op: (o) => hand(o, "/noop", {}),
  },
  "hand-append-hot": {
    ops: 3000,
    what: "hand-written: one SQLite row appended to one of 8 Durable Objects",
    config: HAND,
    health: "/",
    op: (o, i) => hand(o, `/append/hot-${i % HOT}`, {}),
  },
  "hand-deposits-hot": {
    ops: 3000,
    what: "hand-written: a row appended to one of 8 Durable Objects and sent to the queue, projected into D1",
    config: HAND,
    health: "/",
    op: (o, i) => hand(o, `/deposit/hot-${i % HOT}`, {}),
  },
  "hand-objects-new": {
    ops: 2000,
    what: "hand-written: a new SQLite Durable Object per operation (one row)",
    config: HAND,
    health: "/",
    op: (o, i) => hand(o, `/append/new-${RUN}-${i}`, {}),
    perOp: "1 Durable Object",
  },
  "hand-accounts-new": {
    ops: 2000,
    what: "hand-written: a new Durable Object per operation, its row sent to the queue, projected into D1",
    config: HAND,
    health: "/",
    op: (o, i) => hand(o, `/deposit/new-${RUN}-${i}`, {}),
    perOp: "1 Durable Object",
  },
  "hand-alarms-new": {
    ops: 2000,
    what: "hand-written: a new Durable Object per operation, one row and an alarm 30 s ahead",
    config: HAND,
    health: "/",
    op: (o, i) => hand(o, `/alarm/new-${RUN}-${i}`, {}),
    perOp: "1 Durable Object with an alarm",
  },
  "hand-workflows": {
    ops: 2000,
    what: "hand-written: a Workflow instance with one trivial step per request",
    config: HAND,
    health: "/",
    op: (o) => hand(o, "/workflow", {}),
    perOp: "1 Workflow instance",
  },
  "hand-transfers": {
    ops: 600,
    what: "hand-written transfer: a new object (row, alarm, queue), a Workflow instance of 3 steps started by the consumer, D1 projection",
    config: HAND,
    health: "/",
    op: (o, i) => hand(o, "/transfer", { from: `hot-${i % HOT}`, to: `dst-${i % HOT}`, amount: 1 }, [201]),
    perOp: "1 Durable Object + 1 Workflow instance",
  },
};

// ---------------------------------------------------------------------------------------------
// Processes and memory, from /proc.

/** Every process of group `pgid` (lib's `groupPids`) with its memory, from /proc/<pid>/status. */
function processesOf(pgid) {
  return groupPids(pgid).flatMap((pid) => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const field = (key) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB$`, "m"))?.[1] ?? 0) * 1024;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
      return [
        {
          pid,
          rss: field("VmRSS"),
          // VmRSS = RssAnon (heaps) + RssFile (mapped files) + RssShmem (shared memory, SQLite's -shm maps).
          anon: field("RssAnon"),
          file: field("RssFile"),
          shmem: field("RssShmem"),
          label: label(cmdline),
        },
      ];
    } catch {
      return []; // Gone while listed.
    }
  });
}

/** A short name for a process of the group. */
function label(cmdline) {
  const text = cmdline.join(" ");
  if (/x3m-dev\.mjs/.test(text)) return "node x3m-dev";
  if (/wrangler.*\bdev\b/.test(text)) return "node wrangler";
  // wrangler dev runs two: the app's (with the inspector) and its proxy's (ProxyWorker, InspectorProxyWorker).
  if (/workerd/.test(cmdline[0] ?? "")) return cmdline.some((arg) => arg.startsWith("--inspector-addr")) ? "workerd" : "workerd proxy";
  if (/esbuild/.test(text)) return "esbuild";
  return (cmdline[0] ?? "?").split("/").pop();
}

function sample(pgid) {
  const list = processesOf(pgid);
  const byLabel = {};
  for (const p of list) byLabel[p.label] = (byLabel[p.label] ?? 0) + p.rss / MiB;
  const workerd = list.filter((p) => p.label === "workerd");
  const kinds = { anon: 0, file: 0, shmem: 0 };
  for (const p of workerd) for (const kind of Object.keys(kinds)) kinds[kind] += p[kind] / MiB;
  return { at: Date.now(), mib: list.reduce((sum, p) => sum + p.rss, 0) / MiB, byLabel, workerd: kinds, processes: list.length };
}

/** What the persistence folder holds: .sqlite files (one per Durable Object) per namespace folder, and bytes. */
function persisted(dir) {
  const counts = {};
  let bytes = 0;
  const walk = (folder) => {
    let entries;
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        try {
          bytes += statSync(path).size;
        } catch {
          // Gone.
        }
        if (entry.name.endsWith(".sqlite")) {
          const where = relative(dir, folder) || ".";
          counts[where] = (counts[where] ?? 0) + 1;
        }
      }
    }
  };
  walk(dir);
  return { sqliteFiles: counts, mib: bytes / MiB };
}

/**
 * With MEM_HEAP=1: the V8 heaps of the app's workerd (every isolate it runs: the Worker, the
 * Workflows engine, the queue broker, D1…), read through workerd's own inspector
 * (`Runtime.getHeapUsage` per isolate), so that RSS can be split into V8 heaps and the rest.
 */
async function heapNote(pgid) {
  if (!HEAP) return "";
  const app = processesOf(pgid).find((p) => p.label === "workerd");
  if (app === undefined) return "";
  let ports = [];
  try {
    const listing = execFileSync("ss", ["-ltnpH"], { encoding: "utf8" });
    ports = [...listing.matchAll(new RegExp(`127\\.0\\.0\\.1:(\\d+)\\s.*pid=${app.pid},`, "g"))].map((m) => m[1]);
  } catch {
    return " | heaps: ss not available";
  }
  for (const port of ports) {
    let targets;
    try {
      targets = await (await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(2000) })).json();
    } catch {
      continue;
    }
    if (!Array.isArray(targets) || targets[0]?.webSocketDebuggerUrl === undefined) continue;
    const heaps = [];
    for (const target of targets) {
      const used = await heapOf(target.webSocketDebuggerUrl).catch(() => null);
      if (used !== null) heaps.push({ id: target.id, ...used });
    }
    const total = heaps.reduce((sum, h) => sum + h.total, 0) / MiB;
    const top = heaps.sort((a, b) => b.total - a.total).slice(0, 3).map((h) => `${h.id} ${fmt(h.total / MiB)}`).join(", ");
    return ` | V8 heaps ${fmt(total)} MiB (${top})`;
  }
  return " | heaps: no inspector found";
}

/** `Runtime.getHeapUsage` of one isolate, over its inspector WebSocket: { used, total } bytes. */
function heapOf(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error("timeout"));
    }, 3000);
    ws.onerror = () => reject(new Error("ws error"));
    ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: "Runtime.getHeapUsage" }));
    ws.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      if (message.id !== 1) return;
      clearTimeout(timer);
      ws.close();
      if (message.result === undefined) reject(new Error("no result"));
      else resolve({ used: message.result.usedSize, total: message.result.totalSize });
    };
  });
}

const fmt = (mib) => mib.toFixed(0);
const split = (s) =>
  Object.entries(s.byLabel)
    .sort((a, b) => b[1] - a[1])
    .map(([name, mib]) => `${name} ${fmt(mib)}`)
    .join(", ") + ` | workerd anon ${fmt(s.workerd.anon)}, file ${fmt(s.workerd.file)}, shmem ${fmt(s.workerd.shmem)}`;

// ---------------------------------------------------------------------------------------------

async function runScenario(name) {
  const scenario = SCENARIOS[name];
  const tmp = mkdtempSync(join(tmpdir(), `x3m-memory-${name}-`));
  // MEM_PERSIST: a persistence folder of your own, kept (to see what a restart on it costs).
  const state = process.env.MEM_PERSIST ?? join(tmp, "state");
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    WRANGLER_REGISTRY_PATH: join(tmp, "registry"),
    WRANGLER_SEND_METRICS: "false",
    CI: "true",
    X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false",
  };
  const args = [
    join(root, "bin/x3m-dev.mjs"),
    "-c", scenario.config,
    "--port", String(port),
    "--persist-to", state,
    "--show-interactive-dev-session=false",
    "--var", `API_TOKENS:${API_TOKENS}`,
    "--var", "ADMIN_TOKEN:dev-admin",
  ];
  console.log(`\n## ${name}: ${scenario.what}`);
  const dev = spawnGroup(process.execPath, args, { cwd: root, env });
  const samples = [];
  const mark = (phase) => {
    const s = { phase, ...sample(dev.pid), ops: counts.ok };
    samples.push(s);
    return s;
  };
  const counts = { ok: 0, failed: 0, errors: [] };
  try {
    await waitForHttp(`${origin}${scenario.health}`, 120_000, dev.output);
    if (scenario.setup !== undefined) await scenario.setup(origin);
    // A warm-up of the same operations (not counted): the dev server's own request path grows
    // to a high-water mark over its first thousands of requests, whatever they do (hand-noop).
    let next = 0;
    const warmup = WARMUP ?? Math.round(scenario.ops / 2);
    if (warmup > 0) {
      let sent = 0;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (sent < warmup) {
            sent += 1;
            const i = next;
            next += 1;
            await scenario.op(origin, i).catch(() => {});
          }
        }),
      );
      // Past the 10 s after which idle objects are evicted.
      await sleep(15_000);
    } else await sleep(3000);
    const before = mark("before");
    console.log(`before: ${fmt(before.mib)} MiB (${split(before)}; ${before.processes} processes)`);

    const per = (s, from, ops) => (ops > 0 ? (((s.mib - from.mib) * 1024) / ops).toFixed(0) : "n/a");
    const rounds = [];
    const limit = OPS ?? scenario.ops;
    for (let round = 1; round <= ROUNDS; round += 1) {
      // The load: IN_FLIGHT lanes until `limit` operations were sent (or SECONDS have passed).
      const start = samples.at(-1);
      const opsBefore = counts.ok;
      const end = Date.now() + SECONDS * 1000;
      let counted = 0;
      const sampler = setInterval(() => mark("load"), SAMPLE_SECONDS * 1000);
      const lane = async () => {
        while (Date.now() < end && counted < limit) {
          counted += 1;
          const i = next;
          next += 1;
          try {
            await scenario.op(origin, i);
            counts.ok += 1;
          } catch (error) {
            counts.failed += 1;
            if (counts.errors.length < 5) counts.errors.push(String(error?.message ?? error));
          }
        }
      };
      const started = Date.now();
      await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
      const loadSeconds = (Date.now() - started) / 1000;
      clearInterval(sampler);
      const after = mark("after");
      const ops = counts.ok - opsBefore;
      const prefix = ROUNDS > 1 ? `round ${round}, ` : "";
      console.log(
        `${prefix}load: ${ops} ops in ${loadSeconds.toFixed(0)} s (${(ops / loadSeconds).toFixed(0)}/s), ${counts.failed} failed so far${counts.errors.length ? ` (${counts.errors[0]})` : ""}`,
      );
      console.log(`${prefix}after: ${fmt(after.mib)} MiB, +${fmt(after.mib - start.mib)} MiB, ${per(after, start, ops)} KiB/op (${split(after)})${await heapNote(dev.pid)}`);
      const idles = [];
      let idled = 0;
      for (const seconds of IDLE) {
        const stop = Date.now() + seconds * 1000;
        while (Date.now() < stop) {
          await sleep(Math.min(SAMPLE_SECONDS * 1000, stop - Date.now()));
          mark("idle");
        }
        idled += seconds;
        const s = mark(`idle ${idled} s`);
        idles.push(s);
        console.log(`${prefix}idle ${idled} s: ${fmt(s.mib)} MiB, +${fmt(s.mib - start.mib)} MiB, ${per(s, start, ops)} KiB/op (${split(s)})${await heapNote(dev.pid)}`);
      }
      rounds.push({ round, ops, loadSeconds, start: start.mib, after: after.mib, idle: idles.map((s) => ({ phase: s.phase, mib: s.mib, byLabel: s.byLabel, workerd: s.workerd })), kibPerOp: { after: Number(per(after, start, ops)), lastIdle: idles.length ? Number(per(idles.at(-1), start, ops)) : null } });
    }
    const after = samples.filter((s) => s.phase === "after").at(-1);
    const last = samples.at(-1);
    if (ROUNDS > 1) console.log(`all rounds: ${counts.ok} ops, +${fmt(last.mib - before.mib)} MiB, ${per(last, before, counts.ok)} KiB/op`);
    const disk = persisted(state);
    console.log(`persisted: ${disk.mib.toFixed(1)} MiB; .sqlite files: ${JSON.stringify(disk.sqliteFiles)}`);
    const peak = Math.max(...samples.map((s) => s.mib));
    return {
      name,
      what: scenario.what,
      perOp: scenario.perOp ?? null,
      ops: counts.ok,
      failed: counts.failed,
      errors: counts.errors,
      rounds,
      before: before.mib,
      after: after.mib,
      idle: rounds[0].idle,
      peak,
      kibPerOp: { after: Number(per(after, before, counts.ok)), lastIdle: Number(per(last, before, counts.ok)) },
      byLabel: { before: before.byLabel, after: after.byLabel, last: last.byLabel },
      workerd: { before: before.workerd, after: after.workerd, last: last.workerd },
      persisted: disk,
      samples,
    };
  } catch (error) {
    console.error(`${name} failed: ${error?.stack ?? error}\n--- dev server output (tail) ---\n${dev.output().slice(-4000)}`);
    return { name, error: String(error?.message ?? error), samples };
  } finally {
    await dev.stop();
    if (process.env.MEM_KEEP_OUTPUT === "1") {
      mkdirSync(join(root, "bench/.results"), { recursive: true });
      writeFileSync(join(root, "bench/.results", `memory-${name}-output.txt`), dev.output());
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}

const names = process.argv.slice(2);
if (names.includes("--list") || names.length === 0) {
  for (const [name, scenario] of Object.entries(SCENARIOS)) console.log(`${name.padEnd(20)} ${scenario.what}`);
  process.exit(0);
}
for (const name of names) if (!(name in SCENARIOS)) throw new Error(`unknown scenario ${name} (--list)`);

console.log(`memory harness: ${OPS ?? "each scenario's count of"} ops (at most ${SECONDS} s) at ${IN_FLIGHT} in flight after a warm-up of ${WARMUP ?? "half as many"}, idle ${IDLE.join(" + ")} s, ${ROUNDS} round(s), Node ${process.versions.node}, X_LOCAL_OBSERVABILITY=${process.env.X_LOCAL_OBSERVABILITY ?? "false"}`);
const results = [];
for (const name of names) results.push(await runScenario(name));

console.log("\n| scenario | ops | MiB before | after | " + IDLE.map((_, k) => `idle ${IDLE.slice(0, k + 1).reduce((a, b) => a + b, 0)} s`).join(" | ") + " | KiB/op after | KiB/op idle |");
console.log("| --- | --- | --- | --- | " + IDLE.map(() => "---").join(" | ") + " | --- | --- |");
for (const r of results) {
  if (r.error !== undefined) {
    console.log(`| ${r.name} | failed: ${r.error} |`);
    continue;
  }
  console.log(`| ${r.name} | ${r.ops} | ${fmt(r.before)} | ${fmt(r.after)} | ${r.idle.map((s) => fmt(s.mib)).join(" | ")} | ${r.kibPerOp.after} | ${r.kibPerOp.lastIdle ?? ""} |`);
}
const out = join(root, "bench/.results");
mkdirSync(out, { recursive: true });
const file = join(out, `memory-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(file, JSON.stringify({ seconds: SECONDS, inFlight: IN_FLIGHT, idle: IDLE, node: process.versions.node, results }, null, 2));
console.log(`\nsamples: ${relative(root, file)}`);
