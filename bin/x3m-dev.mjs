#!/usr/bin/env node
// x3m-dev: `wrangler dev` as a Worker built with x3m-system needs it locally.
//
//   npx x3m-dev [wrangler dev options…]
//
// - It fires the Worker's Cron Triggers on time. `wrangler dev` declares them but never fires them
//   by itself; the read side's sweep (a Cron Trigger) is what makes it converge after a lost queue
//   message, so locally it must run too. Each cron of the first config's `triggers.crons` is
//   fired at its minutes (UTC) through wrangler's local endpoint `/cdn-cgi/local/scheduled`.
//   The config is the first `--config`/`-c`, else the one wrangler finds: wrangler.json,
//   wrangler.jsonc or wrangler.toml here or in a folder above; each of the three forms is read.
// - `--port` and `--ip` default to 8787 and 127.0.0.1, once: `x3m-dev --port 9000` is one port.
// - `--inspector-port` defaults to a free port, so that two dev servers do not collide on 9229.
// - Before it starts, it applies each D1 database's migrations (`d1_databases` entries with a
//   `migrations_dir`, default `migrations/` when that folder exists) to the local database that
//   `wrangler dev` will use — the same `--persist-to`, the same `--env` — as
//   `wrangler d1 migrations apply <binding> --local` would. A migration already applied is not
//   applied again; a failing one stops here, before the dev server starts.
//
// `--help` and `--version` say so and go to `wrangler dev` alone. Everything else goes to
// `wrangler dev` as it is. Needs a Node that wrangler accepts (>= 22.12).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";

const require = createRequire(import.meta.url);
const { Cron } = require("croner");

const args = process.argv.slice(2);

/** The (first) value of `--name value`, `--name=value` or `-short value` in `args`, or undefined. */
function option(name, short) {
  for (let i = 0; i < args.length; i += 1) {
    if (args[i] === `--${name}` || (short !== undefined && args[i] === `-${short}`)) return args[i + 1];
    if (args[i]?.startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

/** A port nothing listens on now. */
function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** JSON with comments and trailing commas (how wrangler reads wrangler.jsonc and wrangler.json). */
function parseJsonc(text) {
  // Strings are matched first, so that what looks like a comment or a comma inside one is kept.
  const string = /"(?:\\.|[^"\\])*"/.source;
  const uncommented = text.replace(new RegExp(`${string}|//[^\\n]*|/\\*[\\s\\S]*?\\*/`, "g"), (match) => (match.startsWith('"') ? match : " "));
  return JSON.parse(uncommented.replace(new RegExp(`${string}|,(\\s*[}\\]])`, "g"), (match, close) => close ?? match));
}

/**
 * What x3m-dev reads of a TOML config, in the shape of a JSON one: `[triggers] crons = [...]` and
 * each `[[d1_databases]]` entry's `binding` and `migrations_dir`.
 */
function parseToml(text) {
  const tables = (header) => [...text.matchAll(new RegExp(`^${header}\\s*$([\\s\\S]*?)(?=^\\[|(?![\\s\\S]))`, "gm"))].map((match) => match[1] ?? "");
  const value = (body, key) => new RegExp(`^\\s*${key}\\s*=\\s*["']([^"']*)["']`, "m").exec(body)?.[1];
  const list = /^\s*crons\s*=\s*\[([\s\S]*?)\]/m.exec(tables("\\[triggers\\]")[0] ?? "")?.[1];
  return {
    triggers: list === undefined ? undefined : { crons: [...list.matchAll(/"([^"]*)"|'([^']*)'/g)].map((match) => match[1] ?? match[2]) },
    d1_databases: tables("\\[\\[d1_databases\\]\\]").map((body) => ({ binding: value(body, "binding"), migrations_dir: value(body, "migrations_dir") })),
  };
}

/**
 * What x3m-dev needs of a wrangler config (wrangler.toml, wrangler.jsonc or wrangler.json), read
 * once, at its top level only (not per environment): its crons (`triggers.crons`), and the
 * bindings of its D1 databases that have migrations to apply (`d1_databases` entries whose
 * `migrations_dir`, default `migrations`, exists beside the config).
 */
function readConfig(path) {
  let raw;
  try {
    const text = readFileSync(path, "utf8");
    raw = /\.toml$/.test(path) ? parseToml(text) : /\.jsonc?$/.test(path) ? parseJsonc(text) : {};
  } catch (error) {
    // wrangler dev reports an unreadable config itself, better than this could.
    if (existsSync(path)) console.error(`x3m-dev: could not read ${path} (${error instanceof Error ? error.message : error}); no crons fired, no migrations applied`);
    return { crons: [], databases: [] };
  }
  const crons = Array.isArray(raw?.triggers?.crons) ? raw.triggers.crons.filter((cron) => typeof cron === "string") : [];
  const databases = (Array.isArray(raw?.d1_databases) ? raw.d1_databases : [])
    .filter((database) => typeof database?.binding === "string")
    .filter((database) => existsSync(resolve(dirname(path), database.migrations_dir ?? "migrations")))
    .map((database) => database.binding);
  return { crons, databases };
}

/** The config wrangler reads without `--config`: the first of these found here or in a folder above. */
function defaultConfig() {
  for (let folder = process.cwd(); ; folder = dirname(folder)) {
    const found = ["wrangler.json", "wrangler.jsonc", "wrangler.toml"].map((name) => join(folder, name)).find((path) => existsSync(path));
    if (found !== undefined || dirname(folder) === folder) return found;
  }
}

const config = option("config", "c") ?? defaultConfig();
const { crons, databases } = config === undefined ? { crons: [], databases: [] } : readConfig(resolve(config));
const ip = option("ip") ?? "127.0.0.1";
const port = option("port") ?? "8787";
const extra = [];
if (option("ip") === undefined) extra.push("--ip", ip);
if (option("port") === undefined) extra.push("--port", port);
if (option("inspector-port") === undefined) extra.push("--inspector-port", String(await freePort()));

// The project's own wrangler (its package.json is exported; its bin is not).
const wranglerPackage = require.resolve("wrangler/package.json", { paths: [process.cwd()] });
const wrangler = join(dirname(wranglerPackage), JSON.parse(readFileSync(wranglerPackage, "utf8")).bin.wrangler);
// Asked for help or a version: wrangler dev's, after what this adds; nothing is applied or started.
if (args.some((arg) => ["--help", "-h", "--version", "-v"].includes(arg))) {
  console.log("x3m-dev: `wrangler dev` that applies each D1 database's migrations before it starts and fires the Cron Triggers on time. wrangler dev's own:");
  process.exit(spawnSync(process.execPath, [wrangler, "dev", ...args], { stdio: "inherit", env: process.env }).status ?? 1);
}

for (const binding of databases) {
  const where = [
    ...(config === undefined ? [] : ["-c", config]),
    ...(option("persist-to") === undefined ? [] : ["--persist-to", option("persist-to")]),
    ...(option("env", "e") === undefined ? [] : ["--env", option("env", "e")]),
  ];
  // CI=true: wrangler asks no confirmation before applying.
  const applied = spawnSync(process.execPath, [wrangler, "d1", "migrations", "apply", binding, "--local", ...where], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, CI: "true" },
  });
  if (applied.status !== 0) {
    process.stderr.write(applied.stdout ?? "");
    console.error(`x3m-dev: the D1 migrations of ${binding} could not be applied locally (above); the dev server was not started`);
    process.exit(applied.status ?? 1);
  }
  const done = /No migrations to apply/.test(String(applied.stdout)) ? "up to date" : "migrations applied";
  console.error(`x3m-dev: D1 ${binding} (local): ${done}`);
}

const child = spawn(process.execPath, [wrangler, "dev", ...args, ...extra], { stdio: "inherit", env: process.env });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));

const host = ip === "0.0.0.0" || ip === "::" ? "127.0.0.1" : ip.includes(":") ? `[${ip}]` : ip;
const timers = new Set();

/** Fires `cron` at each of its minutes, for as long as the dev server runs. */
function fire(cron) {
  const next = new Cron(cron, { utcOffset: 0, mode: "5-part" }).nextRun(new Date());
  if (next === null) return;
  const timer = setTimeout(async () => {
    timers.delete(timer);
    try {
      const answer = await fetch(`http://${host}:${port}/cdn-cgi/local/scheduled?cron=${encodeURIComponent(cron)}`);
      await answer.body?.cancel();
      if (!answer.ok) console.error(`x3m-dev: the cron "${cron}" was answered ${answer.status}`);
    } catch {
      // The dev server is still starting, or restarting after a change: the next minute fires again.
    }
    fire(cron);
  }, next.getTime() - Date.now());
  timers.add(timer);
}

if (crons.length > 0) {
  console.error(`x3m-dev: firing the Cron Triggers ${crons.map((c) => `"${c}"`).join(", ")} on time (wrangler dev does not)`);
  for (const cron of crons) fire(cron);
}

child.on("exit", (code, signal) => {
  for (const timer of timers) clearTimeout(timer);
  process.exit(code ?? (signal === null ? 0 : 1));
});
