import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { newId } from "../../src/core/shared/ids.js";
import { readSide } from "../../src/worker/index.js";
import { durableObjectAggregates } from "../../src/objects/index.js";
import { bankReadSide } from "../../examples/bank/read-side.js";
import { balanceOf, call, eventually, openAccount, outboxOf, payloadOf, tallyCommand, tallyEnvelopes, tallyStub, transferInstanceId } from "../support/read-side-helpers.js";
import {
  cure,
  lostEvents,
  publishedTallies,
  sweptTallies,
  TALLY_TABLES,
  tallyEffects,
  tallyTotals,
} from "../support/test-read-side.js";
import { silentLogger } from "../../src/core/index.js";

beforeAll(async () => {
  await env.READ_MODELS.batch(TALLY_TABLES.map((s) => env.READ_MODELS.prepare(s.sql)));
});

afterEach(() => {
  cure.cured = false;
  lostEvents.on = false;
});

const tally = (id: string) => env.READ_MODELS.prepare("SELECT total, events FROM test_tally WHERE id = ?").bind(id).first<{ total: number; events: number }>();
const curableRows = async (id: string) =>
  (await env.READ_MODELS.prepare("SELECT version, amount FROM test_curable WHERE stream = ? ORDER BY version").bind(`tally-${id}`).all<{ version: number; amount: number }>()).results;
const effectsOf = (id: string) => tallyEffects.filter((effect) => effect.startsWith(`tally-${id}@`));
const lettersOf = async (id: string) =>
  (await sweptTallies.deadLetters(env, 50)).filter((letter) => letter.streamName === `tally-${id}`).map((letter) => [letter.subscriber, letter.version]);

/** Tally commands whose events the outbox sent to a queue nobody delivers from (the test Worker only records them): lost. */
async function lostTally(amounts: readonly number[]): Promise<string> {
  const id = `t-${newId()}`;
  for (const amount of amounts) await tallyCommand("add", { id, amount });
  await eventually(() => outboxOf(id), (unsent) => unsent.length === 0);
  // The queue took them: its messages reach a handler that only records them.
  const published = async () => publishedTallies.filter((envelope) => envelope.kind === "event" && envelope.event.streamName === `tally-${id}`).length;
  await eventually(published, (count) => count === amounts.length);
  return id;
}

describe("the sweep: a read side that converges without new events", () => {
  it("a queue message lost after the outbox sent it, and no later event on its stream: one sweep applies it, to the projection and the subscriber, once", async () => {
    const id = await lostTally([5]);
    expect(await tally(id)).toBeNull();
    expect(effectsOf(id)).toEqual([]);
    // The stream is in the catalog anyway: its outbox recorded it as it sent the event.
    expect(await sweptTallies.store(env).streams("tally", { after: `tally-${id}`.slice(0, -1), limit: 1 })).toEqual([
      { stream: "tally", streamName: `tally-${id}`, version: 0 },
    ]);

    const report = await sweptTallies.sweep(env);
    expect(report.caughtUp.filter((item) => item.streamName === `tally-${id}`)).toEqual(
      expect.arrayContaining([
        { subscriber: "test_tally", streamName: `tally-${id}`, applied: 1 },
        { subscriber: "test_effects", streamName: `tally-${id}`, applied: 1 },
        { subscriber: "test_curable", streamName: `tally-${id}`, applied: 1 },
      ]),
    );
    expect(await tally(id)).toEqual({ total: 5, events: 1 });
    expect(effectsOf(id)).toEqual([`tally-${id}@0`]);

    // Nothing twice: the next sweeps find the stream settled (or do not look at it again).
    for (let run = 0; run < 2; run += 1) {
      const again = await sweptTallies.sweep(env);
      expect(again.caughtUp.filter((item) => item.streamName === `tally-${id}`)).toEqual([]);
    }
    expect(await tally(id)).toEqual({ total: 5, events: 1 });
    expect(effectsOf(id)).toEqual([`tally-${id}@0`]);
  });

  it("a burst whose queue messages were all lost: the catalog is written once for the burst's first send, the alarm records where the burst ended, and one sweep applies every event", async () => {
    const id = await lostTally([1, 2, 3, 4]);
    const recorded = async () => (await sweptTallies.store(env).streams("tally", { after: `tally-${id}`.slice(0, -1), limit: 1 }))[0]?.version;
    // The first send recorded the stream; the sends after it, within the check period, did not.
    expect(await recorded()).toBe(0);
    // The safety alarm (set with the first commit, due within the period) records the rest.
    expect(await runDurableObjectAlarm(tallyStub(id))).toBe(true);
    expect(await recorded()).toBe(3);
    await sweptTallies.sweep(env, { quietMs: 0 });
    expect(await tally(id)).toEqual({ total: 10, events: 4 });
    expect(effectsOf(id)).toEqual([0, 1, 2, 3].map((version) => `tally-${id}@${version}`));
    // Nothing is left for the alarm to do.
    expect(await runInDurableObject(tallyStub(id), (_object, state) => state.storage.getAlarm())).toBeNull();
  });

  it("leaves streams recorded less than its quiet time ago to the queue", async () => {
    const id = await lostTally([2]);
    const quiet = readSide({
      subscribers: [tallyTotals],
      database: (e: Cloudflare.Env) => e.READ_MODELS,
      sources: { tally: durableObjectAggregates((e: Cloudflare.Env) => e.TALLY) },
      logger: silentLogger,
    });
    const report = await quiet.sweep(env, { quietMs: 60_000 });
    expect(report.caughtUp.filter((item) => item.streamName === `tally-${id}`)).toEqual([]);
    expect(await tally(id)).toBeNull();
    await quiet.sweep(env, { quietMs: 0 });
    expect(await tally(id)).toEqual({ total: 2, events: 1 });
  });

  it("a dead letter whose cause is fixed is applied by the next sweep, once, and its letter goes", async () => {
    const id = await lostTally([13, 2]);
    const failing = await sweptTallies.sweep(env);
    expect(failing.failed).toContainEqual({ subscriber: "test_curable", streamName: `tally-${id}`, error: expect.stringContaining("13 is unlucky") });
    // The others went on; the curable projection stopped at 13 and keeps it as a dead letter.
    expect(await tally(id)).toEqual({ total: 15, events: 2 });
    expect(await curableRows(id)).toEqual([]);
    expect(await lettersOf(id)).toEqual([["test_curable", 0]]);
    // Failing again, it stays one letter (tried again by every sweep, though its stream is not recorded again).
    await sweptTallies.sweep(env);
    expect(await lettersOf(id)).toEqual([["test_curable", 0]]);

    cure.cured = true;
    const fixed = await sweptTallies.sweep(env);
    expect(fixed.caughtUp).toContainEqual({ subscriber: "test_curable", streamName: `tally-${id}`, applied: 2 });
    expect(fixed.resolved).toBeGreaterThanOrEqual(1);
    expect(await curableRows(id)).toEqual([
      { version: 0, amount: 13 },
      { version: 1, amount: 2 },
    ]);
    expect(await lettersOf(id)).toEqual([]);
    await sweptTallies.sweep(env);
    expect(await curableRows(id)).toHaveLength(2);
  });

  it("an event the queue consumer dead-lettered is applied by the sweep once its cause is fixed", async () => {
    const id = await lostTally([13]);
    const envelopes = await tallyEnvelopes(id);
    // Delivered by the queue as many times as the consumer allows (2): dead-lettered.
    const batch = createMessageBatch("x3m-bank-events", envelopes.map((body, index) => ({ id: `m${index}`, timestamp: new Date(), attempts: 2, body })));
    const ctx = createExecutionContext();
    await sweptTallies.queue(batch, env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m0"]);
    expect(await lettersOf(id)).toEqual([["test_curable", 0]]);
    cure.cured = true;
    await sweptTallies.sweep(env);
    expect(await curableRows(id)).toEqual([{ version: 0, amount: 13 }]);
    expect(await lettersOf(id)).toEqual([]);
  });

  it("a sweep running beside the queue consumer doubles nothing", async () => {
    const id = await lostTally([1, 2, 3]);
    const envelopes = await tallyEnvelopes(id);
    const batch = createMessageBatch("x3m-bank-events", envelopes.map((body, index) => ({ id: `m${index}`, timestamp: new Date(), attempts: 1, body })));
    const ctx = createExecutionContext();
    const [report] = await Promise.all([sweptTallies.sweep(env), sweptTallies.queue(batch, env, ctx), sweptTallies.sweep(env)]);
    expect(report.failed).toEqual([]);
    expect((await getQueueResult(batch, ctx)).explicitAcks.sort()).toEqual(["m0", "m1", "m2"]);
    expect(await tally(id)).toEqual({ total: 6, events: 3 });
    expect(await curableRows(id)).toHaveLength(3);
    const log = await env.READ_MODELS.prepare("SELECT version FROM test_tally_log WHERE stream = ? ORDER BY version").bind(`tally-${id}`).all();
    expect(log.results).toEqual([{ version: 0 }, { version: 1 }, { version: 2 }]);
    // The effect of a subscriber beyond statements may run twice when both get there (its handler
    // must be idempotent): each event was seen, none skipped.
    expect([...new Set(effectsOf(id))].sort()).toEqual([`tally-${id}@0`, `tally-${id}@1`, `tally-${id}@2`]);
  });

  it("does bounded work per run and goes on where it stopped", async () => {
    const bounded = readSide({
      subscribers: [tallyTotals],
      database: (e: Cloudflare.Env) => e.READ_MODELS,
      sources: { tally: durableObjectAggregates((e: Cloudflare.Env) => e.TALLY) },
      logger: silentLogger,
      sweep: { quietMs: 0, streamsPerRun: 2 },
    });
    const ids = [await lostTally([1]), await lostTally([2]), await lostTally([3])];
    let runs = 0;
    for (let more = true; more && runs < 100; runs += 1) {
      const report = await bounded.sweep(env);
      expect(report.streams).toBeLessThanOrEqual(2);
      more = report.more;
    }
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(await Promise.all(ids.map((id) => tally(id)))).toEqual([
      { total: 1, events: 1 },
      { total: 2, events: 1 },
      { total: 3, events: 1 },
    ]);
  });
});

describe("the demo's read side converges after its queue lost messages", () => {
  it("a transfer whose every queue message was lost completes after a sweep: its process runs, the money moves once, the read models follow", async () => {
    const from = await openAccount("ada", 100);
    const to = await openAccount("bob");
    lostEvents.on = true;
    const transfer_id = `t-${newId()}`;
    expect((await call("transfer", { transfer_id, from, to, amount: 30 })).status).toBe(201);
    const stub = env.TRANSFERS.get(env.TRANSFERS.idFromName(`transfer-${transfer_id}`));
    await eventually(async () => (await stub.fetch(`https://x3m.internal/events?stream=transfer-${transfer_id}&from=0&limit=1`)).status, (status) => status === 200);
    await eventually(async () => lostEvents.lost, (lost) => lost >= 1);
    lostEvents.on = false;
    expect(payloadOf<{ status: string }>(await call("get_transfer", { transfer_id })).status).toBe("requested");

    await bankReadSide.sweep(env, { quietMs: 0 });
    await eventually(async () => payloadOf<{ status: string }>(await call("get_transfer", { transfer_id })).status, (status) => status === "completed");
    expect([await balanceOf(from), await balanceOf(to)]).toEqual([70, 30]);
    // The transfer's own events and the accounts' were delivered by the queue meanwhile; a sweep
    // later finds the read models where the accounts are.
    await bankReadSide.sweep(env, { quietMs: 0 });
    const listed = async (who: "ada" | "bob", id: string) =>
      payloadOf<{ accounts: { id: string; balance: number }[] }>(await call("list_accounts", {}, who)).accounts.find((a) => a.id === id)?.balance;
    await eventually(async () => [await listed("ada", from), await listed("bob", to)], (balances) => balances[0] === 70 && balances[1] === 30);
    expect(await transferInstanceId(transfer_id)).toMatch(new RegExp(`^transfers_transfer-${transfer_id}_0_[0-9a-f]{10}$`));
  });
});
