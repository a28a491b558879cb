// Helpers shared by the benchmark suites.
import { execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const here = dirname(fileURLToPath(import.meta.url));

/** The compatibility date of every bench Worker (not newer than the bundled workerd). */
export const COMPATIBILITY_DATE = "2026-06-01";

/** The machine, as every result notes it. */
export const machine = {
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  runtime: "workerd via miniflare " + JSON.parse(readFileSync(join(here, "../node_modules/miniflare/package.json"), "utf8")).version,
};

/**
 * Bundles a Worker with wrangler (as `wrangler deploy` would) and returns the script path.
 * `config` is relative to bench/ (`workers/x.toml`, or `../wrangler.toml` for the demo).
 */
export function bundle(config) {
  const outdir = join(here, ".build", config.replace(/[^a-z0-9]/gi, "_"));
  execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outdir, "-c", join(here, config)], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  const name = readFileSync(join(here, config), "utf8").match(/^main = "(.+)\.ts"$/m)?.[1] ?? "index";
  return join(outdir, `${name.split("/").pop()}.js`);
}

/**
 * A Miniflare running `scriptPath` with these SQLite-backed Durable Object classes; with a null
 * `scriptPath`, one built from `extra` alone (several workers, see {@link workerOptions}).
 */
export function miniflare(scriptPath, durableObjects, extra = {}) {
  if (scriptPath === null) return new Miniflare(extra);
  return new Miniflare({ ...workerOptions(undefined, scriptPath, durableObjects), ...extra });
}

/**
 * The demo Worker (wrangler.toml) on Miniflare with everything its configuration binds — its
 * Durable Objects, the events and dead-letter queues with the consumer, the read models' D1 with
 * `migrations/` applied, the transfer Workflow — as `npm run dev` runs it. `extra` adds options
 * (bindings, stdio handling). Resolves once the migrations are applied (unless `migrate` is
 * false: persisted state that has them already).
 */
export async function demoMiniflare(scriptPath, extra = {}, migrate = true) {
  const mf = miniflare(scriptPath, { ACCOUNTS: "AccountObject", SCHEDULER: "SchedulerObject", TRANSFERS: "TransferObject" }, {
    queueProducers: { EVENTS: { queueName: "x3m-bank-events" }, DEAD_LETTERS: { queueName: "x3m-bank-dead-letters" } },
    queueConsumers: { "x3m-bank-events": { maxBatchSize: 50, maxBatchTimeout: 0, maxRetries: 10, deadLetterQueue: "x3m-bank-dead-letters" } },
    d1Databases: { READ_MODELS: "x3m-bank-read-models" },
    workflows: { TRANSFER_WORKFLOW: { name: "x3m-bank-transfers", className: "TransferWorkflow" } },
    ...extra,
  });
  if (!migrate) return mf;
  const db = await mf.getD1Database("READ_MODELS");
  for (const file of readdirSync(join(here, "../migrations")).filter((name) => name.endsWith(".sql")).sort()) {
    const statements = readFileSync(join(here, "../migrations", file), "utf8")
      .split("\n")
      .filter((line) => !line.trim().startsWith("--"))
      .join("\n")
      .split(";")
      .map((statement) => statement.trim())
      .filter((statement) => statement !== "");
    await db.batch(statements.map((statement) => db.prepare(statement)));
  }
  return mf;
}

/** One worker of a multi-worker Miniflare: its bundle and SQLite-backed Durable Objects (binding → class). */
export function workerOptions(name, scriptPath, durableObjects, extra = {}) {
  return {
    ...(name === undefined ? {} : { name }),
    modules: true,
    scriptPath,
    compatibilityDate: COMPATIBILITY_DATE,
    durableObjects: Object.fromEntries(Object.entries(durableObjects).map(([binding, className]) => [binding, { className, useSQLite: true }])),
    ...extra,
  };
}

/** p-th percentile (0-100) of numbers. */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const median = (values) => percentile(values, 50);

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `a / b` with two decimals, as every ratio column shows it. */
export const ratio = (a, b) => (b > 0 ? (a / b).toFixed(2) : "n/a");

/**
 * The median of the ratios `a[i] / b[i]` of measures taken back to back (pairs): steadier than a
 * ratio of medians on a machine whose load drifts.
 */
export const pairedRatio = (a, b) => median(a.map((x, i) => x / b[i])).toFixed(2);

/** Milliseconds, with two decimals under 10 ms. */
export const fmtMs = (ms) => (ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`);

/**
 * Runs `total` calls of `send(i)` with `inFlight` of them outstanding at any time; resolves with
 * each call's latency (ms) and the elapsed time of the whole run.
 */
export async function load({ total, inFlight, send }) {
  const latencies = new Array(total);
  let next = 0;
  const start = performance.now();
  const lane = async () => {
    while (next < total) {
      const i = next;
      next += 1;
      const t0 = performance.now();
      await send(i);
      latencies[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, lane));
  return { latencies, elapsedMs: performance.now() - start };
}

// Process accounting from /proc (Linux): the workerd processes a suite started, their CPU and memory.

const clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** pid, ppid, process group and name of every process, from /proc/<pid>/stat. */
function processes() {
  const found = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The name is in parentheses and may contain spaces: split after its closing one.
      const close = stat.lastIndexOf(")");
      const fields = stat.slice(close + 2).split(" ");
      found.push({ pid: Number(entry), name: stat.slice(stat.indexOf("(") + 1, close), ppid: Number(fields[1]), pgid: Number(fields[2]) });
    } catch {
      // The process ended while we listed it.
    }
  }
  return found;
}

/** The workerd processes that are children of this Node process (what Miniflare spawned). */
export function childWorkerdPids() {
  return processes()
    .filter((p) => p.ppid === process.pid && p.name.startsWith("workerd"))
    .map((p) => p.pid);
}

/** Every process in process group `pgid` (what a detached `wrangler dev` started). */
export function groupPids(pgid) {
  return processes()
    .filter((p) => p.pgid === pgid)
    .map((p) => p.pid);
}

/** CPU time (user + system, ms) used so far by these processes, all threads included. */
export function cpuMs(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime and stime are fields 14 and 15 of stat; here, after pid and name, indexes 11 and 12.
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // Gone: it no longer adds anything.
    }
  }
  return (ticks * 1000) / clockTicks;
}

/** Resident memory (bytes) of these processes, from /proc/<pid>/status (VmRSS). */
export function rssBytes(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const kib = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB$/m)?.[1];
      total += Number(kib ?? 0) * 1024;
    } catch {
      // Gone.
    }
  }
  return total;
}

/** How many requests {@link fetchRetrying} had to send again, for the suites to report. */
export const retried = { count: 0 };

/**
 * `fetch`, sent again once when the server closed a kept-alive connection just as the client
 * reused it (undici's "other side closed", a race with workerd's idle timeout that ends a run
 * for nothing). Callers only send requests that are safe to repeat: the timed commands carry
 * an `X-Message-Id`, so a repeat is answered from the idempotency record; the soak's mix does not
 * care about one more greeting or schedule.
 */
export async function fetchRetrying(url, init) {
  try {
    return await fetch(url, init);
  } catch (error) {
    if (error?.cause?.code !== "UND_ERR_SOCKET") throw error;
    retried.count += 1;
    return fetch(url, init);
  }
}

/**
 * One service call over HTTP as Ada (the bench Workers' `dev-ada` token), with its own
 * `X-Message-Id`, to `side.origin`; anything but the `expected` status throws (a benchmark of
 * errors measures nothing). Answers the envelope.
 */
export async function callService(side, service, body, expected) {
  const answer = await fetchRetrying(`${side.origin}/v1/services/${service}`, {
    method: "POST",
    headers: { Authorization: "Bearer dev-ada", "Content-Type": "application/json", "X-Message-Id": crypto.randomUUID() },
    body: JSON.stringify(body),
  });
  const envelope = await answer.json();
  if (answer.status !== expected) throw new Error(`${side.key} ${service}: ${answer.status} ${JSON.stringify(envelope)}`);
  return envelope;
}

/** A TCP port nobody listens on now (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Spawns `command` in its own process group, so that `stop()` ends it and everything it started
 * (wrangler runs workerd and helpers). Output is kept for the error message of a failed start.
 */
export function spawnGroup(command, args, options = {}) {
  const child = spawn(command, args, { ...options, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  let stopped = false;
  const signal = (name) => {
    try {
      process.kill(-child.pid, name);
    } catch {
      // The group is gone already.
    }
  };
  // Should this process die (an uncaught error, Ctrl-C), its children must not outlive it.
  const onExit = () => signal("SIGKILL");
  const onSignal = (name) => {
    signal("SIGKILL");
    process.exit(name === "SIGINT" ? 130 : 143);
  };
  process.once("exit", onExit);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return {
    pid: child.pid,
    output: () => output,
    exited,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off("exit", onExit);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      // The whole group: wrangler's workerd processes outlive the leader for a moment.
      signal("SIGTERM");
      const gone = async (ms) => {
        for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(100)) {
          if (groupPids(child.pid).length === 0) return true;
        }
        return false;
      };
      if (!(await gone(5000))) {
        signal("SIGKILL");
        if (!(await gone(2000))) throw new Error(`processes of group ${child.pid} survived SIGKILL: ${groupPids(child.pid).join(", ")}`);
      }
      await exited;
    },
  };
}

/** Polls `url` until it answers 2xx, or throws after `timeoutMs`. */
export async function waitForHttp(url, timeoutMs, describe = () => "") {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const answer = await fetch(url);
      await answer.arrayBuffer();
      if (answer.ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms\n${describe()}`);
    await sleep(250);
  }
}

