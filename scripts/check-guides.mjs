#!/usr/bin/env node
// Guides that stand alone and compile. For README.md and every guides/*.md:
//
// - every TypeScript block is type-checked (the fences are described in scripts/guide-blocks.mjs),
//   twice: with the tsconfig getting-started.md shows a Worker project (types from
//   @cloudflare/workers-types), and with `wrangler types` (the runtime's types and an Env from the
//   document's own wrangler.toml block, else from the demo's);
// - a block imports only the package's entry points (`x3m-system`, `…/objects`, `…/worker`,
//   `…/pages`, `…/client`), the runtime's modules (`cloudflare:*`, `node:*`), packages a guide
//   tells its reader to install (`npm install …` in a sh block), and files of its own document's
//   app (```ts file=…): never the repository's own files (`./examples/…`), so that what a reader
//   copies works in a project that depends on the package alone;
// - the prose names only the public API: a name in backticks that the library exports from a
//   module but not from an entry point (plumbing) is reported.
//
// The package's entry points resolve to this repository's sources; .ci/consumer-check builds the
// documents' apps against the packed tarball instead.
//
// Usage: node scripts/check-guides.mjs        (exit 1 with the problems when there are any)
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { blocksOf, installedBy, packageOf } from "./guide-blocks.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, ".guides-check");
const documents = ["README.md", ...readdirSync(join(root, "guides")).filter((name) => name.endsWith(".md")).sort().map((name) => `guides/${name}`)];
const ENTRY_POINTS = {
  "x3m-system": "src/core/index.ts",
  "x3m-system/objects": "src/objects/index.ts",
  "x3m-system/worker": "src/worker/index.ts",
  "x3m-system/client": "src/client/index.ts",
  "x3m-system/pages": "src/pages/index.ts",
};
const problems = [];

// What a reader is told to install, in any guide (getting-started's install step, a recipe's).
const installed = new Set(documents.flatMap((document) => [...installedBy(root, document)]));

rmSync(out, { recursive: true, force: true });
let checkedModules = 0;
for (const document of documents) {
  const { modules, files } = blocksOf(root, document);
  const tsFiles = [...files].filter(([path]) => /\.tsx?$/.test(path));
  if (modules.length === 0 && tsFiles.length === 0) continue;
  const project = join(out, document.replace(/[^a-z0-9]+/gi, "-"));
  // Where each checked file came from, to point errors at the document's lines.
  const origins = new Map();
  for (const [path, file] of files) {
    const target = join(project, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.text);
    if (/\.tsx?$/.test(path)) origins.set(path, { line: file.line });
  }
  for (const module of modules) {
    const path = `blocks/${module.name}.ts`;
    mkdirSync(join(project, "blocks"), { recursive: true });
    // `export {}` makes every block a module, so that two blocks may both declare `account`.
    writeFileSync(join(project, path), `${module.code}\nexport {};\n`);
    origins.set(path, { line: module.line, marked: true });
  }
  checkedModules += modules.length + tsFiles.length;

  // What the blocks import.
  for (const path of origins.keys()) {
    const code = readFileSync(join(project, path), "utf8");
    for (const match of code.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gm)) {
      const specifier = match[1] ?? match[2];
      const where = `${document} (${path.startsWith("blocks/") ? `block at line ${origins.get(path).line}` : path})`;
      if (specifier.startsWith(".")) {
        const resolved = join(dirname(join(project, path)), specifier).replace(/\.js$/, ".ts");
        if (!existsSync(resolved)) problems.push(`${where}: imports ${specifier}, which is not a file of this document's app — a guide must stand alone`);
      } else if (!(specifier in ENTRY_POINTS) && !specifier.startsWith("cloudflare:") && !specifier.startsWith("node:") && !installed.has(packageOf(specifier))) {
        problems.push(`${where}: imports ${specifier}, which no guide tells its reader to install (npm install …)`);
      }
    }
  }

  const paths = Object.fromEntries(Object.entries(ENTRY_POINTS).map(([name, file]) => [name, [relative(project, join(root, file))]]));
  // The tsconfig getting-started.md shows a Worker project, plus what this check needs.
  const shown = { target: "ES2022", module: "ESNext", moduleResolution: "Bundler", lib: ["ESNext"], strict: true, noEmit: true, skipLibCheck: true, allowImportingTsExtensions: true, paths };
  const checked = [...origins.keys()];
  const typecheck = (variant, compilerOptions, extraFiles = []) => {
    const config = join(project, `tsconfig.${variant}.json`);
    writeFileSync(config, JSON.stringify({ compilerOptions, files: [...extraFiles, ...checked] }, null, 2));
    try {
      execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", config], { cwd: project, stdio: "pipe" });
    } catch (failure) {
      const text = `${failure.stdout ?? ""}${failure.stderr ?? ""}`;
      for (const line of text.split("\n").filter((row) => row.trim() !== "")) problems.push(`[${variant}] ${locate(line, project, origins, document)}`);
    }
  };
  // Test blocks import `cloudflare:test`, whose types come with the vitest plugin.
  const testTypes = "@cloudflare/vitest-plugin/types";
  typecheck("workers-types", { ...shown, types: ["@cloudflare/workers-types", testTypes] });
  // `wrangler types`: Env from the document's wrangler.toml (else the demo's), and the runtime types.
  const types = files.has("wrangler.toml") ? wranglerTypes(join(project, "wrangler.toml"), join(project, "worker-configuration.d.ts")) : demoTypes();
  typecheck("wrangler-types", { ...shown, types: [testTypes] }, [relative(project, types)]);
}

/** Writes what `wrangler types` generates from `config` to `target`, and answers `target`. */
function wranglerTypes(config, target) {
  execFileSync(join(root, "node_modules/.bin/wrangler"), ["types", target, "-c", config], {
    cwd: dirname(config),
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  return target;
}

/** The demo's generated types, made once for every document without a wrangler.toml of its own. */
function demoTypes() {
  const target = join(out, "demo-worker-configuration.d.ts");
  return existsSync(target) ? target : wranglerTypes(join(root, "wrangler.toml"), target);
}

/** A tsc error line, pointed at the document and line its code came from. */
function locate(line, project, origins, document) {
  return line.replace(/^([^()\s]+\.tsx?)\((\d+),(\d+)\)/, (all, path, row) => {
    const origin = origins.get(path.replace(/\\/g, "/"));
    if (origin === undefined) return all;
    if (!origin.marked) return `${document}:${origin.line + Number(row) - 1} (${path})`;
    // A block's module joins several blocks; each starts with a `// --- document:line` marker.
    const lines = readFileSync(join(project, path), "utf8").split("\n").slice(0, Number(row));
    const marker = lines.map((text, i) => ({ text, i })).filter(({ text }) => text.startsWith("// --- ")).at(-1);
    const start = Number((marker?.text ?? `:${origin.line}`).split(":").at(-1));
    return `${document}:${start + Number(row) - (marker?.i ?? 0) - 2}`;
  });
}

// The prose names only the public API.
const walk = (dir) => readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? walk(join(dir, name)) : name.endsWith(".ts") ? [join(dir, name)] : []));
const exported = new Set();
for (const file of walk(join(root, "src"))) {
  for (const match of readFileSync(file, "utf8").matchAll(/^export (?:declare )?(?:async )?(?:abstract )?(?:function\*?|class|const|let|type|interface|enum) ([A-Za-z_$][\w$]*)/gm)) exported.add(match[1]);
}
const names = (file) => [...readFileSync(file, "utf8").matchAll(/^export (?:declare )?(?:abstract )?(?:function|class|const|let|type|interface|enum|namespace) ([\w$]+)|^export \{ [\w$]+ as ([\w$]+) \}/gm)].map((match) => match[1] ?? match[2]);
const reports = readdirSync(join(root, "api")).filter((name) => name.endsWith(".api.md"));
const publicNames = new Set(reports.flatMap((name) => names(join(root, "api", name))));
// Concepts a guide names in words that are also classes an app defines (`class AggregateObject`).
const CONCEPTS = new Set(["AggregateObject", "SchedulerObject"]);
for (const document of documents) {
  let fenced = false;
  readFileSync(join(root, document), "utf8").split("\n").forEach((line, index) => {
    if (line.startsWith("```")) fenced = !fenced;
    if (fenced) return;
    for (const quoted of line.matchAll(/`+([^`]+)`+/g)) {
      for (const word of quoted[1].matchAll(/[A-Za-z_$][\w$]*/g)) {
        const name = word[0];
        if (exported.has(name) && !publicNames.has(name) && !CONCEPTS.has(name)) {
          problems.push(`${document}:${index + 1}: \`${name}\` is not part of the public API (api/*.api.md): say what it does, or export it`);
        }
      }
    }
  });
}

if (problems.length > 0) {
  console.error(problems.join("\n"));
  console.error(`\nscripts/check-guides.mjs: the documents do not stand alone or do not compile (${checkedModules} TypeScript blocks and files in ${documents.length} documents).`);
  process.exit(1);
}
console.log(`check-guides: ${checkedModules} TypeScript blocks and files in ${documents.length} documents compile on their own, with @cloudflare/workers-types and with wrangler types; their prose names only the public API.`);
