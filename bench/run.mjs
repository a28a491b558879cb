#!/usr/bin/env node
// npm run bench [-- suite…]: runs each benchmark on local workerd (Miniflare) with its baseline in
// the same run, prints a table, writes bench/results/<suite>-<time>.json and the table in
// bench/README.md. Suites: scheduler, dispatch, readside (see bench/README.md).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { machine } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const suites = {
  scheduler: () => import("./suites/scheduler.mjs"),
  dispatch: () => import("./suites/dispatch.mjs"),
  readside: () => import("./suites/readside.mjs"),
};
const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(suites);

const rows = [];
for (const name of chosen) {
  if (!(name in suites)) throw new Error(`unknown suite ${name}; known: ${Object.keys(suites).join(", ")}`);
  console.log(`--- ${name}`);
  const suite = await suites[name]();
  const result = await suite.run();
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  mkdirSync(join(here, "results"), { recursive: true });
  writeFileSync(join(here, "results", `${name}-${stamp}.json`), JSON.stringify({ suite: name, at: new Date().toISOString(), machine, ...result }, null, 2) + "\n");
  rows.push(...result.rows.map((row) => ({ suite: name, ...row })));
}

const table = [
  "| suite | measure | x3m-system | baseline | ratio |",
  "| --- | --- | --- | --- | --- |",
  ...rows.map((r) => `| ${r.suite} | ${r.measure} | ${r.value} | ${r.baseline} (${r.baselineName}) | ${r.ratio} |`),
].join("\n");
console.log(`\n${table}\n\nmachine: ${JSON.stringify(machine)}`);

const readmePath = join(here, "README.md");
const readme = readFileSync(readmePath, "utf8");
const section = `<!-- results:start -->\nLast run ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.runtime}:\n\n${table}\n<!-- results:end -->`;
const start = readme.indexOf("<!-- results:start -->");
const end = readme.indexOf("<!-- results:end -->");
if (start >= 0 && end > start && chosen.length === Object.keys(suites).length) {
  writeFileSync(readmePath, readme.slice(0, start) + section + readme.slice(end + "<!-- results:end -->".length));
}
process.exit(0);
