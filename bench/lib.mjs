// Helpers shared by the benchmark suites.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const here = dirname(fileURLToPath(import.meta.url));

/** The machine, as every result notes it. */
export const machine = {
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  runtime: "workerd via miniflare " + JSON.parse(readFileSync(join(here, "../node_modules/miniflare/package.json"), "utf8")).version,
};

/** Bundles a bench Worker with wrangler (as `wrangler deploy` would) and returns the script path. */
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
 * `scriptPath`, one built from `extra` alone (several workers).
 */
export function miniflare(scriptPath, durableObjects, extra = {}) {
  if (scriptPath === null) return new Miniflare(extra);
  return new Miniflare({
    modules: true,
    scriptPath,
    compatibilityDate: "2026-06-01",
    durableObjects: Object.fromEntries(Object.entries(durableObjects).map(([binding, className]) => [binding, { className, useSQLite: true }])),
    ...extra,
  });
}

/** p-th percentile (0-100) of numbers. */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

