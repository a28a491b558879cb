import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  introspectWorkflow,
  introspectWorkflowInstance,
  runDurableObjectAlarm,
  runInDurableObject,
  type WorkflowInstanceIntrospector,
} from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { projectedEvent, type JsonObject } from "../../src/core/index.js";
import { newId } from "../../src/core/shared/ids.js";
import { envelopeOf } from "../../src/core/readside/event-envelope.js";
import { transfers } from "../../examples/bank/services.js";
import { bankReadSide, transferCheck } from "../../examples/bank/read-side.js";
import { TRANSFER_OVERDUE_MS, TRANSFER_SYSTEM } from "../../examples/bank/transfer.js";
import { balanceOf, call, eventually, openAccount, payloadOf, transferInstanceId } from "../support/read-side-helpers.js";
import { libraryLog } from "../support/library-log.js";
import { lostReplies } from "../support/test-read-side.js";

/** What an account logs when it answers a message it already processed. */
const REPLAYED = { level: "info", msg: "message already processed: answering as before, without running it again" } as const;

type Listed = { owner: string; accounts: { id: string; balance: number; status: string }[] };
type Totals = { accounts: number; balance: number; deposited: number; withdrawn: number; today: { day: string; deposits: number; deposited: number } };

/** The caller's accounts among `ids`, as list_accounts shows them (id → balance). */
async function listed(who: "ada" | "bob", ids: readonly string[]): Promise<Record<string, number>> {
  const { accounts } = payloadOf<Listed>(await call("list_accounts", {}, who));
  return Object.fromEntries(accounts.filter((a) => ids.includes(a.id)).map((a) => [a.id, a.balance]));
}

const totals = async () => payloadOf<Totals>(await call("bank_totals", {}));

/** Requests a transfer over HTTP and answers the id of the Workflow instance its event starts. */
async function requestTransfer(from: string, to: string, amount: number, who: "ada" | "bob" = "ada") {
  const transfer_id = `t-${newId()}`;
  const answer = await call("transfer", { transfer_id, from, to, amount }, who);
  expect(answer.body.response).toMatchObject({ status: "created", id: transfer_id, version: 0 });
  return { transfer_id, instanceId: await transferInstanceId(transfer_id) };
}

/** Runs `body` with an introspector of workflow instance `id` (disposed after, as the plugin asks). */
async function withInstance<T>(workflow: Workflow, id: string, body: (instance: WorkflowInstanceIntrospector) => Promise<T>): Promise<T> {
  const instance = await introspectWorkflowInstance(workflow, id);
  try {
    return await body(instance);
  } finally {
    await instance.dispose();
  }
}

/**
 * The output of a completed instance, copied, with the RPC result it came in disposed. The plugin's
 * `getOutput()` answers what the local Workflow binding's `unsafeGetOutputOrError` returns: the
 * result of its own RPC call to the instance's engine (a Durable Object), passed on as it is. workerd
 * gives every object an RPC call returns a disposer, and marks a result whose callee returned an
 * object with a disposer as one the caller must dispose: left to the garbage collector, it makes
 * workerd print "An RPC result was not disposed properly" (once per isolate, whenever GC runs).
 */
async function outputOf(instance: WorkflowInstanceIntrospector): Promise<unknown> {
  const output = await instance.getOutput();
  try {
    return structuredClone(output);
  } finally {
    (output as Partial<Disposable> | null | undefined)?.[Symbol.dispose]?.();
  }
}

/**
 * A transfer of `amount` from a new account holding 100 to a new one, whose process errors after
 * its withdrawal: every try of its deposit step fails while the introspector lives (in every run
 * of the instance). `whileErrored` runs with the instance errored and the introspector alive.
 */
async function stalledTransfer(amount: number, whileErrored?: (instance: WorkflowInstanceIntrospector, transfer: StalledTransfer) => Promise<void>) {
  const from = await openAccount("ada", 100);
  const to = await openAccount("bob");
  const transfer_id = `t-${newId()}`;
  // The instance's id is known only once its event is stored (it depends on when): so every
  // instance made while this introspector lives is modified, and this test makes one.
  const workflow = await introspectWorkflow(env.TRANSFER_WORKFLOW);
  try {
    await workflow.modifyAll(async (m) => {
      await m.disableRetryDelays();
      await m.mockStepError({ name: "deposit" }, new Error("the destination's data centre is gone"));
    });
    expect((await call("transfer", { transfer_id, from, to, amount })).status).toBe(201);
    const instanceId = await transferInstanceId(transfer_id);
    const [instance, ...others] = await eventually(() => workflow.get(), (made) => made.length > 0);
    expect(others).toEqual([]);
    if (instance === undefined) throw new Error("unreachable");
    await instance.waitForStatus("errored");
    expect([await balanceOf(from), await balanceOf(to)]).toEqual([100 - amount, 0]);
    await whileErrored?.(instance, { from, to, transfer_id, instanceId });
    return { from, to, transfer_id, instanceId };
  } finally {
    await workflow.dispose();
  }
}

/** A transfer made by {@link stalledTransfer}: its accounts, its id and its process instance's id. */
type StalledTransfer = { from: string; to: string; transfer_id: string; instanceId: string };

async function eventsOf(account_id: string): Promise<string[]> {
  const page = await env.ACCOUNTS.get(env.ACCOUNTS.idFromName(`account-${account_id}`)).fetch(
    `https://x3m.internal/events?stream=account-${account_id}&from=0&limit=100`,
  );
  return ((await page.json()) as { events: { type: string }[] }).events.map((e) => e.type);
}

describe("the bank's read models, fed through the outbox, the queue and D1", () => {
  it("list_accounts and bank_totals reflect opened accounts and deposits", async () => {
    const before = await totals();
    const a = await openAccount("ada", 70);
    const b = await openAccount("ada");
    await call("deposit", { account_id: b, amount: 5 });
    await call("withdraw", { account_id: a, amount: 20 });

    expect(await eventually(() => listed("ada", [a, b]), (seen) => seen[a] === 50 && seen[b] === 5)).toEqual({ [a]: 50, [b]: 5 });
    // Others' tests deposit too: the totals grew by at least this test's share.
    const after = await eventually(totals, (t) => t.deposited >= before.deposited + 75 && t.withdrawn >= before.withdrawn + 20);
    expect(after.accounts).toBeGreaterThanOrEqual(before.accounts + 2);
    expect(after.today.deposits).toBeGreaterThanOrEqual(2);
    // Bob sees none of Ada's accounts.
    expect(await listed("bob", [a, b])).toEqual({});
  });
});

describe("the bank's operator services", () => {
  it("are admins' only: an anonymous caller is refused 401, Ada 403, and nothing is rebuilt", async () => {
    const anonymous = await exports.default.fetch("http://demo/v1/services/rebuild_projection", { method: "POST", body: JSON.stringify({ projection: "bank_accounts" }) });
    expect(anonymous.status).toBe(401);
    for (const service of ["rebuild_projection", "catch_up_projection", "dead_letters"]) {
      expect((await call(service, { projection: "bank_accounts" }, "ada")).status, service).toBe(403);
    }
  });

  it("a dry run of rebuild_projection or catch_up_projection checks the request and the caller, and changes nothing", async () => {
    const account = await openAccount("ada", 40);
    await eventually(() => listed("ada", [account]), (seen) => seen[account] === 40);
    await env.READ_MODELS.prepare("UPDATE bank_accounts SET balance = -1 WHERE id = ?").bind(account).run();
    for (const service of ["rebuild_projection", "catch_up_projection"]) {
      const dry = await call(service, { projection: "bank_accounts" }, "root", { "X-Dry-Run": "true" });
      expect(dry.status, service).toBe(200);
      expect(payloadOf(dry), service).toEqual({ projection: "bank_accounts", dryRun: true });
      expect((await call(service, { projection: "nope" }, "root", { "X-Dry-Run": "true" })).status, service).toBe(422);
    }
    expect(await listed("ada", [account])).toEqual({ [account]: -1 });
    expect((await call("rebuild_projection", { projection: "bank_accounts" }, "root")).status).toBe(200);
    expect(await listed("ada", [account])).toEqual({ [account]: 40 });
  });

  it("rebuild_projection makes a damaged read model whole again, and names only projections", async () => {
    const account = await openAccount("ada", 30);
    await eventually(() => listed("ada", [account]), (seen) => seen[account] === 30);
    await env.READ_MODELS.prepare("UPDATE bank_accounts SET balance = -1 WHERE id = ?").bind(account).run();
    expect(await listed("ada", [account])).toEqual({ [account]: -1 });
    const rebuilt = await call("rebuild_projection", { projection: "bank_accounts" }, "root");
    expect(rebuilt.status).toBe(200);
    expect(payloadOf<{ subscriber: string; failed: unknown[]; stopped: boolean }>(rebuilt)).toMatchObject({ subscriber: "bank_accounts", failed: [], stopped: false });
    expect(await listed("ada", [account])).toEqual({ [account]: 30 });
    // The process manager is no projection: the service's schema does not even name it.
    expect((await call("rebuild_projection", { projection: "transfers" }, "root")).status).toBe(422);
  });
});

// The Workflows emulator prints an "uncaught exception" for each error that crosses one of its
// boundaries, though its caller handles it: a step that throws to be tried again (the lost
// replies), a process that errors (stalledTransfer, twice per run: the step and the run), a get()
// of an instance that is gone (a check that starts it again: three lines), and its own abort when
// an instance is restarted. These tests provoke each on purpose.
describe("the transfer process on Workflows", () => {
  it("withdraws from one account and deposits to another; list_accounts shows both", async () => {
    const from = await openAccount("ada", 100);
    const to = await openAccount("bob");
    const { transfer_id, instanceId } = await requestTransfer(from, to, 40);
    const output = await withInstance(env.TRANSFER_WORKFLOW, instanceId, async (instance) => {
      await instance.waitForStatus("complete");
      return outputOf(instance);
    });
    expect(output).toEqual({ outcome: "completed" });

    expect([await balanceOf(from), await balanceOf(to)]).toEqual([60, 40]);
    expect(payloadOf<{ status: string }>(await call("get_transfer", { transfer_id })).status).toBe("completed");
    expect(await eventually(() => listed("ada", [from]), (seen) => seen[from] === 60)).toEqual({ [from]: 60 });
    expect(await eventually(() => listed("bob", [to]), (seen) => seen[to] === 40)).toEqual({ [to]: 40 });
  });

  it("a transfer tells its requester nothing that tells a missing destination from a closed one; an admin sees what it answered", async () => {
    const bobs = await openAccount("bob", 100);
    const closed = await openAccount("ada");
    await call("close_account", { account_id: closed }, "ada");
    const missing = `acc-${newId()}`;
    const seen: unknown[] = [];
    for (const to of [closed, missing]) {
      const { transfer_id, instanceId } = await requestTransfer(bobs, to, 1, "bob");
      await withInstance(env.TRANSFER_WORKFLOW, instanceId, (instance) => instance.waitForStatus("complete"));
      const told = await call("get_transfer", { transfer_id }, "bob");
      // Everything Bob is told, but for what he himself chose (the ids).
      const { id: _id, to: _to, ...rest } = payloadOf<Record<string, unknown>>(told);
      seen.push({ http: told.status, version: told.body.response.status === "ok" ? told.body.response.version : null, rest });
      expect((await call("get_account", { account_id: to }, "bob")).status).toBe(404);
      expect(payloadOf<{ refusal?: string }>(await call("get_transfer", { transfer_id }, "root")).refusal).toBe(to === closed ? "the account is closed" : "not_found");
    }
    expect(seen[0]).toEqual(seen[1]);
    expect(seen[0]).toMatchObject({ http: 200, rest: { status: "failed", refunded: true, reason: "the destination did not take the transfer" } });
    expect(await balanceOf(bobs)).toBe(100);
  });

  it("refunds the source when the destination is closed", async () => {
    const from = await openAccount("ada", 100);
    const to = await openAccount("bob");
    await call("close_account", { account_id: to }, "bob");
    const { transfer_id, instanceId } = await requestTransfer(from, to, 30);
    const output = await withInstance(env.TRANSFER_WORKFLOW, instanceId, async (instance) => {
      await instance.waitForStatus("complete");
      return outputOf(instance);
    });

    expect(output).toEqual({ outcome: "refunded", reason: "the destination did not take the transfer" });
    expect(await balanceOf(from)).toBe(100);
    expect(await eventsOf(from)).toEqual(["AccountOpened", "MoneyDeposited", "MoneyWithdrawn", "MoneyDeposited"]);
    expect(payloadOf<{ status: string; refunded: boolean }>(await call("get_transfer", { transfer_id }))).toMatchObject({ status: "failed", refunded: true });
  });

  it("a TransferRequested delivered again — even after the consumer lost its checkpoint — starts no second workflow and moves no money twice", async () => {
    const from = await openAccount("ada", 100);
    const to = await openAccount("bob");
    const { transfer_id, instanceId } = await requestTransfer(from, to, 25);
    await withInstance(env.TRANSFER_WORKFLOW, instanceId, (instance) => instance.waitForStatus("complete"));

    const page = await transfers.readStream(env, `transfer-${transfer_id}`, { from: 0, limit: 10 });
    const envelope = envelopeOf(projectedEvent("transfer", `transfer-${transfer_id}`, page.events[0]!), new Date().toISOString()).envelope;
    await env.READ_MODELS.prepare("DELETE FROM x3m_checkpoints WHERE subscriber = 'transfers' AND stream = ?").bind(`transfer-${transfer_id}`).run();
    for (let round = 0; round < 3; round += 1) {
      const batch = createMessageBatch("x3m-bank-events", [{ id: newId(), timestamp: new Date(), attempts: 2, body: envelope }]);
      const ctx = createExecutionContext();
      await bankReadSide.queue(batch, env, ctx);
      expect((await getQueueResult(batch, ctx)).explicitAcks).toHaveLength(1);
    }

    const instance = await env.TRANSFER_WORKFLOW.get(instanceId);
    try {
      expect(await instance.status()).toMatchObject({ status: "complete" });
    } finally {
      // An RPC stub: disposed, so that the runtime need not warn about it.
      (instance as unknown as Partial<Disposable>)[Symbol.dispose]?.();
    }
    expect([await balanceOf(from), await balanceOf(to)]).toEqual([75, 25]);
    expect(await eventsOf(from)).toEqual(["AccountOpened", "MoneyDeposited", "MoneyWithdrawn"]);
  });

  it("steps whose replies are lost after their commands applied are retried by Workflows with the same message ids: applied once", async () => {
    const from = await openAccount("ada", 100);
    const to = await openAccount("bob");
    const instanceId = `flaky-${newId()}`;
    const input: JsonObject = { transfer_id: `ghost-${newId()}`, from, to, amount: 35, by: "ada" };
    const trigger = { stream: "transfer", streamName: "transfer-ghost", version: 0, type: "TransferRequested", messageId: newId(), correlationId: newId() };
    await withInstance(env.FLAKY_TRANSFER_WORKFLOW, instanceId, async (instance) => {
      await instance.modify(async (m) => m.disableRetryDelays());
      (await env.FLAKY_TRANSFER_WORKFLOW.create({ id: instanceId, params: { input, trigger } }) as unknown as Partial<Disposable>)[Symbol.dispose]?.();
      await instance.waitForStatus("complete");
    });

    expect(lostReplies.has(`${instanceId}:withdraw`) && lostReplies.has(`${instanceId}:deposit`)).toBe(true);
    // Each step tried again was answered from the account's record, and logged so.
    expect(libraryLog.take({ ...REPLAYED, fields: { stream: `account-${from}`, messageId: `${instanceId}:withdraw` } })).toHaveLength(1);
    expect(libraryLog.take({ ...REPLAYED, fields: { stream: `account-${to}`, messageId: `${instanceId}:deposit` } })).toHaveLength(1);
    expect([await balanceOf(from), await balanceOf(to)]).toEqual([65, 35]);
    expect(await eventsOf(from)).toEqual(["AccountOpened", "MoneyDeposited", "MoneyWithdrawn"]);
    expect(await eventsOf(to)).toEqual(["AccountOpened", "MoneyDeposited"]);
  });

  it("each transfer schedules its own check with its request, and settling the transfer cancels it", async () => {
    const from = await openAccount("ada", 100);
    const to = await openAccount("bob");
    const { transfer_id, instanceId } = await requestTransfer(from, to, 10);
    await withInstance(env.TRANSFER_WORKFLOW, instanceId, (instance) => instance.waitForStatus("complete"));
    const page = await transfers.readStream(env, `transfer-${transfer_id}`, { from: 0, limit: 10 });
    expect(page.events.map((event) => event.type)).toEqual(["TransferRequested", "TransferCompleted"]);
    expect(page.followUps).toEqual([]);
    expect(await transferCheck.check(env, transfer_id)).toEqual({ settled: true });
    expect([await balanceOf(from), await balanceOf(to)]).toEqual([90, 10]);
  });

  it("a stalled transfer's check, delivered from its own alarm as the transfers' system, revives its process: the money arrives once", async () => {
    // The plugin removes an introspected instance with its introspector: the transfer's process is gone.
    const { from, to, transfer_id, instanceId } = await stalledTransfer(40);
    const stub = env.TRANSFERS.get(env.TRANSFERS.idFromName(`transfer-${transfer_id}`));
    const { events, followUps } = await transfers.readStream(env, `transfer-${transfer_id}`, { from: 0, limit: 10 });
    expect(followUps).toEqual([
      { id: `transfer-${transfer_id}:0:check`, name: "check", service: "check_transfer", nextAttemptAt: expect.any(String), attempts: 0, recurrence: null, owner: TRANSFER_SYSTEM.user },
    ]);
    // Due TRANSFER_OVERDUE_MS after the transfer was decided (it is stored with that event, stamped a moment later).
    const dueAfterRequest = Date.parse(followUps[0]?.nextAttemptAt ?? "") - Date.parse(events[0]?.recordedAt ?? "");
    expect(dueAfterRequest).toBeGreaterThan(TRANSFER_OVERDUE_MS - 1000);
    expect(dueAfterRequest).toBeLessThanOrEqual(TRANSFER_OVERDUE_MS);
    // The half minute passes: the transfer's alarm delivers its check.
    await runInDurableObject(stub, (_object, state) => state.storage.sql.exec("UPDATE schedules SET due_at = 0"));
    await runDurableObjectAlarm(stub);
    // The check started the process again (its instance was gone), and is due again in case this
    // run stalls too: the scheduler logs that it will deliver it again, with the check's answer.
    const check = `transfer-${transfer_id}:0:check`;
    expect(libraryLog.take({ level: "warn", msg: "scheduled message will be delivered again", fields: { messageId: check } })).toMatchObject([
      { fields: { service: "check_transfer", response: { status: "ok", payload: { settled: false, revived: "started" } } } },
    ]);
    await eventually(async () => payloadOf<{ status: string }>(await call("get_transfer", { transfer_id })).status, (status) => status === "completed");
    expect([await balanceOf(from), await balanceOf(to)]).toEqual([60, 40]);
    expect(await eventsOf(from)).toEqual(["AccountOpened", "MoneyDeposited", "MoneyWithdrawn"]);
    // The run again withdrew with the same message id: answered from the account's record.
    expect(libraryLog.take({ ...REPLAYED, fields: { stream: `account-${from}`, messageId: `${instanceId}:withdraw` } })).toHaveLength(1);
    // Completing the transfer cancelled the check (had it been delivered again, it would find it settled).
    await eventually(async () => (await transfers.readStream(env, `transfer-${transfer_id}`, { from: 0, limit: 10 })).followUps, (left) => left.length === 0);
  });

  it("a check on a transfer whose process errored after its withdrawal restarts its Workflow instance", async () => {
    const { from, to, transfer_id } = await stalledTransfer(25, async (instance, { from, transfer_id, instanceId }) => {
      expect(payloadOf<{ status: string }>(await call("get_transfer", { transfer_id })).status).toBe("requested");
      expect(await transferCheck.check(env, transfer_id)).toEqual({ settled: false, revived: "restarted" });
      // The run again withdraws with the same message id: answered from the account's record
      // (then its deposit fails again, while the introspector lives).
      const replayed = await libraryLog.takeWhenLogged({ ...REPLAYED, fields: { stream: `account-${from}`, messageId: `${instanceId}:withdraw` } });
      expect(replayed).toHaveLength(1);
      await instance.waitForStatus("errored");
    });
    expect([await balanceOf(from), await balanceOf(to)]).toEqual([75, 0]);
    expect(await eventsOf(from)).toEqual(["AccountOpened", "MoneyDeposited", "MoneyWithdrawn"]);
    expect(payloadOf<{ status: string }>(await call("get_transfer", { transfer_id })).status).toBe("requested");
  });

  it("a check on a transfer whose process instance is gone starts it again: the money arrives, withdrawn once", async () => {
    // The plugin removes an introspected instance with its introspector: the transfer's process is
    // gone, and the check starts it again.
    const { from, to, transfer_id, instanceId } = await stalledTransfer(40);
    expect(await transferCheck.check(env, transfer_id)).toEqual({ settled: false, revived: "started" });
    await eventually(async () => payloadOf<{ status: string }>(await call("get_transfer", { transfer_id })).status, (status) => status === "completed");
    expect([await balanceOf(from), await balanceOf(to)]).toEqual([60, 40]);
    expect(await eventsOf(from)).toEqual(["AccountOpened", "MoneyDeposited", "MoneyWithdrawn"]);
    expect(await eventsOf(to)).toEqual(["AccountOpened", "MoneyDeposited"]);
    expect(libraryLog.take({ ...REPLAYED, fields: { stream: `account-${from}`, messageId: `${instanceId}:withdraw` } })).toHaveLength(1);
  });
});
