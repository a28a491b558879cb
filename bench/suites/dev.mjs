// Dev benchmark: what `npm run dev` costs per command. The demo Worker under `wrangler dev` (the
// repo's wrangler.toml as it is, isolated: its own dev registry, persistence folder and ports)
// against the same bundle on Miniflare directly. Sequential deposits alternate between the two,
// over plain Node fetch to each one's URL; then CPU per command in alternating phases (the whole
// wrangler dev process group against Miniflare's workerd). Runs only when named: it takes about a
// minute and starts wrangler dev.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  bundle,
  childWorkerdPids,
  cpuMs,
  fetchRetrying,
  fmtMs,
  freePort,
  groupPids,
  median,
  demoMiniflare,
    percentile,
  ratio,
  retried,
  spawnGroup,
  waitForHttp,
} from "../lib.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const quick = process.env.BENCH_QUICK === "1";
const SEQUENTIAL = quick ? 40 : 300;
const WARMUP = quick ? 10 : 50;
const CPU_PHASE = quick ? 50 : 300;
const CPU_PHASES = 2;
const API_TOKENS = "dev-ada=ada,dev-bob=bob,dev-root=root:admin";
const BASELINE_NAME = "the same bundle on Miniflare directly";

export async function run() {
  const retriedBefore = retried.count;
  const tmp = mkdtempSync(join(tmpdir(), "x3m-bench-dev-"));
  const mf = await demoMiniflare(bundle("../wrangler.toml"), { bindings: { API_TOKENS } });
  const [port, inspectorPort] = [await freePort(), await freePort()];
  // As `npm run dev` runs it: the read models' migrations first, then wrangler dev without the
  // local trace collector (X_LOCAL_OBSERVABILITY=false), unless the caller's environment says otherwise.
  const env = { ...process.env, WRANGLER_REGISTRY_PATH: join(tmp, "registry"), WRANGLER_SEND_METRICS: "false", CI: "true" };
  execFileSync("npx", ["wrangler", "d1", "migrations", "apply", "x3m-bank-read-models", "--local", "--persist-to", join(tmp, "state")], { cwd: root, env, stdio: "ignore" });
  const traceCollector = (process.env.X_LOCAL_OBSERVABILITY ?? "false") !== "false";
  const dev = spawnGroup(
    "npx",
    ["wrangler", "dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort), "--persist-to", join(tmp, "state"),
      "--show-interactive-dev-session=false", "--var", `API_TOKENS:${API_TOKENS}`],
    { cwd: root, env: { ...env, X_LOCAL_OBSERVABILITY: traceCollector ? "true" : "false" } },
  );
  try {
    const devUrl = `http://127.0.0.1:${port}`;
    await waitForHttp(`${devUrl}/v1/health`, 90_000, dev.output);
    const mfUrl = String(await mf.ready).replace(/\/$/, "");
    const sides = { dev: devUrl, miniflare: mfUrl };

    const account = `dev-bench-${Date.now()}`;
    const call = async (url, service, body, expected) => {
      const answer = await fetchRetrying(`${url}/v1/services/${service}`, {
        method: "POST",
        headers: { Authorization: "Bearer dev-ada", "Content-Type": "application/json", "X-Message-Id": crypto.randomUUID() },
        body: JSON.stringify(body),
      });
      const text = await answer.text();
      if (answer.status !== expected) throw new Error(`${url} ${service}: ${answer.status} ${text}`);
    };
    const deposit = (url) => call(url, "deposit", { account_id: account, amount: 1 }, 200);
    const timed = async (url) => {
      const start = performance.now();
      await deposit(url);
      return performance.now() - start;
    };

    for (const url of Object.values(sides)) await call(url, "open_account", { account_id: account }, 201);
    for (let i = 0; i < WARMUP; i += 1) for (const url of Object.values(sides)) await deposit(url);

    // Latency: one command at a time, alternating, so that both see the same machine.
    const latency = { dev: [], miniflare: [] };
    for (let i = 0; i < SEQUENTIAL; i += 1) {
      for (const key of i % 2 === 0 ? ["dev", "miniflare"] : ["miniflare", "dev"]) latency[key].push(await timed(sides[key]));
    }

    // CPU per command: alternating phases, each counting only its own side's processes.
    const cpu = { dev: [], miniflare: [] };
    for (let phase = 0; phase < CPU_PHASES; phase += 1) {
      for (const key of ["dev", "miniflare"]) {
        const pids = key === "dev" ? groupPids(dev.pid) : childWorkerdPids();
        const before = cpuMs(pids);
        for (let i = 0; i < CPU_PHASE; i += 1) await deposit(sides[key]);
        cpu[key].push((cpuMs(pids) - before) / CPU_PHASE);
      }
    }

    const on = traceCollector ? "on" : "off";
    console.log(`wrangler dev p50 ${fmtMs(median(latency.dev))}, Miniflare p50 ${fmtMs(median(latency.miniflare))}; local trace collector ${on}`);
    const row = (measure, a, b) => ({ measure, value: fmtMs(a), baseline: fmtMs(b), baselineName: BASELINE_NAME, ratio: ratio(a, b) });
    return {
      columns: ["wrangler dev", "Miniflare directly"],
      raw: { traceCollector, latency, cpu, devOutput: dev.output() },
      note: `wrangler dev as npm run dev runs it: read-model migrations applied, local trace collector ${on} (X_LOCAL_OBSERVABILITY).${retried.count === retriedBefore ? "" : ` ${retried.count - retriedBefore} requests sent again after a kept-alive connection closed under them.`}`,
      rows: [
        row(`deposit latency p50 via wrangler dev (trace collector ${on}), ${SEQUENTIAL} sequential`, median(latency.dev), median(latency.miniflare)),
        row(`deposit latency p99 via wrangler dev (trace collector ${on}), ${SEQUENTIAL} sequential`, percentile(latency.dev, 99), percentile(latency.miniflare, 99)),
        row(`CPU per deposit, whole wrangler dev process group (trace collector ${on}), median of ${CPU_PHASES} × ${CPU_PHASE}`, median(cpu.dev), median(cpu.miniflare)),
      ],
    };
  } finally {
    await dev.stop();
    await mf.dispose();
    rmSync(tmp, { recursive: true, force: true });
  }
}
