// The Worker the read-side benchmark runs on local workerd (Miniflare): the demo's account
// aggregate publishing through its outbox to a queue, consumed by the library's read side into
// D1 — and the baselines it is compared with: the same aggregate without an outbox (write side),
// a hand-written object that sends each committed event to a queue (the outbox pair, both reached
// by stub.fetch), a hand-written pipeline (an object that sends each event to a queue after its commit, a
// consumer that applies it to D1 with no checkpoint, no guard, no gap filling), and a hand-written
// consumer with checkpoints and the guard (the read side's CPU per event is measured against it).
import { DurableObject } from "cloudflare:workers";
import { aggregateRouter, Dispatcher, newMessage, projectedEvent, projection, silentLogger, statement, type Message } from "../../src/core/index.js";
import { envelopeOf } from "../../src/core/readside/event-envelope.js";
import { aggregateObject, durableObjectAggregates } from "../../src/objects/index.js";
import { readSide } from "../../src/worker/index.js";
import { account, type AccountEvent } from "../../examples/bank/account.js";

type Env = {
  X3M_REPLAY: Queue;
  PLAIN_REPLAY: Queue;
  ACCOUNTS: DurableObjectNamespace;
  SILENT_ACCOUNTS: DurableObjectNamespace;
  PLAIN: DurableObjectNamespace<PlainAccountObject>;
  PAIR_ACCOUNTS: DurableObjectNamespace;
  UNCATALOGUED_ACCOUNTS: DurableObjectNamespace;
  PAIR_EVENTS: Queue;
  PLAIN_PAIR_EVENTS: Queue;
  EVENTS: Queue;
  PLAIN_EVENTS: Queue;
  DB: D1Database;
};

/** The demo's account, publishing every committed event through its outbox. */
export class BenchAccountObject extends aggregateObject(account, { logger: silentLogger, outbox: { queue: (env: Env) => env.EVENTS, catalog: (env: Env) => reads.store(env) } }) {}

/**
 * The outbox pair's library side: the demo's account with its outbox bound to a queue that
 * nothing consumes (the pair measures the write side alone), and the catalog recorded as shipped.
 */
export class PairAccountObject extends aggregateObject(account, {
  logger: silentLogger,
  outbox: { queue: (env: Env) => env.PAIR_EVENTS, catalog: (env: Env) => reads.store(env) },
}) {}

/**
 * The outbox pair's library side again, its catalog records dropped: what the catalog's D1 writes
 * cost the pair (locally D1 runs in the same workerd process; in production it is a remote call).
 */
export class UncataloguedAccountObject extends aggregateObject(account, {
  logger: silentLogger,
  outbox: { queue: (env: Env) => env.PAIR_EVENTS, catalog: () => ({ record: async () => {} }) },
}) {}

/** The same aggregate without an outbox: the write side's baseline. */
export class SilentAccountObject extends aggregateObject(account, { logger: silentLogger }) {}

const ADMIN = { identity: { user: "bench", admin: true }, principal: "bench" };
const accounts = durableObjectAggregates((env: Env) => env.ACCOUNTS);
const dispatchers = {
  x3m: new Dispatcher<Env>({ services: [aggregateRouter(account, accounts, { authorize: () => "ok" })], logger: silentLogger }),
  pair: new Dispatcher<Env>({
    services: [aggregateRouter(account, durableObjectAggregates((env: Env) => env.PAIR_ACCOUNTS), { authorize: () => "ok" })],
    logger: silentLogger,
  }),
  uncatalogued: new Dispatcher<Env>({
    services: [aggregateRouter(account, durableObjectAggregates((env: Env) => env.UNCATALOGUED_ACCOUNTS), { authorize: () => "ok" })],
    logger: silentLogger,
  }),
  silent: new Dispatcher<Env>({
    services: [aggregateRouter(account, durableObjectAggregates((env: Env) => env.SILENT_ACCOUNTS), { authorize: () => "ok" })],
    logger: silentLogger,
  }),
};

/** Balances per account: the projection a rebuild replays. */
const balances = projection<AccountEvent>({
  name: "bench_balances",
  streams: ["account"],
  on: {
    AccountOpened: (e) => statement`INSERT INTO bench_balances (id, balance, events) VALUES (${e.aggregateId}, 0, 1)`,
    MoneyDeposited: (e) => statement`UPDATE bench_balances SET balance = balance + ${e.data.amount}, events = events + 1 WHERE id = ${e.aggregateId}`,
  },
  reset: [statement`DELETE FROM bench_balances`],
});

/** When each event was committed and when it was applied (D1's clock, ms): the lag. */
const lag = projection<AccountEvent>({
  name: "bench_lag",
  streams: ["account"],
  on: {
    MoneyDeposited: (e) =>
      statement`INSERT INTO bench_lag (side, stream, version, recorded_ms, applied_ms)
        VALUES ('x3m', ${e.streamName}, ${e.version}, ${Date.parse(e.recordedAt)}, CAST(unixepoch('subsec') * 1000 AS INTEGER))`,
  },
  reset: [statement`DELETE FROM bench_lag WHERE side = 'x3m'`],
});

const reads = readSide<Env>({
  subscribers: [balances, lag],
  database: (env) => env.DB,
  sources: { account: accounts },
  logger: silentLogger,
});

/**
 * The same two kinds of projection under other names, fed by a second queue that the benchmark
 * fills with every event at once: how fast a consumer applies a backlog (its throughput).
 */
const replay = readSide<Env>({
  subscribers: [
    projection<AccountEvent>({
      name: "replay_balances",
      streams: ["account"],
      on: { MoneyDeposited: (e) => statement`INSERT INTO replay_balances (id, balance) VALUES (${e.aggregateId}, ${e.data.amount})
        ON CONFLICT (id) DO UPDATE SET balance = balance + excluded.balance` },
    }),
    projection<AccountEvent>({
      name: "replay_log",
      streams: ["account"],
      on: { MoneyDeposited: (e) => statement`INSERT INTO replay_log (side, stream, version, applied_ms)
        VALUES ('x3m', ${e.streamName}, ${e.version}, CAST(unixepoch('subsec') * 1000 AS INTEGER))` },
    }),
  ],
  database: (env) => env.DB,
  sources: { account: accounts },
  logger: silentLogger,
});

/**
 * The hand-written baseline: an object that appends an event row and, after the commit, sends it
 * to a queue itself (no outbox: an event whose send fails is lost).
 */
export class PlainAccountObject extends DurableObject<Env> {
  /** The outbox pair's baseline, reached as the library reaches its objects (`stub.fetch`): a deposit sent to the pair's queue. */
  override async fetch(request: Request): Promise<Response> {
    const { id, amount } = (await request.json()) as { id: string; amount: number };
    return Response.json({ version: await this.deposit(id, amount, this.env.PLAIN_PAIR_EVENTS) });
  }

  /** Appends a deposit, then sends it. */
  async deposit(id: string, amount: number, queue: Queue = this.env.PLAIN_EVENTS): Promise<number> {
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS events (version INTEGER PRIMARY KEY, data TEXT NOT NULL, recorded_at INTEGER NOT NULL)");
    const recorded = Date.now();
    const version = this.ctx.storage.transactionSync(() => {
      const next = sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM events").one().v ?? -1;
      sql.exec("INSERT INTO events (version, data, recorded_at) VALUES (?, ?, ?)", next + 1, JSON.stringify({ amount }), recorded);
      return next + 1;
    });
    await queue.send({ id, version, amount, recorded }, { contentType: "json" });
    return version;
  }
}

const SCHEMA = [
  "CREATE TABLE IF NOT EXISTS bench_balances (id TEXT PRIMARY KEY, balance INTEGER NOT NULL, events INTEGER NOT NULL)",
  "CREATE TABLE IF NOT EXISTS bench_lag (side TEXT NOT NULL, stream TEXT NOT NULL, version INTEGER NOT NULL, recorded_ms INTEGER NOT NULL, applied_ms INTEGER NOT NULL, PRIMARY KEY (side, stream, version))",
  "CREATE TABLE IF NOT EXISTS plain_balances (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)",
  "CREATE TABLE IF NOT EXISTS replay_balances (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)",
  "CREATE TABLE IF NOT EXISTS plain_checkpoints (projection TEXT NOT NULL, stream TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (projection, stream)) WITHOUT ROWID",
  "CREATE TABLE IF NOT EXISTS plain_guard (failed INTEGER NOT NULL)",
  "CREATE TABLE IF NOT EXISTS replay_log (side TEXT NOT NULL, stream TEXT NOT NULL, version INTEGER NOT NULL, applied_ms INTEGER NOT NULL, PRIMARY KEY (side, stream, version))",
];

/** The baseline consumer: every message applied as it comes, one D1 batch per queue batch. */
async function plainConsumer(batch: MessageBatch, env: Env): Promise<void> {
  const statements = batch.messages.flatMap((message) => {
    const { id, version, amount, recorded } = message.body as { id: string; version: number; amount: number; recorded: number };
    return [
      env.DB.prepare("INSERT INTO plain_balances (id, balance) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET balance = balance + excluded.balance").bind(id, amount),
      env.DB.prepare("INSERT INTO bench_lag (side, stream, version, recorded_ms, applied_ms) VALUES ('plain', ?, ?, ?, CAST(unixepoch('subsec') * 1000 AS INTEGER))").bind(
        id,
        version,
        recorded,
      ),
    ];
  });
  await env.DB.batch(statements);
  batch.ackAll();
}

/** The baseline's backlog consumer: as {@link plainConsumer}, into the replay tables. */
async function plainReplayConsumer(batch: MessageBatch, env: Env): Promise<void> {
  const statements = batch.messages.flatMap((message) => {
    const { id, version, amount } = message.body as { id: string; version: number; amount: number };
    return [
      env.DB.prepare("INSERT INTO replay_balances (id, balance) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET balance = balance + excluded.balance").bind(`plain-${id}`, amount),
      env.DB.prepare("INSERT INTO replay_log (side, stream, version, applied_ms) VALUES ('plain', ?, ?, CAST(unixepoch('subsec') * 1000 AS INTEGER))").bind(id, version),
    ];
  });
  await env.DB.batch(statements);
  batch.ackAll();
}

/**
 * The hand-written consumer the read side's CPU is measured against: the same rows, with what
 * exactly-once needs and nothing more — each projection's checkpoint per stream read in one query,
 * events at or below it skipped, and per projection and stream a guard (the batch fails when the
 * checkpoint moved since it was read), the rows, and the new checkpoint, all in one D1 batch.
 */
async function checkpointedConsumer(batch: MessageBatch, env: Env): Promise<void> {
  const byStream = new Map<string, { version: number; amount: number }[]>();
  for (const message of batch.messages) {
    const { id, version, amount } = message.body as { id: string; version: number; amount: number };
    const events = byStream.get(id) ?? [];
    events.push({ version, amount });
    byStream.set(id, events);
  }
  const streams = [...byStream.keys()];
  const found = await env.DB.prepare(`SELECT projection, stream, version FROM plain_checkpoints WHERE stream IN (${streams.map(() => "?").join(", ")})`)
    .bind(...streams)
    .all<{ projection: string; stream: string; version: number }>();
  const checkpoints = new Map(found.results.map((row) => [`${row.projection}/${row.stream}`, row.version]));
  const statements: D1PreparedStatement[] = [];
  for (const [id, events] of byStream) {
    events.sort((a, b) => a.version - b.version);
    for (const projection of ["balances", "log"]) {
      const expected = checkpoints.get(`${projection}/${id}`) ?? -1;
      let at = expected;
      const rows: D1PreparedStatement[] = [];
      for (const event of events) {
        if (event.version <= at) continue;
        if (event.version !== at + 1) break; // a gap: a real consumer would read it back; the bench has none
        rows.push(
          projection === "balances"
            ? env.DB.prepare("INSERT INTO replay_balances (id, balance) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET balance = balance + excluded.balance").bind(`plain-${id}`, event.amount)
            : env.DB.prepare("INSERT INTO replay_log (side, stream, version, applied_ms) VALUES ('plain', ?, ?, CAST(unixepoch('subsec') * 1000 AS INTEGER))").bind(id, event.version),
        );
        at = event.version;
      }
      if (rows.length === 0) continue;
      statements.push(
        env.DB.prepare("INSERT INTO plain_guard (failed) SELECT NULL WHERE coalesce((SELECT version FROM plain_checkpoints WHERE projection = ? AND stream = ?), -1) <> ?").bind(
          projection,
          id,
          expected,
        ),
        ...rows,
        env.DB.prepare("INSERT INTO plain_checkpoints (projection, stream, version) VALUES (?, ?, ?) ON CONFLICT (projection, stream) DO UPDATE SET version = excluded.version").bind(
          projection,
          id,
          at,
        ),
      );
    }
  }
  if (statements.length > 0) await env.DB.batch(statements);
  batch.ackAll();
}

/** Queue batches prepared for the consumer CPU measure, by side: handed to each consumer as the queue would. */
const consumerBatches: { x3m: unknown[][]; plain: unknown[][] } = { x3m: [], plain: [] };

/**
 * Prepares `streams` × `perStream` deposits of new streams (run `run`), in batches of 50 as the
 * queue delivers them: the library's envelopes, or the baseline's plain messages. `bunch` events
 * of a stream follow each other (1: every batch holds one event of 50 streams).
 */
function prepareConsumerBatches(side: "x3m" | "plain", run: string, streams: number, perStream: number, bunch: number): number {
  const bodies: unknown[] = [];
  const recordedAt = new Date().toISOString();
  for (let from = 0; from < perStream; from += bunch) {
    for (let i = 0; i < streams; i += 1) {
      for (let version = from; version < Math.min(perStream, from + bunch); version += 1) {
        const amount = 1 + (version % 7);
        if (side === "plain") {
          bodies.push({ id: `cpu${run}-${i}`, version, amount });
          continue;
        }
        const streamName = `account-cpu${run}-${i}`;
        const metadata = { messageId: crypto.randomUUID(), correlationId: crypto.randomUUID(), causationId: crypto.randomUUID(), service: "deposit" };
        const event = { version, type: "MoneyDeposited", data: { amount }, schemaVersion: 1, metadata, recordedAt };
        bodies.push(envelopeOf(projectedEvent("account", streamName, event), recordedAt).envelope);
      }
    }
  }
  consumerBatches[side] = [];
  for (let start = 0; start < bodies.length; start += 50) consumerBatches[side].push(bodies.slice(start, start + 50));
  return bodies.length;
}

/** A queue batch as the runtime hands it to a consumer, counting what the consumer acknowledged. */
function batchOf(queue: string, bodies: unknown[]): MessageBatch & { acked: () => number } {
  let acked = 0;
  const messages = bodies.map((body, index) => ({
    id: `m${index}`,
    timestamp: new Date(),
    attempts: 1,
    body,
    ack: () => void (acked += 1),
    retry: () => {},
  }));
  const metadata = { metrics: { backlogCount: 0, backlogBytes: 0 } };
  return { queue, messages, metadata, ackAll: () => void (acked = messages.length), retryAll: () => {}, acked: () => acked };
}

/** Hands every prepared batch of `side` to its consumer, one after the other: the events acknowledged. */
async function consumePrepared(side: "x3m" | "plain", env: Env, ctx: ExecutionContext): Promise<number> {
  let acked = 0;
  for (const bodies of consumerBatches[side]) {
    const batch = batchOf(side === "x3m" ? "x3m-replay" : "plain-replay", bodies);
    if (side === "x3m") await replay.queue(batch, env, ctx);
    else await checkpointedConsumer(batch, env);
    acked += batch.acked();
  }
  return acked;
}

/** Fills the replay queues: every deposit of the x3m accounts as envelopes, the same as plain messages. */
async function fillReplay(env: Env & { X3M_REPLAY: Queue; PLAIN_REPLAY: Queue }, side: string): Promise<number> {
  const streams = (await env.DB.prepare("SELECT stream FROM x3m_streams WHERE stream_type = 'account' AND stream LIKE 'account-acc-%' ORDER BY stream").all<{ stream: string }>()).results;
  const bodies: unknown[] = [];
  for (const { stream } of streams) {
    const page = await accounts.readStream(env, stream, { from: 0, limit: 1000 });
    for (const event of page.events) {
      if (event.type !== "MoneyDeposited") continue;
      bodies.push(
        side === "x3m"
          ? envelopeOf(projectedEvent("account", stream, event), new Date().toISOString()).envelope
          : { id: stream, version: event.version, amount: (event.data as { amount: number }).amount },
      );
    }
  }
  const queue = side === "x3m" ? env.X3M_REPLAY : env.PLAIN_REPLAY;
  const sends: Promise<unknown>[] = [];
  for (let start = 0; start < bodies.length; start += 100) {
    sends.push(queue.sendBatch(bodies.slice(start, start + 100).map((body) => ({ body, contentType: "json" as const }))));
  }
  await Promise.all(sends);
  return bodies.length;
}

/** The baseline rebuild: read every stream from its object, apply it with plain D1 batches (no checkpoints). */
async function plainRebuild(env: Env): Promise<number> {
  await env.DB.prepare("DELETE FROM bench_balances").run();
  const streams = (await env.DB.prepare("SELECT stream FROM x3m_streams WHERE stream_type = 'account' ORDER BY stream").all<{ stream: string }>()).results;
  let events = 0;
  const work = [...streams];
  const worker = async () => {
    for (let next = work.shift(); next !== undefined; next = work.shift()) {
      const page = await accounts.readStream(env, next.stream, { from: 0, limit: 1000 });
      const id = next.stream.slice("account-".length);
      let balance = 0;
      for (const event of page.events) if (event.type === "MoneyDeposited") balance += (event.data as { amount: number }).amount;
      await env.DB.batch([env.DB.prepare("INSERT INTO bench_balances (id, balance, events) VALUES (?, ?, ?)").bind(id, balance, page.events.length)]);
      events += page.events.length;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return events;
}

function command(service: string, id: string, amount?: number): Message {
  return newMessage(service, { rawRequest: amount === undefined ? { account_id: id } : { account_id: id, amount }, assigns: ADMIN });
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    const id = url.searchParams.get("id") ?? "a";
    const amount = Number(url.searchParams.get("amount") ?? "1");
    switch (url.pathname) {
      case "/setup":
        await env.DB.batch(SCHEMA.map((sql) => env.DB.prepare(sql)));
        return Response.json({ ok: true });
      case "/x3m/open":
      case "/silent/open":
      case "/pair/open":
      case "/uncatalogued/open":
      case "/x3m/deposit":
      case "/silent/deposit":
      case "/pair/deposit":
      case "/uncatalogued/deposit": {
        const [, side, action] = url.pathname.split("/") as [string, "x3m" | "silent" | "pair" | "uncatalogued", string];
        const reply = await dispatchers[side].dispatch(command(action === "open" ? "open_account" : "deposit", id, action === "open" ? undefined : amount), { env });
        return Response.json(reply.response, { status: reply.response?.status === "ok" || reply.response?.status === "created" ? 200 : 500 });
      }
      case "/plain-pair/deposit": {
        const answer = await env.PLAIN.get(env.PLAIN.idFromName(`pair-${id}`)).fetch("https://account/", { method: "POST", body: JSON.stringify({ id, amount }) });
        return Response.json(await answer.json());
      }
      case "/plain/deposit":
        return Response.json({ version: await env.PLAIN.get(env.PLAIN.idFromName(id)).deposit(id, amount) });
      case "/applied": {
        // Events applied so far by one side's pipeline, of the streams named `prefix…`.
        const side = url.searchParams.get("side") ?? "x3m";
        const prefix = url.searchParams.get("prefix") ?? "";
        const row = await env.DB.prepare("SELECT count(*) AS n, min(applied_ms) AS first, max(applied_ms) AS last FROM bench_lag WHERE side = ? AND stream LIKE ?")
          .bind(side, `${prefix}%`)
          .first();
        return Response.json(row);
      }
      case "/lags": {
        const side = url.searchParams.get("side") ?? "x3m";
        const prefix = url.searchParams.get("prefix") ?? "";
        const rows = await env.DB.prepare("SELECT applied_ms - recorded_ms AS lag FROM bench_lag WHERE side = ? AND stream LIKE ?")
          .bind(side, `${prefix}%`)
          .all<{ lag: number }>();
        return Response.json(rows.results.map((row) => row.lag));
      }
      case "/consumer/prepare": {
        const side = url.searchParams.get("side") === "plain" ? "plain" : "x3m";
        const count = (name: string) => Number(url.searchParams.get(name));
        return Response.json({ events: prepareConsumerBatches(side, url.searchParams.get("run") ?? "0", count("streams"), count("perStream"), count("bunch")) });
      }
      case "/consumer/consume": {
        const side = url.searchParams.get("side") === "plain" ? "plain" : "x3m";
        return Response.json({ acked: await consumePrepared(side, env, ctx) });
      }
      case "/replay/fill":
        return Response.json({ events: await fillReplay(env, url.searchParams.get("side") ?? "x3m") });
      case "/replay/applied": {
        const row = await env.DB.prepare("SELECT count(*) AS n, min(applied_ms) AS first, max(applied_ms) AS last FROM replay_log WHERE side = ?")
          .bind(url.searchParams.get("side") ?? "x3m")
          .first();
        return Response.json(row);
      }
      case "/balances-total": {
        const row = await env.DB.prepare("SELECT count(*) AS accounts, sum(balance) AS balance, sum(events) AS events FROM bench_balances").first();
        return Response.json(row);
      }
      case "/rebuild":
        return Response.json(await reads.rebuild(env, "bench_balances"));
      case "/plain-rebuild":
        return Response.json({ events: await plainRebuild(env) });
      default:
        return new Response("not found", { status: 404 });
    }
  },

  async queue(batch: MessageBatch, env: Env, ctx: ExecutionContext): Promise<void> {
    if (batch.queue === "plain-events") return plainConsumer(batch, env);
    if (batch.queue === "plain-replay") return plainReplayConsumer(batch, env);
    if (batch.queue === "x3m-replay") return replay.queue(batch, env, ctx);
    return reads.queue(batch, env, ctx);
  },
};
