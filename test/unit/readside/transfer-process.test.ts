import { afterEach, describe, expect, it } from "vitest";
import { aggregateRouter, halt, newMessage, projectedEvent, response, silentLogger, statement, type Message, type ServiceResponse } from "../../../src/core/index.js";
import { eraseAggregate } from "../../../src/core/readside/erasure.js";
import { transfer } from "../../../examples/bank/transfer.js";
import { envelopeOf } from "../../../src/core/readside/event-envelope.js";
import { processInstanceId } from "../../../src/core/readside/process.js";
import { accountsView, bankTotals } from "../../../examples/bank/read-models.js";
import { transferManager } from "../../../examples/bank/transfer-process.js";
import { closeBanks, memoryBank } from "./memory-bank.js";

afterEach(closeBanks);

type Bank = ReturnType<typeof memoryBank>;

async function open(bank: Bank, id: string, user: string, deposit = 0): Promise<void> {
  expect(await bank.call("open_account", { account_id: id }, user)).toMatchObject({ status: "created" });
  if (deposit > 0) expect(await bank.call("deposit", { account_id: id, amount: deposit }, user)).toMatchObject({ status: "ok" });
}

async function balance(bank: Bank, id: string): Promise<number | undefined> {
  const reply = await bank.dispatch(newMessage("get_account", { rawRequest: { account_id: id }, assigns: { identity: { user: "root", admin: true } } }));
  return reply.response?.status === "ok" ? (reply.response.payload as { balance: number }).balance : undefined;
}

/** The bank's transfer process manager over its in-memory processes. */
const manager = (bank: Bank) => transferManager(() => bank.processes);

/** The TransferRequested that started transfer `id`. */
async function requested(bank: Bank, id: string) {
  const page = await bank.transfers.readStream({}, `transfer-${id}`, { from: 0, limit: 1 });
  return projectedEvent("transfer", `transfer-${id}`, page.events[0]!);
}

/** The id of the process instance transfer `id` started (it depends on when its event was recorded). */
async function instanceOf(bank: Bank, id: string): Promise<string> {
  return processInstanceId("transfers", await requested(bank, id));
}

async function eventTypes(bank: Bank, stream: string): Promise<string[]> {
  return (await bank.accounts.readStream({}, stream, { from: 0, limit: 100 })).events.map((e) => e.type);
}

async function transferStatus(bank: Bank, id: string, user: string) {
  const reply = await bank.call("get_transfer", { transfer_id: id }, user);
  return reply?.status === "ok" ? (reply.payload as { status: string; reason?: string; refunded?: boolean; refundOwed?: string }) : reply;
}

describe("the transfer process (in memory: the same process code the Workflow runs)", () => {
  it("moves the money from one account to another, and the read models show both", async () => {
    const bank = memoryBank();
    await open(bank, "ada-1", "ada", 100);
    await open(bank, "bob-1", "bob");
    expect(await bank.call("transfer", { transfer_id: "t1", from: "ada-1", to: "bob-1", amount: 40 })).toMatchObject({ status: "created", id: "t1" });
    await bank.settle();

    expect([await balance(bank, "ada-1"), await balance(bank, "bob-1")]).toEqual([60, 40]);
    expect(await transferStatus(bank, "t1", "ada")).toMatchObject({ status: "completed" });
    expect(bank.processes.status(await instanceOf(bank, "t1"))).toEqual({ status: "complete", output: { outcome: "completed" } });
    expect(await bank.store.query(statement`SELECT id, balance FROM bank_accounts ORDER BY id`)).toEqual([
      { id: "ada-1", balance: 60 },
      { id: "bob-1", balance: 40 },
    ]);
  });

  it("refunds the source when the destination refuses (missing, or closed)", async () => {
    const bank = memoryBank();
    await open(bank, "ada-2", "ada", 100);
    await open(bank, "bob-2", "bob");
    expect(await bank.call("close_account", { account_id: "bob-2" }, "bob")).toMatchObject({ status: "ok" });
    await bank.call("transfer", { transfer_id: "to-missing", from: "ada-2", to: "nobody", amount: 10 });
    await bank.call("transfer", { transfer_id: "to-closed", from: "ada-2", to: "bob-2", amount: 20 });
    await bank.settle();

    expect(await balance(bank, "ada-2")).toBe(100);
    // The requester is told the same of a missing and of a closed destination (which is bob's).
    const told = { status: "failed", refunded: true, reason: "the destination did not take the transfer" };
    const toMissing = await transferStatus(bank, "to-missing", "ada");
    const toClosed = await transferStatus(bank, "to-closed", "ada");
    expect(toMissing).toEqual({ ...told, id: "to-missing", from: "ada-2", to: "nobody", amount: 10, by: "ada", refundOwed: told.reason });
    expect(toClosed).toEqual({ ...told, id: "to-closed", from: "ada-2", to: "bob-2", amount: 20, by: "ada", refundOwed: told.reason });
    // An admin sees what each destination answered.
    const asAdmin = async (transfer_id: string) =>
      (await bank.dispatch(newMessage("get_transfer", { rawRequest: { transfer_id }, assigns: { identity: { user: "root", admin: true }, principal: "root" } }))).response;
    expect(await asAdmin("to-missing")).toMatchObject({ payload: { refusal: "not_found" } });
    expect(await asAdmin("to-closed")).toMatchObject({ payload: { refusal: "the account is closed" } });
    const [totals] = await bank.store.query(statement`SELECT balance, deposited, withdrawn FROM bank_totals`);
    expect(totals).toEqual({ balance: 100, deposited: 130, withdrawn: 30 });
  });

  it("fails without moving anything when the source refuses: not the caller's account, or not enough money", async () => {
    const bank = memoryBank();
    await open(bank, "ada-3", "ada", 10);
    await open(bank, "bob-3", "bob", 50);
    await bank.call("transfer", { transfer_id: "steal", from: "bob-3", to: "ada-3", amount: 50 }, "ada");
    await bank.call("transfer", { transfer_id: "too-much", from: "ada-3", to: "bob-3", amount: 11 }, "ada");
    await bank.settle();

    expect([await balance(bank, "ada-3"), await balance(bank, "bob-3")]).toEqual([10, 50]);
    expect(await transferStatus(bank, "steal", "ada")).toMatchObject({ status: "failed", refunded: false, reason: "the source refused: not_found" });
    expect(await transferStatus(bank, "too-much", "ada")).toMatchObject({ status: "failed", reason: "the source refused: insufficient_funds" });
  });

  it("a redelivered TransferRequested starts no second process; a process run again after a crash applies nothing twice", async () => {
    const bank = memoryBank({ chaos: { duplicate: 1 } });
    await open(bank, "ada-4", "ada", 100);
    await open(bank, "bob-4", "bob");
    await bank.call("transfer", { transfer_id: "t4", from: "ada-4", to: "bob-4", amount: 25 });
    await bank.settle();
    expect(bank.processes.instanceIds).toEqual([await instanceOf(bank, "t4")]);

    // The consumer forgot it started the process (its checkpoint was lost): the event comes again.
    await bank.store.reset("transfers", []);
    const page = await bank.transfers.readStream({}, "transfer-t4", { from: 0, limit: 10 });
    const envelope = envelopeOf(projectedEvent("transfer", "transfer-t4", page.events[0]!), "now").envelope;
    expect(await bank.runner.deliver([{ id: "again", attempts: 1, body: envelope }], bank.scope)).toEqual([{ kind: "ack" }]);
    // And the platform runs the instance's code again from the top.
    expect(await bank.processes.rerun(await instanceOf(bank, "t4"))).toEqual({ status: "complete", output: { outcome: "completed" } });
    await bank.settle();

    expect(bank.processes.instanceIds).toEqual([await instanceOf(bank, "t4")]);
    expect([await balance(bank, "ada-4"), await balance(bank, "bob-4")]).toEqual([75, 25]);
  });

  it("a step whose reply was lost after its command applied is retried with the same message id: applied once", async () => {
    const lost = new Set<string>();
    const bank = memoryBank({
      processDispatch: (dispatch) => async (message: Message) => {
        const reply = await dispatch(message);
        if (lost.has(message.id)) return reply;
        lost.add(message.id);
        const timeout: ServiceResponse = response.serviceTimeout(message.serviceName, message.id, 1);
        return halt(message, timeout);
      },
    });
    await open(bank, "ada-5", "ada", 100);
    await open(bank, "bob-5", "bob");
    await bank.call("transfer", { transfer_id: "t5", from: "ada-5", to: "bob-5", amount: 30 });
    await bank.settle();

    const t5 = await instanceOf(bank, "t5");
    expect([...lost]).toEqual([`${t5}:read`, `${t5}:withdraw`, `${t5}:deposit`, `${t5}:complete`]);
    expect([await balance(bank, "ada-5"), await balance(bank, "bob-5")]).toEqual([70, 30]);
    const withdrawals = (await bank.accounts.readStream({}, "account-ada-5", { from: 0, limit: 10 })).events.filter((e) => e.type === "MoneyWithdrawn");
    expect(withdrawals).toHaveLength(1);
  });

  it("revive runs an errored process again from its start: the steps already applied are answered from their records", async () => {
    let destinationDown = true;
    const bank = memoryBank({
      processDispatch: (dispatch) => async (message: Message) =>
        destinationDown && message.serviceName === "deposit" ? halt(message, response.error("internal_error")) : dispatch(message),
    });
    await open(bank, "ada-6", "ada", 100);
    await open(bank, "bob-6", "bob");
    await bank.call("transfer", { transfer_id: "t6", from: "ada-6", to: "bob-6", amount: 45 });
    await bank.settle();
    expect(bank.processes.status(await instanceOf(bank, "t6"))).toMatchObject({ status: "errored" });
    expect([await balance(bank, "ada-6"), await balance(bank, "bob-6")]).toEqual([55, 0]);

    destinationDown = false;
    const event = await requested(bank, "t6");
    expect(await manager(bank).revive(event, {})).toBe("restarted");
    await bank.settle();
    expect(await manager(bank).revive(event, {})).toBe("finished");
    expect([await balance(bank, "ada-6"), await balance(bank, "bob-6")]).toEqual([55, 45]);
    expect(await eventTypes(bank, "account-ada-6")).toEqual(["AccountOpened", "MoneyDeposited", "MoneyWithdrawn"]);
  });

  it("a process revived after its refund, before it settled, finishes the refund: a destination opened meanwhile gets nothing", async () => {
    let settling = false;
    const bank = memoryBank({
      processDispatch: (dispatch) => async (message: Message) =>
        !settling && message.serviceName === "fail_transfer" ? halt(message, response.error("internal_error")) : dispatch(message),
    });
    await open(bank, "ada-8", "ada", 100);
    await bank.call("transfer", { transfer_id: "t8", from: "ada-8", to: "bob-8", amount: 30 });
    await bank.settle();
    // The deposit to the missing account was refused, the refund applied; settling the transfer failed.
    expect(bank.processes.status(await instanceOf(bank, "t8"))).toMatchObject({ status: "errored" });
    expect(await balance(bank, "ada-8")).toBe(100);
    expect(await transferStatus(bank, "t8", "ada")).toMatchObject({ status: "requested", refundOwed: "the destination did not take the transfer" });

    // Meanwhile the destination is opened: deciding the deposit again would now take it.
    await open(bank, "bob-8", "bob");
    settling = true;
    expect(await manager(bank).revive(await requested(bank, "t8"), {})).toBe("restarted");
    await bank.settle();
    expect([await balance(bank, "ada-8"), await balance(bank, "bob-8")]).toEqual([100, 0]);
    expect(await transferStatus(bank, "t8", "ada")).toMatchObject({ status: "failed", refunded: true });
    expect(await eventTypes(bank, "account-ada-8")).toEqual(["AccountOpened", "MoneyDeposited", "MoneyWithdrawn", "MoneyDeposited"]);
  });

  it("revive starts a process whose triggering event never reached the process manager, with the id that event gives", async () => {
    // No process manager: the TransferRequested reaches only the projections.
    const bank = memoryBank({ subscribers: () => [accountsView, bankTotals] });
    await open(bank, "ada-7", "ada", 100);
    await open(bank, "bob-7", "bob");
    await bank.call("transfer", { transfer_id: "t7", from: "ada-7", to: "bob-7", amount: 15 });
    await bank.settle();
    expect(bank.processes.instanceIds).toEqual([]);

    const event = await requested(bank, "t7");
    expect(await manager(bank).revive(event, {})).toBe("started");
    // Started already: running still, or (in memory, where it runs on microtasks) finished.
    expect(["running", "finished"]).toContain(await manager(bank).revive(event, {}));
    await bank.settle();
    expect(bank.processes.instanceIds).toEqual([await instanceOf(bank, "t7")]);
    expect([await balance(bank, "ada-7"), await balance(bank, "bob-7")]).toEqual([85, 15]);
    expect(await transferStatus(bank, "t7", "ada")).toMatchObject({ status: "completed" });
  });

  it("a transfer erased and then requested again under its id runs a process of its own (the old instance, and its steps' records, are the erased stream's)", async () => {
    const bank = memoryBank();
    await open(bank, "ada-9", "ada", 100);
    await open(bank, "bob-9", "bob");
    expect(await bank.call("transfer", { transfer_id: "t9", from: "ada-9", to: "bob-9", amount: 10 })).toMatchObject({ status: "created" });
    await bank.settle();
    const first = await instanceOf(bank, "t9");
    const transfers = aggregateRouter(transfer, bank.transfers, { authorize: () => "ok" });
    const erased = await eraseAggregate(bank.runner, {}, { aggregate: transfers, id: "t9", by: { via: "code" } }, silentLogger);
    expect(erased).toMatchObject({ stream: "transfer" });

    expect(await bank.call("transfer", { transfer_id: "t9", from: "ada-9", to: "bob-9", amount: 20 })).toMatchObject({ status: "created", version: 0 });
    await bank.settle();
    expect(await transferStatus(bank, "t9", "ada")).toMatchObject({ status: "completed" });
    expect([await balance(bank, "ada-9"), await balance(bank, "bob-9")]).toEqual([70, 30]);
    expect(await instanceOf(bank, "t9")).not.toBe(first);
    expect(bank.processes.instanceIds).toEqual([first, await instanceOf(bank, "t9")]);
  });
});
