import { createExecutionContext, createMessageBatch, getQueueResult, type QueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { projection, silentLogger, statement } from "../../src/core/index.js";
import { newId } from "../../src/core/shared/ids.js";
import { type EventEnvelope } from "../../src/core/readside/event-envelope.js";
import { type RebuildProgress } from "../../src/core/readside/rebuild.js";
import { durableObjectAggregates } from "../../src/objects/index.js";
import { readSide } from "../../src/worker/index.js";
import { eventually, tallyCommand, tallyEnvelopes } from "../support/read-side-helpers.js";
import { deadLettersQueued, TALLY_TABLES, tallyReadSide } from "../support/test-read-side.js";

const QUEUE = "x3m-bank-events";

/** Delivers `bodies` to the test read side's queue handler as one batch, as the queue would; answers what it acknowledged. */
async function deliver(bodies: readonly unknown[], attempts = 1): Promise<QueueResult & { ids: string[] }> {
  const ids = bodies.map(() => newId());
  const batch = createMessageBatch(
    QUEUE,
    bodies.map((body, index) => ({ id: ids[index] as string, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await tallyReadSide.queue(batch, env, ctx);
  return { ...(await getQueueResult(batch, ctx)), ids };
}

async function tallyRow(id: string) {
  return (await env.READ_MODELS.prepare("SELECT total, events FROM test_tally WHERE id = ?").bind(id).first()) ?? null;
}

async function appliedOrder(id: string): Promise<number[]> {
  const rows = await env.READ_MODELS.prepare("SELECT version FROM test_tally_log WHERE stream = ? ORDER BY seq").bind(`tally-${id}`).all<{ version: number }>();
  return rows.results.map((row) => row.version);
}

/** A tally with `amounts` added, one event each; answers its id and envelopes (none delivered yet). */
async function tallyWith(amounts: readonly number[]): Promise<{ id: string; envelopes: EventEnvelope[] }> {
  const id = newId();
  for (const amount of amounts) await tallyCommand("add", { id, amount });
  return { id, envelopes: await tallyEnvelopes(id) };
}

beforeAll(async () => {
  await env.READ_MODELS.batch(TALLY_TABLES.map((s) => env.READ_MODELS.prepare(s.sql)));
});

describe("the queue consumer: at least once in, exactly once in effect", () => {
  it("a redelivered message is acknowledged and skipped: each version is applied once", async () => {
    const { id, envelopes } = await tallyWith([1, 2, 3]);
    const first = await deliver(envelopes);
    expect(first.explicitAcks.sort()).toEqual([...first.ids].sort());
    const again = await deliver([...envelopes, envelopes[1]], 2);
    expect(again.explicitAcks.sort()).toEqual([...again.ids].sort());
    expect(await tallyRow(id)).toEqual({ total: 6, events: 3 });
    expect(await appliedOrder(id)).toEqual([0, 1, 2]);
  });

  it("messages that arrive out of order, within a batch and across batches, are applied in version order", async () => {
    const { id, envelopes } = await tallyWith([1, 2, 3, 4, 5]);
    const [e0, e1, e2, e3, e4] = envelopes;
    await deliver([e3, e1, e0, e2]);
    await deliver([e4, e0]);
    expect(await appliedOrder(id)).toEqual([0, 1, 2, 3, 4]);
    expect(await tallyRow(id)).toEqual({ total: 15, events: 5 });
  });

  it("a message ahead of the checkpoint fills the gap by reading the missing events from the aggregate's object", async () => {
    const { id, envelopes } = await tallyWith([10, 20, 30, 40]);
    const result = await deliver([envelopes[3]]);
    expect(result.explicitAcks).toEqual(result.ids);
    expect(await appliedOrder(id)).toEqual([0, 1, 2, 3]);
    expect(await tallyRow(id)).toEqual({ total: 100, events: 4 });
    // The late ones are duplicates now.
    await deliver(envelopes.slice(0, 3));
    expect(await tallyRow(id)).toEqual({ total: 100, events: 4 });
  });

  it("an event sent as a reference (too large for the queue) is read back from its stream", async () => {
    const id = newId();
    await tallyCommand("note", { id, text: "y".repeat(200_000) });
    const [reference] = await tallyEnvelopes(id);
    expect(reference?.kind).toBe("reference");
    await deliver([reference]);
    expect(await tallyRow(id)).toEqual({ total: 0, events: 1 });
  });

  it("a handler that keeps failing is retried, then dead-lettered with its error — in D1 and on the dead-letter queue", async () => {
    const { id, envelopes } = await tallyWith([1, 13, 2]);
    const first = await deliver(envelopes);
    // The other projection applied everything; the superstitious one stops before 13, so 13 and 2 wait.
    expect(await tallyRow(id)).toEqual({ total: 16, events: 3 });
    expect(first.explicitAcks).toEqual([first.ids[0]]);
    expect(first.retryMessages.map((m) => m.msgId)).toEqual(first.ids.slice(1));

    const last = await deliver(envelopes.slice(1), 3);
    expect(last.explicitAcks.sort()).toEqual([...last.ids].sort());
    const letters = await env.READ_MODELS.prepare("SELECT subscriber, version, error, attempts FROM x3m_dead_letters WHERE stream = ? ORDER BY version")
      .bind(`tally-${id}`)
      .all();
    expect(letters.results).toEqual([
      { subscriber: "test_superstitious", version: 1, error: "handler failed: 13 is unlucky", attempts: 3 },
      { subscriber: "test_superstitious", version: 2, error: "handler failed: 13 is unlucky", attempts: 3 },
    ]);
    const queued = await eventually(
      async () => deadLettersQueued.filter((l) => (l as { streamName?: string }).streamName === `tally-${id}`),
      (found) => found.length === 2,
    );
    expect(queued[0]).toMatchObject({ kind: "x3m.dead_letter", subscriber: "test_superstitious", version: 1, error: "handler failed: 13 is unlucky" });
  });

  it("a rebuild empties the projection and replays every stream of the catalog from the objects, with progress", async () => {
    const a = await tallyWith([1, 2]);
    const b = await tallyWith([5]);
    await deliver([...a.envelopes, ...b.envelopes]);
    await env.READ_MODELS.prepare("UPDATE test_tally SET total = -1").run(); // damage it

    const reports: RebuildProgress[] = [];
    const progress = await tallyReadSide.rebuild(env, "test_tally", { onProgress: (p) => reports.push(p) });
    expect(progress.failed).toEqual([]);
    expect(progress.streamsDone).toBe(progress.streamsTotal);
    expect(reports.at(-1)?.streamsDone).toBe(progress.streamsTotal);
    expect(await tallyRow(a.id)).toEqual({ total: 3, events: 2 });
    expect(await tallyRow(b.id)).toEqual({ total: 5, events: 1 });
    expect(await appliedOrder(a.id)).toEqual([0, 1]);
    const [catalog] = (await env.READ_MODELS.prepare("SELECT stream_type, version FROM x3m_streams WHERE stream = ?").bind(`tally-${a.id}`).all()).results;
    expect(catalog).toEqual({ stream_type: "tally", version: 1 });
  });

  it("anything on the queue that is not an event envelope is dead-lettered at once", async () => {
    const result = await deliver([{ hello: "world" }]);
    expect(result.explicitAcks).toEqual(result.ids);
    const [row] = (await env.READ_MODELS.prepare("SELECT subscriber, error FROM x3m_dead_letters WHERE subscriber = '*' ORDER BY id DESC LIMIT 1").all()).results;
    expect(row).toMatchObject({ subscriber: "*", error: expect.stringMatching(/^not an event envelope/) });
  });
});


describe("a projection's statements and its checkpoint are one D1 batch", () => {
  // A projection whose second statement fails while `test_half_switch` holds NULL (a NOT NULL
  // column refuses it): its first statement must not stay behind, nor its checkpoint move.
  const half = projection<{ type: "Added"; data: { amount: number } }>({
    name: "test_half",
    streams: ["tally"],
    on: {
      Added: (e) => [
        statement`INSERT INTO test_half_rows (stream, version) VALUES (${e.streamName}, ${e.version})`,
        statement`INSERT INTO test_half_guard (ok) SELECT ok FROM test_half_switch`,
      ],
    },
  });
  const halfSide = readSide<typeof env>({
    subscribers: [half],
    database: (e) => e.READ_MODELS,
    sources: { tally: durableObjectAggregates((e: typeof env) => e.TALLY) },
    logger: silentLogger,
  });
  const deliverToHalf = async (bodies: readonly unknown[]) => {
    const batch = createMessageBatch(QUEUE, bodies.map((body) => ({ id: newId(), timestamp: new Date(), attempts: 1, body })));
    const ctx = createExecutionContext();
    await halfSide.queue(batch, env, ctx);
    return getQueueResult(batch, ctx);
  };
  const rowsOf = async (stream: string) =>
    (await env.READ_MODELS.prepare("SELECT version FROM test_half_rows WHERE stream = ?").bind(stream).all<{ version: number }>()).results.map((r) => r.version);
  const checkpointOf = async (stream: string) =>
    (await env.READ_MODELS.prepare("SELECT version FROM x3m_checkpoints WHERE subscriber = 'test_half' AND stream = ?").bind(stream).first<{ version: number }>())?.version ?? null;

  it("a statement that fails undoes the ones before it and leaves the checkpoint: after the fix the event is applied once", async () => {
    await env.READ_MODELS.batch([
      env.READ_MODELS.prepare("CREATE TABLE IF NOT EXISTS test_half_rows (stream TEXT NOT NULL, version INTEGER NOT NULL)"),
      env.READ_MODELS.prepare("CREATE TABLE IF NOT EXISTS test_half_guard (ok INTEGER NOT NULL)"),
      env.READ_MODELS.prepare("CREATE TABLE IF NOT EXISTS test_half_switch (ok INTEGER)"),
      env.READ_MODELS.prepare("DELETE FROM test_half_switch"),
      env.READ_MODELS.prepare("INSERT INTO test_half_switch (ok) VALUES (NULL)"),
    ]);
    const { id, envelopes } = await tallyWith([5]);
    const stream = `tally-${id}`;
    const failed = await deliverToHalf(envelopes);
    expect(failed.retryMessages).toHaveLength(1);
    expect(await rowsOf(stream)).toEqual([]);
    expect(await checkpointOf(stream)).toBeNull();

    await env.READ_MODELS.prepare("UPDATE test_half_switch SET ok = 1").run();
    expect((await deliverToHalf(envelopes)).explicitAcks).toHaveLength(1);
    expect((await deliverToHalf(envelopes)).explicitAcks).toHaveLength(1); // a redelivery: skipped
    expect(await rowsOf(stream)).toEqual([0]);
    expect(await checkpointOf(stream)).toBe(0);
  });
});
