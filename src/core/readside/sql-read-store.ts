import { isoTime } from "../shared/iso-time.js";
import type { Json } from "../shared/json.js";
import { statement, type ReadStatement, type ReadValue } from "./read-statement.js";
import { estimatedCost, NO_USAGE, type StreamUsage } from "../aggregates/stream-usage.js";
import { receiptOf, type ErasureReceipt } from "./erasure-receipt.js";
import type {
  CatalogEntry,
  CommitResult,
  CommitUnit,
  DeadLetter,
  DeadLetteredStream,
  DeliveryState,
  ErasureFootprint,
  ReadStore,
  SeenStream,
  StreamErasure,
  SweepCursor,
  TypeUsage,
  UsageEntry,
} from "./read-store.js";
import type { SqlExecutor } from "./sql-executor.js";
import type { Subscriber } from "./subscriber.js";

/*
 * The read side's own tables, beside the app's read models in the same database:
 *
 * - x3m_checkpoints: per subscriber and stream, the version of the last event applied.
 * - x3m_guard: never holds a row. A unit's first statement inserts NULL into its NOT NULL column
 *   when the checkpoint is not where the unit expects it, which fails the statement and so rolls
 *   back the whole batch — SQLite has no other way to abort a batch on a condition (RAISE() only
 *   works in triggers). Without a failed condition it inserts nothing.
 * - x3m_streams: the catalog — every stream that committed an event, by aggregate type, with the
 *   highest version recorded and when its outbox last recorded it (`last_seen`, which a sweep
 *   follows; the consumer adds streams it meets that no outbox recorded, without touching it).
 * - x3m_stream_usage: what each aggregate's object has cost (rows, commands, alarms, events
 *   published, bytes stored), as its outbox last recorded it, with the estimated cost to rank by.
 * - x3m_dead_letters: events a subscriber gave up on, with the error.
 * - x3m_sweeps: where each sweeper's last sweep stopped (a sweeper: the subscribers one read side
 *   delivers to, so that two read sides over one database keep their own).
 * - x3m_erasures: the audit log of erasures — per erasure, the stream, when its storage went, and
 *   the receipt (never the erased data). The consumer reads it with the checkpoints, and drops the
 *   events of an erased stream recorded at or before that time; the guard below refuses a unit
 *   whose events an erasure overtook.
 *
 * They are created on first use (CREATE … IF NOT EXISTS), so an app's migrations hold only its
 * own read models.
 *
 * Many units go in one batch (one round trip): one guard statement checks every unit's expected
 * checkpoint at once, then come the units' own statements, then one statement moves every
 * checkpoint. When the batch fails, each unit is committed alone to learn which one failed.
 */
const SCHEMA: readonly ReadStatement[] = [
  statement`CREATE TABLE IF NOT EXISTS x3m_checkpoints (
    subscriber TEXT NOT NULL, stream TEXT NOT NULL, version INTEGER NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (subscriber, stream)) WITHOUT ROWID`,
  statement`CREATE TABLE IF NOT EXISTS x3m_guard (failed INTEGER NOT NULL)`,
  statement`CREATE TABLE IF NOT EXISTS x3m_streams (
    stream_type TEXT NOT NULL, stream TEXT PRIMARY KEY, version INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL)`,
  statement`CREATE INDEX IF NOT EXISTS x3m_streams_by_type ON x3m_streams (stream_type, stream)`,
  statement`CREATE INDEX IF NOT EXISTS x3m_streams_by_seen ON x3m_streams (last_seen, stream)`,
  statement`CREATE TABLE IF NOT EXISTS x3m_stream_usage (
    stream TEXT PRIMARY KEY, stream_type TEXT NOT NULL, commands INTEGER NOT NULL, rows_read INTEGER NOT NULL,
    rows_written INTEGER NOT NULL, alarms INTEGER NOT NULL, published INTEGER NOT NULL, storage_bytes INTEGER NOT NULL,
    cost REAL NOT NULL, recorded_at TEXT NOT NULL)`,
  statement`CREATE INDEX IF NOT EXISTS x3m_stream_usage_by_cost ON x3m_stream_usage (cost DESC)`,
  statement`CREATE TABLE IF NOT EXISTS x3m_sweeps (sweeper TEXT PRIMARY KEY, seen_at TEXT NOT NULL, stream TEXT NOT NULL) WITHOUT ROWID`,
  statement`CREATE TABLE IF NOT EXISTS x3m_dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, subscriber TEXT NOT NULL, stream TEXT NOT NULL, version INTEGER NOT NULL,
    error TEXT NOT NULL, attempts INTEGER NOT NULL, envelope TEXT NOT NULL, recorded_at TEXT NOT NULL)`,
  statement`CREATE INDEX IF NOT EXISTS x3m_dead_letters_by_event ON x3m_dead_letters (subscriber, stream, version)`,
  statement`CREATE TABLE IF NOT EXISTS x3m_erasures (id TEXT PRIMARY KEY, stream TEXT NOT NULL, erased_at TEXT NOT NULL, receipt TEXT NOT NULL)`,
  statement`CREATE INDEX IF NOT EXISTS x3m_erasures_by_stream ON x3m_erasures (stream, erased_at)`,
];

/**
 * The guard's test of one unit beside its checkpoint (`expected` holds the unit's values as
 * column1…4: subscriber, stream, expected version, first event's time): the stream was erased at
 * or after that event was recorded.
 */
const OVERTAKEN = `EXISTS (SELECT 1 FROM x3m_erasures x WHERE x.stream = expected.column2 AND x.erased_at >= expected.column4)`;

/** The units' own statements per batch, at most: a unit is never split, so a batch may hold one larger unit. */
const BATCH_STATEMENTS = 400;

/** D1 binds at most 100 parameters per statement. */
const MAX_PARAMETERS = 100;

/** Options of a {@link SqlReadStore}. */
export type SqlReadStoreOptions = { now?: () => string };

/**
 * The {@link ReadStore} over SQLite: D1 in a Worker, an embedded (in-memory) SQLite elsewhere.
 * Units are committed many to a batch (one round trip); when a batch fails, its units are
 * committed one by one, so one unit's conflict or broken statement holds back only that unit.
 */
export class SqlReadStore implements ReadStore {
  readonly #db: SqlExecutor;
  readonly #now: () => string;
  #created = false;

  /** A store over `db`; the read side's tables are created by its first use. */
  constructor(db: SqlExecutor, options: SqlReadStoreOptions = {}) {
    this.#db = db;
    this.#now = options.now ?? (() => isoTime());
  }

  async checkpoints(subscribers: readonly string[], streamNames: readonly string[]): Promise<Map<string, Map<string, number>>> {
    const found = new Map(subscribers.map((subscriber) => [subscriber, new Map<string, number>()]));
    if (subscribers.length === 0 || streamNames.length === 0) return found;
    await this.#ready();
    const perQuery = Math.max(1, MAX_PARAMETERS - subscribers.length);
    for (let start = 0; start < streamNames.length; start += perQuery) {
      const names = streamNames.slice(start, start + perQuery);
      const rows = await this.#db.all<{ subscriber: string; stream: string; version: number }>({
        sql: `SELECT subscriber, stream, version FROM x3m_checkpoints
              WHERE subscriber IN (${placeholders(subscribers.length)}) AND stream IN (${placeholders(names.length)})`,
        params: [...subscribers, ...names],
      });
      for (const row of rows) found.get(row.subscriber)?.set(row.stream, row.version);
    }
    return found;
  }

  async deliveryState(subscribers: readonly string[], streamNames: readonly string[]): Promise<DeliveryState> {
    const state: DeliveryState = { checkpoints: new Map(subscribers.map((subscriber) => [subscriber, new Map<string, number>()])), erasedAt: new Map() };
    if (streamNames.length === 0) return state;
    await this.#ready();
    // One query per slice of streams: the checkpoints, then the streams' latest erasures.
    const perQuery = Math.max(1, Math.floor((MAX_PARAMETERS - subscribers.length) / 2));
    const erasures = `SELECT NULL AS subscriber, stream, NULL AS version, max(erased_at) AS erased_at FROM x3m_erasures WHERE stream IN`;
    for (let start = 0; start < streamNames.length; start += perQuery) {
      const names = streamNames.slice(start, start + perQuery);
      const query: ReadStatement =
        subscribers.length === 0
          ? { sql: `${erasures} (${placeholders(names.length)}) GROUP BY stream`, params: names }
          : {
              sql: `SELECT subscriber, stream, version, NULL AS erased_at FROM x3m_checkpoints
                    WHERE subscriber IN (${placeholders(subscribers.length)}) AND stream IN (${placeholders(names.length)})
                    UNION ALL ${erasures} (${placeholders(names.length)}) GROUP BY stream`,
              params: [...subscribers, ...names, ...names],
            };
      const rows = await this.#db.all<{ subscriber: string | null; stream: string; version: number | null; erased_at: string | null }>(query);
      for (const row of rows) {
        if (row.erased_at !== null) state.erasedAt.set(row.stream, row.erased_at);
        else if (row.subscriber !== null && row.version !== null) state.checkpoints.get(row.subscriber)?.set(row.stream, row.version);
      }
    }
    return state;
  }

  async commit(units: readonly CommitUnit[], catalog: readonly CatalogEntry[] = []): Promise<CommitResult[]> {
    await this.#ready();
    const recorded = this.#catalogStatements(catalog, false);
    const chunks = chunked(units);
    if (chunks.length === 0 && recorded.length > 0) await this.#db.batch(recorded);
    const results: CommitResult[] = [];
    for (const [index, chunk] of chunks.entries()) {
      const extra = index === 0 ? recorded : [];
      try {
        await this.#db.batch([...extra, ...this.#combined(chunk)]);
        results.push(...chunk.map((): CommitResult => ({ ok: true })));
      } catch (error) {
        // The catalog alone (a failure here is the store's own: the caller retries everything).
        if (extra.length > 0) await this.#db.batch(extra);
        if (chunk.length === 1) results.push(failure(error));
        else for (const unit of chunk) results.push(await this.#commitOne(unit));
      }
    }
    return results;
  }

  async record(entries: readonly CatalogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#ready();
    await this.#db.batch([...this.#catalogStatements(entries, true), ...this.#usageStatements(entries)]);
  }

  async costliest(options: { stream?: string; limit: number }): Promise<UsageEntry[]> {
    await this.#ready();
    const where = options.stream === undefined ? statement`` : statement`WHERE stream_type = ${options.stream}`;
    const rows = await this.#db.all<UsageRow & { stream: string; recorded_at: string }>({
      sql: `SELECT stream_type, stream, ${USAGE_COLUMNS}, recorded_at FROM x3m_stream_usage ${where.sql} ORDER BY cost DESC, stream LIMIT ?`,
      params: [...where.params, options.limit],
    });
    return rows.map((row) => ({ stream: row.stream_type, streamName: row.stream, usage: usageOf(row), cost: row.cost, recordedAt: row.recorded_at }));
  }

  async usageByType(): Promise<TypeUsage[]> {
    await this.#ready();
    const rows = await this.#db.all<UsageRow & { streams: number }>(
      statement`SELECT stream_type, count(*) AS streams, sum(commands) AS commands, sum(rows_read) AS rows_read,
        sum(rows_written) AS rows_written, sum(alarms) AS alarms, sum(published) AS published,
        sum(storage_bytes) AS storage_bytes, sum(cost) AS cost
        FROM x3m_stream_usage GROUP BY stream_type ORDER BY sum(cost) DESC, stream_type`,
    );
    return rows.map((row) => ({ stream: row.stream_type, streams: row.streams, usage: usageOf(row), cost: row.cost }));
  }

  async seenSince(after: SweepCursor | null, before: string, limit: number): Promise<SeenStream[]> {
    await this.#ready();
    const from = after === null ? statement`` : statement`AND (last_seen, stream) > (${after.seenAt}, ${after.streamName})`;
    return this.#seenStreams(`WHERE last_seen <= ? ${from.sql} ORDER BY last_seen, stream`, [before, ...from.params], limit);
  }

  async sweepCursor(sweeper: string): Promise<SweepCursor | null> {
    await this.#ready();
    const [row] = await this.#db.all<{ seen_at: string; stream: string }>(statement`SELECT seen_at, stream FROM x3m_sweeps WHERE sweeper = ${sweeper}`);
    return row === undefined ? null : { seenAt: row.seen_at, streamName: row.stream };
  }

  async saveSweepCursor(sweeper: string, cursor: SweepCursor): Promise<void> {
    await this.#ready();
    await this.#db.batch([
      statement`INSERT INTO x3m_sweeps (sweeper, seen_at, stream) VALUES (${sweeper}, ${cursor.seenAt}, ${cursor.streamName})
        ON CONFLICT (sweeper) DO UPDATE SET seen_at = excluded.seen_at, stream = excluded.stream`,
    ]);
  }

  async deadLetteredStreams(limit: number, followed?: readonly Pick<Subscriber, "name" | "streams">[]): Promise<DeadLetteredStream[]> {
    await this.#ready();
    // `<subscriber>:<aggregate type>` of each followed pair: a subscriber's name has no colon, and
    // an aggregate type no hyphen, so the stream's type is what precedes its first hyphen.
    const pairs = followed?.flatMap((subscriber) => subscriber.streams.map((stream) => `${subscriber.name}:${stream}`));
    if (pairs !== undefined && pairs.length === 0) return [];
    const rows = await this.#db.all<{ subscriber: string; stream: string; version: number }>({
      // Ordered by the newest letter of each: the sweep keeps a letter again (a new row) for every
      // stream that still fails, which sends it behind those not tried yet. The pairs are one
      // JSON parameter, however many there are.
      sql: `SELECT subscriber, stream, MIN(version) AS version FROM x3m_dead_letters WHERE version >= 0
              ${pairs === undefined ? "" : "AND subscriber || ':' || substr(stream, 1, instr(stream, '-') - 1) IN (SELECT value FROM json_each(?))"}
            GROUP BY subscriber, stream ORDER BY MAX(id) LIMIT ?`,
      params: pairs === undefined ? [limit] : [JSON.stringify(pairs), limit],
    });
    return rows.map((row) => ({ subscriber: row.subscriber, streamName: row.stream, version: row.version }));
  }

  async resolveDeadLetters(subscriber: string, streamName: string, version: number): Promise<number> {
    await this.#ready();
    const rows = await this.#db.all(
      statement`DELETE FROM x3m_dead_letters WHERE subscriber = ${subscriber} AND stream = ${streamName} AND version >= 0 AND version <= ${version} RETURNING id`,
    );
    return rows.length;
  }

  async streams(stream: string, page: { after: string | null; limit: number }): Promise<CatalogEntry[]> {
    await this.#ready();
    const rows = await this.#db.all<{ stream: string; version: number }>(
      statement`SELECT stream, version FROM x3m_streams WHERE stream_type = ${stream} AND stream > ${page.after ?? ""}
        ORDER BY stream LIMIT ${page.limit}`,
    );
    return rows.map((row) => ({ stream, streamName: row.stream, version: row.version }));
  }

  async countStreams(stream: string): Promise<number> {
    await this.#ready();
    const [row] = await this.#db.all<{ count: number }>(statement`SELECT count(*) AS count FROM x3m_streams WHERE stream_type = ${stream}`);
    return row?.count ?? 0;
  }

  async recentStreams(page: { before: SweepCursor | null; limit: number }): Promise<SeenStream[]> {
    await this.#ready();
    const before = page.before === null ? statement`` : statement`WHERE (last_seen, stream) < (${page.before.seenAt}, ${page.before.streamName})`;
    return this.#seenStreams(`${before.sql} ORDER BY last_seen DESC, stream DESC`, before.params, page.limit);
  }

  /** Catalog rows with when they were last seen: `where` (its filter and order) and its parameters, at most `limit`. */
  async #seenStreams(where: string, params: readonly ReadValue[], limit: number): Promise<SeenStream[]> {
    const rows = await this.#db.all<{ stream_type: string; stream: string; version: number; last_seen: string }>({
      sql: `SELECT stream_type, stream, version, last_seen FROM x3m_streams ${where} LIMIT ?`,
      params: [...params, limit],
    });
    return rows.map((row) => ({ stream: row.stream_type, streamName: row.stream, version: row.version, seenAt: row.last_seen }));
  }

  async reset(subscriber: string, statements: readonly ReadStatement[]): Promise<void> {
    await this.#ready();
    await this.#db.batch([...statements, statement`DELETE FROM x3m_checkpoints WHERE subscriber = ${subscriber}`]);
  }

  async deadLetter(letter: DeadLetter): Promise<void> {
    await this.#ready();
    await this.#db.batch([
      // One letter per subscriber and event: the same event given up on again (its message was
      // delivered again because the dead-letter queue was down, or a sweep tried it again) replaces
      // its earlier letter, as a new row (behind the others in the sweep's turn) keeping the larger
      // attempt count — the queue's counts run on, and a sweep's try (1) must not reset it. A
      // message that is no event (version -1) is its own.
      statement`INSERT INTO x3m_dead_letters (subscriber, stream, version, error, attempts, envelope, recorded_at)
        VALUES (${letter.subscriber}, ${letter.streamName}, ${letter.version}, ${letter.error},
                CASE WHEN ${letter.version} < 0 THEN ${letter.attempts} ELSE max(${letter.attempts}, (SELECT COALESCE(MAX(attempts), 0) FROM x3m_dead_letters
                  WHERE subscriber = ${letter.subscriber} AND stream = ${letter.streamName} AND version = ${letter.version})) END,
                ${JSON.stringify(letter.envelope)}, ${letter.recordedAt})`,
      statement`DELETE FROM x3m_dead_letters
        WHERE subscriber = ${letter.subscriber} AND stream = ${letter.streamName} AND version = ${letter.version} AND version >= 0
          AND id < (SELECT MAX(id) FROM x3m_dead_letters WHERE subscriber = ${letter.subscriber} AND stream = ${letter.streamName} AND version = ${letter.version})`,
    ]);
  }

  async deadLetters(limit: number): Promise<DeadLetter[]> {
    await this.#ready();
    const rows = await this.#db.all<{
      subscriber: string;
      stream: string;
      version: number;
      error: string;
      attempts: number;
      envelope: string;
      recorded_at: string;
    }>(statement`SELECT subscriber, stream, version, error, attempts, envelope, recorded_at FROM x3m_dead_letters ORDER BY id DESC LIMIT ${limit}`);
    return rows.map((row) => ({
      subscriber: row.subscriber,
      streamName: row.stream,
      version: row.version,
      error: row.error,
      attempts: row.attempts,
      envelope: JSON.parse(row.envelope) as Json,
      recordedAt: row.recorded_at,
    }));
  }

  async query<Row extends Record<string, unknown>>(query: ReadStatement): Promise<Row[]> {
    await this.#ready();
    return this.#db.all<Row>(query);
  }

  async erasureFootprint(streamName: string, subscribers: readonly string[]): Promise<ErasureFootprint> {
    await this.#ready();
    const [row] = await this.#db.all<{ checkpoints: number; catalog: number; usage: number; dead_letters: number; receipt: string | null }>({
      sql: `SELECT (SELECT count(*) FROM x3m_checkpoints WHERE ${checkpointsOf(subscribers)}) AS checkpoints,
              (SELECT count(*) FROM x3m_streams WHERE stream = ?) AS catalog,
              (SELECT count(*) FROM x3m_stream_usage WHERE stream = ?) AS usage,
              (SELECT count(*) FROM x3m_dead_letters WHERE stream = ?) AS dead_letters,
              (SELECT receipt FROM x3m_erasures WHERE stream = ? ORDER BY erased_at DESC, rowid DESC LIMIT 1) AS receipt`,
      params: [...subscribers, streamName, streamName, streamName, streamName, streamName],
    });
    return {
      checkpoints: row?.checkpoints ?? 0,
      catalog: row?.catalog ?? 0,
      usage: row?.usage ?? 0,
      deadLetters: row?.dead_letters ?? 0,
      receipt: row?.receipt === null || row?.receipt === undefined ? null : receiptOf(row.receipt),
    };
  }

  async erase(erasure: StreamErasure): Promise<void> {
    await this.#ready();
    const { receipt } = erasure;
    const streamName = receipt.streamName;
    const subscribers = receipt.subscribers.map((subscriber) => subscriber.name);
    await this.#db.batch([
      // First: from this statement on, a unit carrying the stream's erased events is refused.
      statement`INSERT INTO x3m_erasures (id, stream, erased_at, receipt) VALUES (${receipt.erasureId}, ${streamName}, ${receipt.erasedAt}, ${JSON.stringify(receipt)})
        ON CONFLICT (id) DO UPDATE SET erased_at = excluded.erased_at, receipt = excluded.receipt`,
      ...erasure.statements,
      { sql: `DELETE FROM x3m_checkpoints WHERE ${checkpointsOf(subscribers)}`, params: [...subscribers, streamName] },
      statement`DELETE FROM x3m_streams WHERE stream = ${streamName}`,
      statement`DELETE FROM x3m_stream_usage WHERE stream = ${streamName}`,
      // Every subscriber's letters of the stream, known to this read side or not: they hold its events.
      statement`DELETE FROM x3m_dead_letters WHERE stream = ${streamName}`,
    ]);
  }

  async erasures(filter: { streamName?: string; erasureId?: string; limit: number }): Promise<ErasureReceipt[]> {
    await this.#ready();
    const conditions: string[] = [];
    const params: ReadValue[] = [];
    if (filter.streamName !== undefined) {
      conditions.push("stream = ?");
      params.push(filter.streamName);
    }
    if (filter.erasureId !== undefined) {
      conditions.push("id = ?");
      params.push(filter.erasureId);
    }
    const where = conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`;
    const rows = await this.#db.all<{ receipt: string }>({
      sql: `SELECT receipt FROM x3m_erasures ${where} ORDER BY erased_at DESC, rowid DESC LIMIT ?`,
      params: [...params, filter.limit],
    });
    return rows.map((row) => receiptOf(row.receipt)).filter((receipt): receipt is ErasureReceipt => receipt !== null);
  }

  /**
   * Several units as one batch: one guard for all, their statements in order, one checkpoint
   * update for all. Units of one subscriber and stream must follow each other (each expecting the
   * version the one before reached); otherwise each unit is guarded on its own.
   */
  #combined(units: readonly CommitUnit[]): ReadStatement[] {
    const first = new Map<string, CommitUnit>();
    const last = new Map<string, CommitUnit>();
    for (const unit of units) {
      const key = `${unit.subscriber}\u0000${unit.streamName}`;
      const before = last.get(key);
      if (before !== undefined && before.version !== unit.expected) return units.flatMap((u) => this.#statementsOf(u));
      if (before === undefined) first.set(key, unit);
      last.set(key, unit);
    }
    const now = this.#now();
    return [
      ...rowsStatements(
        [...first.values()],
        4,
        (rows) =>
          `INSERT INTO x3m_guard (failed) SELECT NULL FROM (VALUES ${rows}) AS expected
           WHERE coalesce((SELECT c.version FROM x3m_checkpoints c WHERE c.subscriber = expected.column1 AND c.stream = expected.column2), -1)
                 <> expected.column3 OR ${OVERTAKEN} LIMIT 1`,
        // A run of units of one stream is guarded by its first: its first event is the oldest.
        (unit) => [unit.subscriber, unit.streamName, unit.expected, unit.firstRecordedAt ?? null],
      ),
      ...units.flatMap((unit) => unit.statements),
      ...rowsStatements(
        [...last.values()],
        4,
        (rows) =>
          `INSERT INTO x3m_checkpoints (subscriber, stream, version, updated_at) VALUES ${rows}
           ON CONFLICT (subscriber, stream) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`,
        (unit) => [unit.subscriber, unit.streamName, unit.version, now],
      ),
    ];
  }

  /**
   * The catalog's upserts for `entries` (the highest version wins). `seen`: the stream was
   * recorded by its outbox now (a sweep will look at it); otherwise (the consumer) only a stream
   * new to the catalog gets a time.
   */
  #catalogStatements(entries: readonly CatalogEntry[], seen: boolean): ReadStatement[] {
    const now = this.#now();
    const touch = seen ? ", last_seen = excluded.last_seen" : "";
    return rowsStatements(
      entries,
      5,
      (rows) =>
        `INSERT INTO x3m_streams (stream_type, stream, version, first_seen, last_seen) VALUES ${rows}
         ON CONFLICT (stream) DO UPDATE SET version = max(version, excluded.version)${touch}`,
      (entry) => [entry.stream, entry.streamName, entry.version, now, now],
    );
  }

  /** The usage upserts for the entries that carry one (the newest recording wins). */
  #usageStatements(entries: readonly CatalogEntry[]): ReadStatement[] {
    const measured = entries.filter((entry) => entry.usage !== undefined);
    const now = this.#now();
    return rowsStatements(
      measured,
      10,
      (rows) =>
        `INSERT INTO x3m_stream_usage (stream_type, stream, commands, rows_read, rows_written, alarms, published, storage_bytes, cost, recorded_at)
         VALUES ${rows} ON CONFLICT (stream) DO UPDATE SET commands = excluded.commands, rows_read = excluded.rows_read,
         rows_written = excluded.rows_written, alarms = excluded.alarms, published = excluded.published,
         storage_bytes = excluded.storage_bytes, cost = excluded.cost, recorded_at = excluded.recorded_at`,
      (entry) => {
        const usage = entry.usage ?? NO_USAGE;
        return [entry.stream, entry.streamName, usage.commands, usage.rowsRead, usage.rowsWritten, usage.alarms, usage.published, usage.storageBytes, estimatedCost(usage), now];
      },
    );
  }

  /** The guard, the unit's own statements, then the new checkpoint: one unit, in batch order. */
  #statementsOf(unit: CommitUnit): ReadStatement[] {
    return [
      {
        sql: `INSERT INTO x3m_guard (failed) SELECT NULL FROM (VALUES (?, ?, ?, ?)) AS expected WHERE
          coalesce((SELECT version FROM x3m_checkpoints WHERE subscriber = expected.column1 AND stream = expected.column2), -1) <> expected.column3
          OR ${OVERTAKEN}`,
        params: [unit.subscriber, unit.streamName, unit.expected, unit.firstRecordedAt ?? null],
      },
      ...unit.statements,
      statement`INSERT INTO x3m_checkpoints (subscriber, stream, version, updated_at)
        VALUES (${unit.subscriber}, ${unit.streamName}, ${unit.version}, ${this.#now()})
        ON CONFLICT (subscriber, stream) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`,
    ];
  }

  async #commitOne(unit: CommitUnit): Promise<CommitResult> {
    try {
      await this.#db.batch(this.#statementsOf(unit));
      return { ok: true };
    } catch (error) {
      return failure(error);
    }
  }

  /**
   * Creates the read side's tables, until it has once for this store. Each caller runs it itself
   * until then (the statements are `IF NOT EXISTS`): a store outlives requests, and on Workers a
   * request's unfinished work never settles once its client goes away — a shared promise would
   * hold up every later request of the isolate.
   */
  async #ready(): Promise<void> {
    if (this.#created) return;
    await this.#db.batch(SCHEMA);
    this.#created = true;
  }
}

/** The condition on x3m_checkpoints of one stream (the last parameter) for `subscribers` (their names first): the primary key's order. */
function checkpointsOf(subscribers: readonly string[]): string {
  return subscribers.length === 0 ? "0 AND stream = ?" : `subscriber IN (${placeholders(subscribers.length)}) AND stream = ?`;
}

/** `?, ?, …` for `count` parameters. */
function placeholders(count: number): string {
  return Array.from({ length: count }, () => "?").join(", ");
}

/** The usage columns, as {@link usageOf} reads them. */
const USAGE_COLUMNS = "commands, rows_read, rows_written, alarms, published, storage_bytes, cost";

type UsageRow = {
  stream_type: string;
  commands: number;
  rows_read: number;
  rows_written: number;
  alarms: number;
  published: number;
  storage_bytes: number;
  cost: number;
};

function usageOf(row: UsageRow): StreamUsage {
  return {
    commands: row.commands,
    rowsRead: row.rows_read,
    rowsWritten: row.rows_written,
    alarms: row.alarms,
    published: row.published,
    storageBytes: row.storage_bytes,
  };
}

/**
 * Multi-row statements over `items`, as many rows per statement as the parameter limit allows:
 * `text` gets the rows' `(?, ?, …), (…)` and `values` gives each item's `width` values.
 */
function rowsStatements<T>(items: readonly T[], width: number, text: (rows: string) => string, values: (item: T) => ReadValue[]): ReadStatement[] {
  const perStatement = Math.floor(MAX_PARAMETERS / width);
  const row = `(${placeholders(width)})`;
  const statements: ReadStatement[] = [];
  for (let start = 0; start < items.length; start += perStatement) {
    const slice = items.slice(start, start + perStatement);
    statements.push({ sql: text(slice.map(() => row).join(", ")), params: slice.flatMap(values) });
  }
  return statements;
}

/** Units in batches of about {@link BATCH_STATEMENTS} statements, never splitting a unit. */
function chunked(units: readonly CommitUnit[]): CommitUnit[][] {
  const chunks: CommitUnit[][] = [];
  let current: CommitUnit[] = [];
  let size = 0;
  for (const unit of units) {
    const unitSize = unit.statements.length;
    if (current.length > 0 && size + unitSize > BATCH_STATEMENTS) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(unit);
    size += unitSize;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** A failed unit: a conflict when the guard refused it, otherwise the statements' error. */
function failure(error: unknown): CommitResult {
  const text = error instanceof Error ? error.message : String(error);
  if (text.includes("x3m_guard")) return { ok: false, conflict: true };
  return { ok: false, conflict: false, error: text };
}
