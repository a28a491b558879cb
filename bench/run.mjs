#!/usr/bin/env node
// npm run bench [-- suite…]: runs benchmarks on local workerd (Miniflare) with their baselines in
// the same run, prints a table, writes the raw numbers to bench/.results/<suite>-<time>.json (not
// committed) and each suite's table into bench/README.md. Without names it runs the default
// suites; `dev` and `soak` run only when named (they take minutes, and `dev` starts wrangler dev).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { machine } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const suites = {
  scheduler: () => import("./suites/scheduler.mjs"),
  dispatch: () => import("./suites/dispatch.mjs"),
  aggregates: () => import("./suites/aggregates.mjs"),
  readside: () => import("./suites/readside.mjs"),
  startup: () => import("./suites/startup.mjs"),
  dev: () => import("./suites/dev.mjs"),
  soak: () => import("./suites/soak.mjs"),
};
const onlyWhenNamed = new Set(["dev", "soak"]);
const named = process.argv.slice(2);
const chosen = named.length > 0 ? named : Object.keys(suites).filter((name) => !onlyWhenNamed.has(name));
for (const name of chosen) {
  if (!(name in suites)) throw new Error(`unknown suite ${name}; known: ${Object.keys(suites).join(", ")}`);
}

const readmePath = join(here, "README.md");
const stampOf = (date) => date.toISOString().slice(0, 16).replace("T", " ") + " UTC";
const machineText = `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.runtime}`;

for (const name of chosen) {
  console.log(`--- ${name}`);
  const suite = await suites[name]();
  // The machine is shared: its load before and after tells how much to trust a small ratio.
  const loadBefore = loadavg()[0];
  const result = await suite.run();
  const load = `load average ${loadBefore.toFixed(1)} → ${loadavg()[0].toFixed(1)}`;
  const at = new Date();
  const resultsDir = join(here, ".results");
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${name}-${at.toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify({ suite: name, at: at.toISOString(), machine, ...result }, null, 2) + "\n");
  // A baseline shared by every row is named once, above the table, rather than in every cell.
  const names = new Set(result.rows.map((r) => r.baselineName));
  const shared = names.size === 1 ? [...names][0] : undefined;
  const table = [
    `| measure | ${(result.columns ?? ["x3m-system", "baseline"]).join(" | ")} | ratio |`,
    "| --- | --- | --- | --- |",
    ...result.rows.map((r) => `| ${r.measure} | ${r.value} | ${r.baseline}${shared === undefined ? ` (${r.baselineName})` : ""} | ${r.ratio} |`),
  ].join("\n");
  const intro = [`${stampOf(at)} on ${machineText}, ${load}.`, shared === undefined ? "" : ` Baseline: ${shared}.`, result.note ? ` ${result.note}` : ""].join("");
  console.log(`\n${intro}\n\n${table}\n\nraw: ${file}\n`);
  // Written after each suite, so a long run that fails later keeps what it measured; a part of a
  // suite run alone (`partial`) leaves the suite's table as it was.
  if (!result.partial) updateReadme(name, `### ${name}\n\n${intro}\n\n${table}\n`);
}
process.exit(0);

/** Replaces (or adds) one suite's block between the results markers of bench/README.md. */
function updateReadme(name, block) {
  const readme = readFileSync(readmePath, "utf8");
  const startMark = "<!-- results:start -->";
  const endMark = "<!-- results:end -->";
  const start = readme.indexOf(startMark);
  const end = readme.indexOf(endMark);
  if (start < 0 || end < start) return;
  const blocks = new Map();
  for (const part of readme.slice(start + startMark.length, end).split(/^(?=### )/m)) {
    const suite = /^### (\S+)/.exec(part)?.[1];
    if (suite !== undefined) blocks.set(suite, part.trim() + "\n");
  }
  blocks.set(name, block);
  const order = Object.keys(suites);
  const sorted = [...blocks].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b)).map(([, text]) => text);
  writeFileSync(readmePath, `${readme.slice(0, start)}${startMark}\n${sorted.join("\n")}${endMark}${readme.slice(end + endMark.length)}`);
}
