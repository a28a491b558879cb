// Global setup of the browser suite: the demo Worker under `wrangler dev`, as `npm run dev` runs
// it, on a free port, with its own state and dev registry (so that it neither sees nor disturbs
// another `wrangler dev` on this machine). It runs in its own process group, which teardown
// stops — and which an exit of this process stops too, however the run ends.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Where the demo Worker answers, e.g. http://127.0.0.1:41234. */
    baseUrl: string;
  }
}

/** A port nobody listens on right now (the kernel picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * Signals the whole process group: wrangler, its workerd and anything they started. Sent even
 * when wrangler itself has exited: the group lives on while any member does.
 */
function stopGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // No member left.
  }
}

async function waitForHealth(url: string, child: ChildProcess, log: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}:\n${readFileSync(log, "utf8").slice(-3000)}`);
    try {
      const answer = await fetch(`${url}/v1/health`, { signal: AbortSignal.timeout(2000) });
      if (answer.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`wrangler dev did not answer within ${timeoutMs / 1000} s:\n${readFileSync(log, "utf8").slice(-3000)}`);
}

/** Starts the demo and provides its URL to the tests; returns the teardown. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), "x3m-browser-"));
  const log = join(dir, "wrangler.log");
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const out = openSync(log, "a");
  const quiet = { ...process.env, WRANGLER_REGISTRY_PATH: join(dir, "registry"), WRANGLER_SEND_METRICS: "false" };
  // The read models' tables, as `npm run dev` applies them first (db:migrate:local): without them
  // the demo's projections fail every event, and the console's read side page shows them behind.
  execFileSync("npx", ["wrangler", "d1", "migrations", "apply", "x3m-bank-read-models", "--local", "--persist-to", join(dir, "state")], {
    stdio: ["ignore", out, out],
    env: { ...quiet, CI: "true" },
  });
  const child = spawn(
    "npx",
    [
      "wrangler", "dev",
      "--ip", "127.0.0.1",
      "--port", String(port),
      "--inspector-port", String(inspectorPort),
      "--persist-to", join(dir, "state"),
      "--show-interactive-dev-session=false",
      // The tokens of `npm run dev` (package.json).
      "--var", "API_TOKENS:dev-ada=ada,dev-bob=bob,dev-root=root:admin",
      "--var", "ADMIN_TOKEN:dev-admin",
    ],
    {
      detached: true, // its own process group, stopped as one
      stdio: ["ignore", out, out],
      env: { ...quiet, X_LOCAL_OBSERVABILITY: "false" },
    },
  );
  const onExit = () => stopGroup(child, "SIGKILL");
  process.on("exit", onExit);

  const teardown = async () => {
    stopGroup(child, "SIGTERM");
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const timer = setTimeout(() => stopGroup(child, "SIGKILL"), 5000);
    if (child.exitCode === null && child.signalCode === null) await exited;
    clearTimeout(timer);
    // workerd may outlive wrangler by a moment: make sure nothing of the group is left.
    stopGroup(child, "SIGKILL");
    process.off("exit", onExit);
    if (process.env["X3M_KEEP_BROWSER_LOGS"] === undefined) rmSync(dir, { recursive: true, force: true });
  };

  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForHealth(baseUrl, child, log, 90_000);
  } catch (error) {
    await teardown();
    throw error;
  }
  project.provide("baseUrl", baseUrl);
  return teardown;
}
