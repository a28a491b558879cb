#!/usr/bin/env node
// Source rules that the type checker does not enforce, checked in CI:
// 1. src/core imports nothing from `cloudflare:*` or `node:*` (it must run on Deno, Bun, Node),
//    and dependencies point inward, room by room: core at the centre; protocol (the fetch
//    protocol kit) on it; objects (the runtime's classes) and worker (a Worker's wiring, free of
//    `cloudflare:*` so that a gateway runs in a unit test) on those; pages (the opt-in browser
//    side) on worker. worker imports neither objects nor pages; nothing imports pages. Inside the core, the
//    wings depend only on what is beneath them: shared ← messaging ← scheduling ← aggregates ←
//    readside (aggregates schedule their follow-ups; the scheduler knows nothing of aggregates).
// 2. Every top-level export in src/ carries a JSDoc comment.
// 3. No `any` in src/ (the public API is typed; use `unknown` and narrow).
// 4. Every telemetry event (src/core/messaging/telemetry.ts) is documented in guides/.
// 5. src/client (the typed HTTP client, run in browsers too) imports at run time only its own files:
//    no packages, no cloudflare:* or node:*, and from the rest of src only types (`import type`).
// 6. The browser pages' scripts the Worker serves as text (src/pages/docs-script.ts) are what their
//    TypeScript sources (src/pages/browser/) compile to (scripts/browser-scripts.mjs).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { staleBrowserScripts } from "./browser-scripts.mjs";

const root = new URL("..", import.meta.url).pathname;

function filesUnder(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return filesUnder(path);
    return path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

/** Source text with comments and string contents blanked out, line structure kept. */
function codeOnly(text) {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$|(["'`])(?:\\.|(?!\1)[^\\\n])*\1/gm, (match) =>
    match.replace(/[^\n]/g, " "),
  );
}

/** Which rooms of src each room may import (besides its own files). */
const allowedRooms = {
  core: [],
  protocol: ["core"],
  objects: ["core", "protocol"],
  worker: ["core", "protocol"],
  pages: ["core", "protocol", "worker"],
  client: ["core"],
};

/** Which core wings each wing may import (besides its own files). */
const allowedWings = {
  shared: [],
  messaging: ["shared"],
  scheduling: ["shared", "messaging"],
  aggregates: ["shared", "messaging", "scheduling"],
  readside: ["shared", "messaging", "scheduling", "aggregates"],
};

const problems = [];
const report = (file, line, message) => problems.push(`${relative(root, file)}:${line}: ${message}`);

for (const file of filesUnder(join(root, "src"))) {
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n");
  const code = codeOnly(text).split("\n");
  const room = /^src\/(\w+)\//.exec(relative(root, file))?.[1];
  const inCore = room === "core";

  lines.forEach((line, index) => {
    if (inCore && /(from\s+|import\s*\(\s*|require\s*\(\s*)["'](cloudflare:|node:)/.test(line)) {
      report(file, index + 1, "src/core must not import cloudflare:* or node:* modules");
    }
    // Import lines only (a doc comment may show an import).
    const into = /^\s*(?:\*|\/\/)/.test(line) ? undefined : /from\s+["'](?:\.\.\/)+(core|protocol|objects|worker|pages|client)\//.exec(line)?.[1];
    if (room !== undefined && into !== undefined && into !== room && !(allowedRooms[room] ?? []).includes(into)) {
      report(file, index + 1, `src/${room} must not import src/${into}`);
    }
    if (room === "worker" && /from\s+["']cloudflare:/.test(line)) report(file, index + 1, "src/worker must not import cloudflare:* (its classes are in src/objects)");
    const wing = /^src\/core\/(\w+)\//.exec(relative(root, file))?.[1];
    const imported = /from\s+["']\.\.\/(\w+)\//.exec(line)?.[1];
    if (wing !== undefined && imported !== undefined && !(allowedWings[wing] ?? []).includes(imported)) {
      report(file, index + 1, `src/core/${wing} must not import src/core/${imported}`);
    }
    if (/(^|[:<,|(&=]|\bas)\s*any\b(?!\w)/.test(code[index] ?? "")) {
      report(file, index + 1, "`any` is not allowed in src/ (use unknown and narrow)");
    }
    const exported = /^export\s+(?:declare\s+)?(?:abstract\s+)?(const|let|function|async\s+function|class|type|interface|enum)\s+(\w+)/.exec(line);
    if (exported !== null) {
      let previous = index - 1;
      while (previous >= 0 && /^\s*@/.test(lines[previous] ?? "")) previous -= 1;
      if (!/\*\/\s*$/.test(lines[previous] ?? "")) report(file, index + 1, `export ${exported[2]} has no JSDoc comment`);
    }
  });
}

for (const file of filesUnder(join(root, "src/client"))) {
  const text = readFileSync(file, "utf8");
  const lineOf = (index) => text.slice(0, index).split("\n").length;
  for (const match of text.matchAll(/^[ \t]*(import|export)\s+(type\s+)?(?:[^;"']*?\s+from\s+)?["']([^"']+)["']/gm)) {
    const [, , typeOnly, specifier] = match;
    if (specifier.startsWith("./")) continue;
    if (!specifier.startsWith("../")) report(file, lineOf(match.index), `src/client must not import ${specifier} (it runs on fetch alone)`);
    else if (typeOnly === undefined) report(file, lineOf(match.index), `src/client may import only types from ${specifier} (use import type)`);
  }
  for (const match of text.matchAll(/\b(?:import|require)\s*\(/g)) report(file, lineOf(match.index), "src/client must not load modules dynamically");
}

const telemetrySource = readFileSync(join(root, "src/core/messaging/telemetry.ts"), "utf8");
const eventMap = telemetrySource.slice(telemetrySource.indexOf("export type TelemetryEventMap = {"));
const eventNames = [...eventMap.slice(0, eventMap.indexOf("\n};")).matchAll(/^  (\w+): \{/gm)].map((match) => match[1]);
const guides = readdirSync(join(root, "guides")).map((name) => readFileSync(join(root, "guides", name), "utf8")).join("\n");
for (const name of eventNames) {
  if (!guides.includes(`\`${name}\``)) problems.push(`guides/: telemetry event ${name} is not documented`);
}
if (eventNames.length < 9) problems.push("src/core/messaging/telemetry.ts: could not read the telemetry event names");

problems.push(...staleBrowserScripts());

if (problems.length > 0) {
  console.error(problems.join("\n"));
  console.error(`\n${problems.length} problem(s) found by scripts/check-source.mjs`);
  process.exit(1);
}
console.log("check-source: src/core is runtime-agnostic, src/client needs only fetch, dependencies point inward, every export is documented, no `any`, the browser scripts are compiled.");
