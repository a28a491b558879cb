// What each aggregate's object costs, in the platform's billing units: SQLite rows read and
// written (from every statement's cursor), commands and alarms (requests), events published,
// bytes stored. The figures below are SQLite's own counts for the ledger's statements, as
// workerd reports them.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { StreamUsage } from "../../src/core/index.js";
import { libraryLog } from "../support/library-log.js";
import { ledgerHarness } from "../support/aggregate-harness.js";
import { ledger, usageEvents } from "../support/test-aggregates.js";

const ledgers = ledgerHarness(ledger, (e) => e.LEDGER);
const budgeted = ledgerHarness(ledger, (e) => e.BUDGETED);

const usageOf = (h: typeof ledgers, id: string) =>
  runInDurableObject(h.stub(id), (object) => (object as unknown as { usage(): StreamUsage }).usage());

/** The rows a command read and wrote: the object's usage before and after it. */
async function rowsOf(h: typeof ledgers, id: string, service: string, body: Record<string, unknown>) {
  const before = await usageOf(h, id);
  const reply = await h.send(service, { id, ...body });
  const after = await usageOf(h, id);
  return { status: reply.response?.status, read: after.rowsRead - before.rowsRead, written: after.rowsWritten - before.rowsWritten, commands: after.commands - before.commands };
}

describe("what an aggregate's object costs", () => {
  it("counts each command's rows exactly: a deposit reads 2 and writes 4, a read-only command reads and writes none", async () => {
    const id = ledgers.freshId();
    // Opening creates the schema (its tables and indexes are rows of sqlite_master) with the first
    // event: made at once, not migration by migration (which wrote 42 rows).
    expect(await rowsOf(ledgers, id, "open", { owner: "ada" })).toMatchObject({ status: "created", written: 19, commands: 1 });
    // The stream row (read, then moved), the event, the idempotency record and its unique index.
    expect(await rowsOf(ledgers, id, "deposit", { amount: 5 })).toEqual({ status: "ok", read: 2, written: 4, commands: 1 });
    expect(await rowsOf(ledgers, id, "deposit", { amount: 6 })).toEqual({ status: "ok", read: 2, written: 4, commands: 1 });
    // The state is in memory and the message is new: nothing to read, nothing to write.
    expect(await rowsOf(ledgers, id, "balance", {})).toEqual({ status: "ok", read: 0, written: 0, commands: 1 });
    const usage = await usageOf(ledgers, id);
    expect(usage).toMatchObject({ commands: 4, alarms: 0, published: 0 });
    expect(usage.storageBytes).toBeGreaterThan(0);
  });

  it("keeps what it counted across an eviction, on the stream row every commit writes anyway (all but the last commit's own rows)", async () => {
    const id = ledgers.freshId();
    await ledgers.send("open", { id, owner: "ada" });
    await ledgers.send("deposit", { id, amount: 1 });
    const before = await usageOf(ledgers, id);
    await evictDurableObject(ledgers.stub(id));
    await ledgers.send("deposit", { id, amount: 1 });
    const after = await usageOf(ledgers, id);
    expect(after.commands).toBe(3);
    // The commit before the eviction saved the count it started with, so its own 4 rows are not
    // kept; the deposit after it counts its 4.
    expect(after.rowsWritten).toBe(before.rowsWritten);
  });

  it("a command over the type's budget is logged with its stream, command and rows; telemetry carries every command's rows", async () => {
    const id = budgeted.freshId();
    usageEvents.length = 0;
    await budgeted.send("open", { id, owner: "ada" }, { id: "budget-open" });
    const [warning] = libraryLog.take({ level: "warn", msg: "cost budget crossed" });
    expect(warning?.fields).toMatchObject({ streamName: `ledger-${id}`, command: "open", messageId: "budget-open", rowsPerCommand: 10 });
    expect(Number(warning?.fields["rows"])).toBeGreaterThan(10);
    await budgeted.send("deposit", { id, amount: 1 });
    expect(libraryLog.take({ level: "warn", msg: "cost budget crossed" })).toEqual([]);
    expect(usageEvents.map((event) => (event.name === "aggregate_usage" ? [event.metadata.command, event.measurements.rowsWritten] : null))).toEqual([
      ["open", 19],
      ["deposit", 4],
    ]);
  });

  it("a command that finds its object over the type's storage budget is logged with the bytes stored", async () => {
    const id = budgeted.freshId();
    await budgeted.send("open", { id, owner: "ada" });
    let stored = (await usageOf(budgeted, id)).storageBytes;
    for (let round = 0; stored <= 40_000 && round < 50; round += 1) {
      for (let i = 0; i < 10; i += 1) await budgeted.send("deposit", { id, amount: 1 });
      stored = (await usageOf(budgeted, id)).storageBytes;
    }
    expect(stored).toBeGreaterThan(40_000);
    libraryLog.take({ level: "warn", msg: "cost budget crossed" });
    await budgeted.send("deposit", { id, amount: 1 }, { id: "budget-storage" });
    const [warning] = libraryLog.take({ level: "warn", msg: "cost budget crossed" });
    expect(warning?.fields).toMatchObject({ streamName: `ledger-${id}`, command: "deposit", messageId: "budget-storage", budgetBytes: 40_000 });
    expect(Number(warning?.fields["storageBytes"])).toBeGreaterThan(40_000);
  });
});
