#!/usr/bin/env node
// The demo under `wrangler dev`, killed (kill -9) in the middle of work and started again: does
// everything settle, exactly once, without any new command? A check from outside, over HTTP, as
// a user would make it. Not part of `npm test` (it takes minutes); run it by hand:
//
//   node scripts/with-node.mjs node smoke/restart.mjs [transfers|deposits] [count=30] [killAfterMs=150]
//
// 1. starts the demo (bin/x3m-dev.mjs, which fires the sweep's Cron Trigger) on a fresh state;
// 2. opens accounts for ada and bob, then requests `count` transfers at once — or, with
//    `deposits`, makes `count` deposits at once (no later event comes for their streams: only the
//    sweep can deliver one whose queue message was lost);
// 3. kills the dev server's whole process group with SIGKILL `killAfterMs` after the last answer;
// 4. starts it again on the same state and, without sending any command, polls until every
//    transfer is settled, the money adds up (each transfer applied once) and the read models
//    (list_accounts, bank_totals) equal the accounts — or gives up after 5 minutes.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const mode = process.argv[2] === "deposits" ? "deposits" : "transfers";
const transfers = mode === "transfers" ? Number(process.argv[3] ?? 30) : 0;
const deposits = mode === "deposits" ? Number(process.argv[3] ?? 30) : 0;
const killAfterMs = Number(process.argv[4] ?? 150);
const port = 8700 + Math.floor(Math.random() * 200);
const state = mkdtempSync(join(tmpdir(), "x3m-restart-"));
const base = `http://127.0.0.1:${port}`;
const ADA = "Bearer dev-ada";
const BOB = "Bearer dev-bob";
const ROOT = "Bearer dev-root";
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const started = Date.now();
const at = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

function migrate() {
  const result = spawnSync("npx", ["wrangler", "d1", "migrations", "apply", "x3m-bank-read-models", "--local", "--persist-to", state], {
    env: { ...process.env, CI: "true" },
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(result.stderr);
}

/** Starts the demo in its own process group (so that a kill takes workerd with it). */
function start(round) {
  const log = openSync(join(state, `dev-${round}.log`), "a");
  const child = spawn(
    process.execPath,
    ["bin/x3m-dev.mjs", "--port", String(port), "--persist-to", state, "--var", "API_TOKENS:dev-ada=ada,dev-bob=bob,dev-root=root:admin", "--var", "ADMIN_TOKEN:dev-admin"],
    { detached: true, stdio: ["ignore", log, log], env: { ...process.env, X_LOCAL_OBSERVABILITY: "false", WRANGLER_REGISTRY_PATH: join(state, "registry") } },
  );
  return child;
}

async function ready() {
  for (let i = 0; i < 120; i += 1) {
    try {
      if ((await fetch(`${base}/v1/health`)).ok) return;
    } catch {}
    await sleep(500);
  }
  throw new Error("the dev server did not start");
}

async function call(service, body, token = ADA) {
  const answer = await fetch(`${base}/v1/services/${service}`, { method: "POST", headers: { Authorization: token }, body: JSON.stringify(body) });
  return { status: answer.status, body: await answer.json() };
}

const payload = (reply) => reply.body.response.payload;

async function main() {
  migrate();
  let dev = start(1);
  await ready();
  console.log(`${at()}: demo up on ${base}, state in ${state}`);
  const from = [];
  const to = [];
  for (let i = 0; i < 6; i += 1) {
    const a = `ada-${i}`;
    const b = `bob-${i}`;
    await call("open_account", { account_id: a }, ADA);
    await call("deposit", { account_id: a, amount: 1000 }, ADA);
    await call("open_account", { account_id: b }, BOB);
    from.push(a);
    to.push(b);
  }
  const plan = Array.from({ length: transfers }, (_, i) => ({ transfer_id: `t-${i}`, from: from[i % from.length], to: to[(i * 7) % to.length], amount: 1 + (i % 9) }));
  // One deposit into each of `deposits` accounts of bob's: every stream gets one last event.
  const many = Array.from({ length: deposits }, (_, i) => `bob-many-${i}`);
  await Promise.all(many.map((account_id) => call("open_account", { account_id }, BOB)));
  to.push(...many);
  const deposited = many.map((account_id, i) => ({ account_id, amount: 1 + (i % 5) }));
  // What ada's and bob's accounts should hold in all once everything settled.
  const bobDeposits = deposited.reduce((sum, d) => sum + d.amount, 0);
  // Let the accounts' own events reach the read models first (nothing is lost before the kill).
  await sleep(3000);
  const answers = await Promise.all([...plan.map((t) => call("transfer", t, ADA)), ...deposited.map((d) => call("deposit", d, BOB))]);
  const lastAnswer = Date.now();
  const accepted = answers.filter((a) => a.status === 201 || a.status === 200).length;
  await sleep(Math.max(0, lastAnswer + killAfterMs - Date.now()));
  process.kill(-dev.pid, "SIGKILL");
  console.log(`${at()}: ${accepted}/${answers.length} ${mode} accepted; dev server killed (SIGKILL) ${Date.now() - lastAnswer} ms after the last answer`);
  await sleep(1000);

  dev = start(2);
  await ready();
  const restarted = Date.now();
  console.log(`${at()}: restarted; no command is sent from now on, only reads`);
  for (;;) {
    const statuses = await Promise.all(plan.map(async (t) => payload(await call("get_transfer", { transfer_id: t.transfer_id }, ROOT))?.status));
    const settled = statuses.filter((s) => s === "completed" || s === "failed").length;
    const completed = plan.filter((_, i) => statuses[i] === "completed");
    const balances = Object.fromEntries(
      await Promise.all([...from, ...to].map(async (id) => [id, payload(await call("get_account", { account_id: id }, ROOT)).balance])),
    );
    const moved = completed.reduce((sum, t) => sum + t.amount, 0);
    const adaSum = from.reduce((sum, id) => sum + balances[id], 0);
    const bobSum = to.reduce((sum, id) => sum + balances[id], 0);
    // Each completed transfer applied once, each failed one refunded (or never withdrawn).
    const exactlyOnce = adaSum === 6000 - moved && bobSum === moved + bobDeposits;
    const listed = [...payload(await call("list_accounts", {}, ADA)).accounts, ...payload(await call("list_accounts", {}, BOB)).accounts];
    const readModelsMatch = [...from, ...to].every((id) => listed.find((row) => row.id === id)?.balance === balances[id]);
    const totals = payload(await call("bank_totals", {}, ADA));
    const totalsMatch = totals.balance === adaSum + bobSum;
    const waited = ((Date.now() - restarted) / 1000).toFixed(0);
    console.log(
      `${at()} (${waited} s after restart): settled ${settled}/${transfers} (completed ${completed.length}), money ${exactlyOnce ? "adds up" : `does not add up: ada ${adaSum}, bob ${bobSum}, moved ${moved}, deposited ${bobDeposits}`}, list_accounts ${readModelsMatch ? "equals" : "differs from"} the accounts, bank_totals ${totals.balance} ${totalsMatch ? "equals" : "differs from"} ${adaSum + bobSum}`,
    );
    if (settled === transfers && exactlyOnce && readModelsMatch && totalsMatch) {
      console.log(`CONVERGED ${waited} s after the restart`);
      break;
    }
    if (Date.now() - restarted > 300_000) {
      console.log("DID NOT CONVERGE within 5 minutes");
      process.exitCode = 1;
      break;
    }
    await sleep(5000);
  }
  process.kill(-dev.pid, "SIGKILL");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
