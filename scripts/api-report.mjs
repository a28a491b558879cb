#!/usr/bin/env node
// The public API, reported and checked (run after `npm run build`, on a Node that runs wrangler).
//
//   node scripts/api-report.mjs           CI: fails when an entry point's API differs from its
//                                         committed report (api/<entry>.api.md), or when a name
//                                         that differs from the previous release's report
//                                         (api/<release>/<entry>.api.md) has no CHANGELOG line
//   node scripts/api-report.mjs --local   writes the reports anew (`npm run api`), then checks the
//                                         CHANGELOG the same way
//
// The reports are API Extractor's (https://api-extractor.com/), the standard report of a
// TypeScript library's declarations: one per entry point, reviewed like code. A change to the
// public surface shows in review as a change to api/*.api.md, and needs its line in the
// CHANGELOG's Unreleased section naming it in backticks (`name`).
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const local = process.argv.includes("--local");
const ENTRIES = ["core", "objects", "worker", "client", "pages"];

const problems = [];
for (const entry of ENTRIES) {
  const config = join(root, "api", `${entry}.api.json`);
  try {
    execFileSync(process.execPath, [join(root, "node_modules/@microsoft/api-extractor/bin/api-extractor"), "run", ...(local ? ["--local"] : []), "-c", config], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (error) {
    const output = `${error.stdout ?? ""}${error.stderr ?? ""}`;
    problems.push(`x3m-system/${entry === "core" ? "" : entry}: the public API differs from api/${entry}.api.md — run \`npm run api\` and review the change:\n${output.trim().split("\n").slice(-8).join("\n")}`);
  }
}

/** The exported names of a report, each with its declaration's text (what a change to it shows in). */
function declarations(file) {
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const body = text.slice(text.indexOf("```ts") + 5, text.lastIndexOf("```"));
  const found = new Map();
  // A declaration runs from its `// @public` tag to the next one.
  for (const block of body.split(/^\/\/ @public\n/m).slice(1)) {
    // A name the report had to rename (`Foo_2`) is exported as `export { Foo_2 as Foo }`.
    const name = /^export (?:declare )?(?:abstract )?(?:function|class|const|let|type|interface|enum|namespace) ([\w$]+)/m.exec(block)?.[1] ?? /^export \{ [\w$]+ as ([\w$]+) \}/m.exec(block)?.[1];
    if (name !== undefined) found.set(name, block.split(/\/\/ Warnings were encountered|\/\/ \(No @packageDocumentation/)[0].replace(/\/\/ Warning:.*\n(\/\/\n)?/g, "").trim());
  }
  return found;
}

// The previous release's reports: the newest folder under api/ named like a version.
const releases = readdirSync(join(root, "api"), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && /^\d+\.\d+\.\d+$/.test(entry.name))
  .map((entry) => entry.name)
  .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
const previous = releases.at(-1);
if (previous !== undefined) {
  const changelog = readFileSync(join(root, "CHANGELOG.md"), "utf8");
  const unreleased = changelog.slice(changelog.indexOf("## [Unreleased]"), changelog.indexOf("\n## [", changelog.indexOf("## [Unreleased]") + 1));
  const changed = [];
  for (const entry of ENTRIES) {
    const before = declarations(join(root, "api", previous, `${entry}.api.md`));
    const now = declarations(join(root, "api", `${entry}.api.md`));
    for (const [name, text] of now) if (before.get(name) !== text) changed.push({ entry, name, how: before.has(name) ? "changed" : "added" });
    for (const name of before.keys()) if (!now.has(name)) changed.push({ entry, name, how: "removed" });
  }
  const missing = changed.filter(({ name }) => !unreleased.includes(`\`${name}\``));
  for (const { entry, name, how } of missing) {
    problems.push(`x3m-system/${entry === "core" ? "" : entry}: \`${name}\` was ${how} since ${previous}, and the CHANGELOG's Unreleased section does not name it`);
  }
  if (missing.length === 0) console.log(`api-report: ${changed.length} names changed since ${previous}, each named in the CHANGELOG.`);
}

if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
const counts = ENTRIES.map((entry) => `${entry} ${declarations(join(root, "api", `${entry}.api.md`)).size}`);
console.log(`api-report: the public API matches api/*.api.md (${counts.join(", ")}).`);
