import type { Json } from "../core/shared/json.js";
import type { ServiceResponse } from "../core/messaging/response.js";
import type {
  AppendRequest,
  AppendResult,
  DeleteResult,
  EventMetadata,
  Outbox,
  ProcessedMessage,
  RecordedEvent,
  ReplayedEvent,
  Retention,
  SavedState,
  Snapshot,
  StreamState,
  StreamStatus,
  StreamStore,
} from "../core/aggregates/stream-store.js";
import type { StorageRemoved } from "../core/aggregates/aggregate-protocol.js";
import type { PendingFollowUp } from "../core/scheduling/follow-up.js";
import type { ScheduleOutcome } from "../core/scheduling/schedule-store.js";
import type { SqliteScheduleStore } from "./sqlite-schedule-store.js";
import { sql, type SqlDatabase } from "./sql.js";
import { VersionedSchema, type Migration } from "./sqlite-migrations.js";
import { isoTime } from "../core/shared/iso-time.js";

/**
 * The history of an aggregate object's schema. Never edit a migration that has shipped: add the
 * next one. Version 1 is the schema of the first release, before versions were recorded.
 */
export const STREAM_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "events, snapshots, the stream row and processed messages",
    up(db) {
      db.run(sql`CREATE TABLE IF NOT EXISTS events (
        version INTEGER PRIMARY KEY, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL,
        message_id TEXT NOT NULL, recorded_at TEXT NOT NULL)`);
      db.run(sql`CREATE TABLE IF NOT EXISTS snapshots (version INTEGER PRIMARY KEY, state TEXT NOT NULL, schema INTEGER NOT NULL)`);
      db.run(sql`CREATE TABLE IF NOT EXISTS stream (
        id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, version INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('live', 'deleted')), state TEXT)`);
      db.run(sql`CREATE TABLE IF NOT EXISTS processed_messages (
        message_id TEXT PRIMARY KEY, version INTEGER NOT NULL, fingerprint TEXT NOT NULL, response TEXT NOT NULL,
        recorded_at TEXT NOT NULL)`);
    },
  },
  {
    version: 2,
    description: "each event records the schema version of its shape; idempotency records belong to a caller and expire",
    up(db) {
      db.run(sql`ALTER TABLE events ADD COLUMN schema_version INTEGER NOT NULL DEFAULT 1`);
      // Records before this version were kept per message id alone: they become the anonymous
      // caller's, and keep their fingerprint (that release's: SHA-256 with the caller's identity
      // in it), by which a retry from any caller is still recognised (SqliteStreamStore.processed).
      db.run(sql`CREATE TABLE processed_messages_v2 (
        principal TEXT NOT NULL, message_id TEXT NOT NULL, version INTEGER NOT NULL, fingerprint TEXT NOT NULL,
        response TEXT NOT NULL, recorded_at TEXT NOT NULL, PRIMARY KEY (principal, message_id)) WITHOUT ROWID`);
      db.run(sql`INSERT INTO processed_messages_v2 (principal, message_id, version, fingerprint, response, recorded_at)
        SELECT '', message_id, version, fingerprint, response, recorded_at FROM processed_messages`);
      db.run(sql`DROP TABLE processed_messages`);
      db.run(sql`ALTER TABLE processed_messages_v2 RENAME TO processed_messages`);
      db.run(sql`CREATE INDEX processed_messages_by_time ON processed_messages (recorded_at)`);
      db.run(sql`CREATE INDEX processed_messages_by_version ON processed_messages (version)`);
    },
  },
  {
    version: 3,
    description: "the outbox: committed events not yet published to the read side",
    up(db) {
      // Only the version: the event itself is in `events`, written by the same transaction.
      db.run(sql`CREATE TABLE outbox (version INTEGER PRIMARY KEY)`);
    },
  },
  {
    version: 4,
    description: "idempotency records kept in the order they were made, without the two indexes every command had to update",
    up(db) {
      // The indexes by time and by version (version 2) cost every command about three more pages
      // in the write-ahead log — half again the bytes a deposit writes — for a compaction that
      // runs once every hundred versions. Records in the order they were made (`seq`, the rowid)
      // give that compaction both of its orders: the oldest first, and the newest N.
      db.run(sql`CREATE TABLE processed_messages_v4 (
        seq INTEGER PRIMARY KEY, principal TEXT NOT NULL, message_id TEXT NOT NULL, version INTEGER NOT NULL,
        fingerprint TEXT NOT NULL, response TEXT NOT NULL, recorded_at TEXT NOT NULL, UNIQUE (principal, message_id))`);
      db.run(sql`INSERT INTO processed_messages_v4 (principal, message_id, version, fingerprint, response, recorded_at)
        SELECT principal, message_id, version, fingerprint, response, recorded_at FROM processed_messages ORDER BY version, recorded_at`);
      db.run(sql`DROP TABLE processed_messages`);
      db.run(sql`ALTER TABLE processed_messages_v4 RENAME TO processed_messages`);
    },
  },
  {
    version: 5,
    description: "what the stream's object has cost so far (commands, rows, alarms, messages), kept on the stream row",
    up(db) {
      // On the row every commit writes anyway: keeping it costs no row of its own.
      db.run(sql`ALTER TABLE stream ADD COLUMN usage TEXT`);
    },
  },
  {
    version: 6,
    description: "the outbox as a cursor on the stream row: the version up to which its events were sent",
    up(db) {
      // A row per event, inserted by its commit and deleted after its send, cost every send a
      // write of its own; the events table already holds what is to be sent, in order.
      db.run(sql`ALTER TABLE stream ADD COLUMN published INTEGER NOT NULL DEFAULT -1`);
      // What the outbox still held is still to be sent; an empty outbox means everything was.
      db.run(sql`UPDATE stream SET published = COALESCE((SELECT MIN(version) - 1 FROM outbox), version)`);
      db.run(sql`DROP TABLE outbox`);
    },
  },
  {
    version: 7,
    description: "the first release's idempotency records found without reading the others",
    up(db) {
      // Every start asks whether the anonymous caller has a record of the first release (SHA-256:
      // 64 characters; later fingerprints are at most 11). Asked of the unique index, that read
      // every anonymous record — thousands of rows a start, each billed. This index holds only the
      // first release's records, so it is empty in every stream written since.
      db.run(sql`CREATE INDEX processed_messages_legacy ON processed_messages (principal) WHERE length(fingerprint) = 64`);
    },
  },
];

/**
 * The schema {@link STREAM_MIGRATIONS} lead to, made at once for a new stream. Keep it in step with
 * them: the migrations test compares the two, table by table.
 */
export function latestStreamSchema(db: SqlDatabase): void {
  db.run(sql`CREATE TABLE events (
    version INTEGER PRIMARY KEY, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL,
    message_id TEXT NOT NULL, recorded_at TEXT NOT NULL, schema_version INTEGER NOT NULL DEFAULT 1)`);
  db.run(sql`CREATE TABLE snapshots (version INTEGER PRIMARY KEY, state TEXT NOT NULL, schema INTEGER NOT NULL)`);
  db.run(sql`CREATE TABLE stream (
    id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, version INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('live', 'deleted')), state TEXT, usage TEXT, published INTEGER NOT NULL DEFAULT -1)`);
  db.run(sql`CREATE TABLE processed_messages (
    seq INTEGER PRIMARY KEY, principal TEXT NOT NULL, message_id TEXT NOT NULL, version INTEGER NOT NULL,
    fingerprint TEXT NOT NULL, response TEXT NOT NULL, recorded_at TEXT NOT NULL, UNIQUE (principal, message_id))`);
  db.run(sql`CREATE INDEX processed_messages_legacy ON processed_messages (principal) WHERE length(fingerprint) = 64`);
}

/** Options of a {@link SqliteStreamStore}. */
export type SqliteStreamStoreOptions = {
  /**
   * Keep an {@link Outbox}: the events appended from now on are unpublished until
   * {@link SqliteStreamStore.markPublished} passes them (for an object that publishes to the
   * read side). Default false: every appended event counts as published.
   */
  outbox?: boolean;
  /**
   * Called synchronously right after an append commits, before any await, with what it wrote: a
   * Durable Object arms its alarm here (for the events to send and the follow-ups it wrote), so that
   * the alarm is written in the same atomic batch as the events — a crash cannot keep one without
   * the other.
   */
  onAppended?: (request: AppendRequest) => void;
  /**
   * Called right after a hard delete emptied the object's storage — its alarm included (since
   * compatibility date 2026-02-24): an object that remembers setting an alarm must forget it.
   * `removed` says what went (counted just before, in the delete's turn: no command runs between).
   */
  onStorageEmptied?: (removed: StorageRemoved) => void;
  /**
   * Where the aggregate keeps its follow-ups: a schedule store over the same storage, which an
   * append writes in its own transaction. Without it the stream keeps none.
   */
  followUps?: SqliteScheduleStore;
  /**
   * What the object has cost so far, as JSON, written on the stream row by every append (the row
   * it writes anyway); read back by {@link SqliteStreamStore.storedUsage}.
   */
  usage?: () => string;
};

/** The first release's fingerprints are SHA-256 in hex; today's are short base-36 hashes. */
function isLegacyFingerprint(fingerprint: string): boolean {
  return /^[0-9a-f]{64}$/.test(fingerprint);
}

type StreamRow = { name: string; version: number; status: string };
type EventRow = { version: number; type: string; data: string; metadata: string; recorded_at: string; schema_version: number };

function recordedEvent(row: EventRow): RecordedEvent {
  return {
    version: row.version,
    type: row.type,
    data: JSON.parse(row.data) as Json,
    metadata: JSON.parse(row.metadata) as EventMetadata,
    recordedAt: row.recorded_at,
    schemaVersion: row.schema_version,
  };
}

/**
 * The {@link StreamStore} of an AggregateObject: one stream in the object's own SQLite storage,
 * on a versioned schema ({@link STREAM_MIGRATIONS}). Every write of a command runs in one
 * synchronous transaction (all or nothing). The outbox is a cursor, not rows: the version up to
 * which events were sent, kept in memory by each send and written with the stream row by the next
 * commit or {@link SqliteStreamStore.saveProgress} — after a crash, the events sent since it was
 * last written are sent again (at least once, in order; consumers skip what they applied).
 * Reading a stream that was never written creates nothing.
 */
export class SqliteStreamStore implements StreamStore, Outbox {
  readonly #storage: DurableObjectStorage;
  readonly #schema: VersionedSchema;
  readonly #keepsOutbox: boolean;
  readonly #onAppended: (request: AppendRequest) => void;
  readonly #onStorageEmptied: (removed: StorageRemoved) => void;
  readonly #followUps: SqliteScheduleStore | undefined;
  readonly #usage: () => string | null;
  /** Whether the first release's idempotency records may still be here (learnt by {@link open}). */
  #mayHoldLegacy = false;
  /** The outbox's cursor: the version up to which events were sent (null: not read from the stream row yet). */
  #published: number | null = null;
  /** The cursor as the stream row holds it. */
  #publishedSaved = -1;
  /**
   * The earliest time (epoch ms) a commit may be stamped with: just after this object's last hard
   * delete. The read side drops events of an erased stream recorded at or before its erasure; a
   * stream opened again in the same millisecond would otherwise have its events taken for the
   * erased stream's, for good.
   */
  #notBefore = 0;
  /**
   * The stream row as this store last read or wrote it (null: there is none; undefined: read it
   * first). Only this object writes the row, and only through this store: the outbox asks for it
   * with every send, which would otherwise be a query each time.
   */
  #known: StreamRow | null | undefined = undefined;

  /** A store over the object's storage; call {@link open} once, in the constructor, under `blockConcurrencyWhile`. */
  constructor(storage: DurableObjectStorage, options: SqliteStreamStoreOptions = {}) {
    this.#storage = storage;
    this.#keepsOutbox = options.outbox === true;
    this.#onAppended = options.onAppended ?? (() => {});
    this.#onStorageEmptied = options.onStorageEmptied ?? (() => {});
    this.#followUps = options.followUps;
    this.#usage = options.usage ?? (() => null);
    this.#schema = new VersionedSchema(storage, {
      name: "stream",
      migrations: STREAM_MIGRATIONS,
      latest: latestStreamSchema,
      // The first release recorded no version: its tables are version 1.
      unversioned: (db) => (db.hasTable("stream") ? 1 : 0),
    });
  }

  /** Learns the schema's version and upgrades existing tables to the latest (reads only when nothing exists). */
  open(): void {
    this.#schema.open();
    // Records of the first release (moved to the anonymous caller by version 2) go with the
    // retention; until then, a caller without a record of their own may have one there. Answered
    // by the index that holds only those records (version 7; SQLite chooses it for this WHERE, a
    // test counts the rows read), not by reading every anonymous record.
    this.#mayHoldLegacy =
      this.#schema.exists && this.#db.first(sql`SELECT 1 AS found FROM processed_messages WHERE principal = '' AND length(fingerprint) = 64 LIMIT 1`) !== null;
  }

  /** What the object had cost when the stream row was last written (JSON), or null. */
  storedUsage(): string | null {
    if (!this.#schema.exists) return null;
    return this.#db.first<{ usage: string | null }>(sql`SELECT usage FROM stream WHERE id = 1`)?.usage ?? null;
  }

  /**
   * Writes on the stream row what the object did since its last commit: what it has cost so far,
   * and how far its events were sent (an alarm, between commits).
   */
  saveProgress(): void {
    if (!this.#schema.exists) return;
    const published = this.#cursor();
    this.#db.run(sql`UPDATE stream SET usage = ${this.#usage()}, published = MAX(published, ${published}) WHERE id = 1`);
    this.#publishedSaved = Math.max(this.#publishedSaved, published);
  }

  /** Whether events were sent since the stream row last said how far (see {@link saveProgress}). */
  publishedUnsaved(): boolean {
    return this.#published !== null && this.#published > this.#publishedSaved;
  }

  /** The stored stream name, or null when nothing is stored. */
  storedName(): string | null {
    return this.#row()?.name ?? null;
  }

  async streamState(): Promise<StreamState> {
    const row = this.#row();
    if (row === null) return { status: "missing", version: -1 };
    return { status: row.status as StreamStatus, version: row.version };
  }

  async processed(principal: string, messageId: string): Promise<ProcessedMessage | null> {
    if (!this.#schema.exists) return null;
    const own = this.#record(principal, messageId);
    if (own !== null || principal === "" || !this.#mayHoldLegacy) return own;
    // No record of this caller's: the first release may have recorded the id (for anyone).
    const kept = this.#record("", messageId);
    return kept?.legacy === true ? kept : null;
  }

  /** The record of `principal`'s message, marked `legacy` when the first release made it. */
  #record(principal: string, messageId: string): ProcessedMessage | null {
    const row = this.#db.first<{ fingerprint: string; response: string }>(
      sql`SELECT fingerprint, response FROM processed_messages WHERE principal = ${principal} AND message_id = ${messageId}`,
    );
    if (row === null) return null;
    const recorded: ProcessedMessage = { fingerprint: row.fingerprint, response: JSON.parse(row.response) as ServiceResponse };
    return principal === "" && isLegacyFingerprint(row.fingerprint) ? { ...recorded, legacy: true } : recorded;
  }

  async append(request: AppendRequest): Promise<AppendResult> {
    // The outbox's cursor rides on the row the commit writes anyway: sent events cost no write of
    // their own. A new stream has sent nothing; without an outbox, nothing is ever to be sent.
    const published = this.#keepsOutbox ? (request.expectedVersion === -1 ? -1 : this.#cursor()) : request.newVersion;
    const result = this.#schema.write((db) => this.#append(db, request, published));
    if (result.ok) {
      this.#published = published;
      this.#publishedSaved = published;
      const known = request.expectedVersion === -1 ? { name: request.streamName, status: "live" } : this.#known;
      this.#known = known === null || known === undefined ? undefined : { ...known, version: request.newVersion };
      this.#onAppended(request);
    }
    return result;
  }

  #append(db: SqlDatabase, request: AppendRequest, published: number): AppendResult {
    // The version check and the stream row's update are one statement: it moves the row only if
    // it is still at the expected version (or, for a new stream, creates it only if there is none).
    const state = request.state === undefined ? null : JSON.stringify(request.state);
    const usage = this.#usage();
    const moved =
      request.expectedVersion === -1
        ? db.run(sql`INSERT INTO stream (id, name, version, status, state, usage, published) VALUES (1, ${request.streamName}, ${request.newVersion}, 'live', ${state}, ${usage}, ${published})
            ON CONFLICT (id) DO NOTHING`)
        : db.run(sql`UPDATE stream SET version = ${request.newVersion}, state = ${state}, usage = ${usage}, published = ${published} WHERE id = 1 AND version = ${request.expectedVersion}`);
    if (moved === 0) {
      this.#known = undefined;
      return { ok: false, actualVersion: this.#row()?.version ?? -1 };
    }
    const now = Date.now();
    const recordedAt = isoTime(now > this.#notBefore ? now : this.#notBefore);
    let version = request.expectedVersion;
    for (const event of request.events) {
      version += 1;
      db.run(sql`INSERT INTO events (version, type, data, metadata, message_id, recorded_at, schema_version)
        VALUES (${version}, ${event.type}, ${JSON.stringify(event.data)}, ${JSON.stringify(event.metadata)},
                ${request.messageId}, ${recordedAt}, ${event.schemaVersion})`);
    }
    db.run(sql`INSERT INTO processed_messages (principal, message_id, version, fingerprint, response, recorded_at)
      VALUES (${request.principal}, ${request.messageId}, ${request.newVersion}, ${request.fingerprint},
              ${JSON.stringify(request.response)}, ${recordedAt})`);
    if (request.retention !== undefined) this.#compact(db, request.retention);
    // Inside this transaction (a savepoint of it): the follow-ups are stored with the events, or neither is.
    if (request.followUps !== undefined) this.#followUps?.writeFollowUps(request.followUps);
    const snapshot = request.snapshot;
    if (snapshot !== undefined) {
      // The newest snapshot of a schema wins; older ones of that schema only take space.
      db.run(sql`DELETE FROM snapshots WHERE schema = ${snapshot.schema}`);
      db.run(sql`INSERT INTO snapshots (version, state, schema) VALUES (${snapshot.version}, ${JSON.stringify(snapshot.state)}, ${snapshot.schema})`);
    }
    return { ok: true, version: request.newVersion };
  }

  /**
   * Drops the idempotency records the retention lets go. Both rules cut the oldest records, in
   * the order they were made: those before the first one recorded at or after `recordedBefore`
   * (the walk stops there — a clock that stepped back keeps a record longer, never drops a young
   * one), then all but the newest `keepLast`. Records are only ever cut from the oldest end and
   * each new one takes the next `seq`, so the `seq`s are consecutive and the newest `keepLast` are
   * those above `MAX(seq) - keepLast`: found without reading the rows they keep.
   */
  #compact(db: SqlDatabase, retention: Retention): void {
    db.run(sql`DELETE FROM processed_messages WHERE seq < COALESCE(
      (SELECT seq FROM processed_messages WHERE recorded_at >= ${retention.recordedBefore} ORDER BY seq LIMIT 1),
      (SELECT MAX(seq) + 1 FROM processed_messages))`);
    if (retention.keepLast === undefined) return;
    db.run(sql`DELETE FROM processed_messages WHERE seq <= (SELECT MAX(seq) FROM processed_messages) - ${retention.keepLast}`);
  }

  async latestSnapshot(schema: number): Promise<Snapshot | null> {
    if (!this.#schema.exists) return null;
    const row = this.#db.first<{ version: number; state: string; schema: number }>(
      sql`SELECT version, state, schema FROM snapshots WHERE schema = ${schema} ORDER BY version DESC LIMIT 1`,
    );
    return row === null ? null : { version: row.version, state: JSON.parse(row.state) as Json, schema: row.schema };
  }

  async readEvents(from: number, limit: number): Promise<RecordedEvent[]> {
    if (!this.#schema.exists) return [];
    return this.#db
      .all<EventRow>(
        sql`SELECT version, type, data, metadata, recorded_at, schema_version FROM events WHERE version >= ${from} ORDER BY version LIMIT ${limit}`,
      )
      .map(recordedEvent);
  }

  async replayEvents(from: number, limit: number): Promise<ReplayedEvent[]> {
    if (!this.#schema.exists) return [];
    const rows = this.#db.all<{ version: number; type: string; data: string; schema_version: number }>(
      sql`SELECT version, type, data, schema_version FROM events WHERE version >= ${from} ORDER BY version LIMIT ${limit}`,
    );
    return rows.map((row) => ({ version: row.version, type: row.type, data: JSON.parse(row.data) as Json, schemaVersion: row.schema_version }));
  }

  /** Whether committed events wait to be sent (false when nothing was ever written). */
  hasUnpublished(): boolean {
    return this.unpublishedCount() > 0;
  }

  /** How many committed events wait to be sent (0 without an outbox). */
  unpublishedCount(): number {
    if (!this.#keepsOutbox) return 0;
    // The cursor in memory is the true one: only this object writes the row, from it.
    return Math.max(0, (this.#row()?.version ?? -1) - this.#cursor());
  }

  async unpublished(limit: number): Promise<{ streamName: string; events: RecordedEvent[] }> {
    if (!this.#keepsOutbox || !this.#schema.exists) return { streamName: "", events: [] };
    const events = this.#db
      .all<EventRow>(
        sql`SELECT version, type, data, metadata, recorded_at, schema_version FROM events WHERE version > ${this.#cursor()} ORDER BY version LIMIT ${limit}`,
      )
      .map(recordedEvent);
    return { streamName: events.length === 0 ? "" : (this.storedName() ?? ""), events };
  }

  /** Moves the cursor in memory: the stream row gets it with the next commit or {@link saveProgress}. */
  async markPublished(version: number): Promise<void> {
    if (!this.#schema.exists) return;
    this.#published = Math.max(this.#cursor(), version);
  }

  /** The outbox's cursor, read from the stream row the first time (-1: nothing sent, or no stream). */
  #cursor(): number {
    if (this.#published === null) {
      const row = this.#schema.exists ? this.#db.first<{ published: number }>(sql`SELECT published FROM stream WHERE id = 1`) : null;
      this.#published = row?.published ?? -1;
      this.#publishedSaved = this.#published;
    }
    return this.#published;
  }

  async savedState(): Promise<SavedState | null> {
    if (!this.#schema.exists) return null;
    const row = this.#db.first<{ version: number; state: string | null }>(sql`SELECT version, state FROM stream WHERE id = 1`);
    if (row === null || row.state === null) return null;
    return { version: row.version, state: JSON.parse(row.state) as Json };
  }

  async softDelete(expectedVersion: number | undefined): Promise<DeleteResult> {
    return this.#storage.transactionSync((): DeleteResult => {
      const refused = this.#deleteRefusal(expectedVersion);
      if (refused !== null) return refused;
      this.#db.run(sql`UPDATE stream SET status = 'deleted' WHERE id = 1`);
      // Its follow-ups go with it, in the same transaction (delivered, they would find it gone);
      // how earlier ones ended stays.
      this.#followUps?.cancelAll();
      this.#known = undefined;
      return { ok: true };
    });
  }

  async hardDelete(expectedVersion: number | undefined): Promise<DeleteResult> {
    const refused = this.#deleteRefusal(expectedVersion);
    if (refused !== null) return refused;
    const counts = this.#storedCounts();
    const followUps = this.#followUps?.pendingCount() ?? 0;
    const alarm = (await this.#storage.getAlarm()) !== null;
    await this.#storage.deleteAll();
    this.#schema.forget();
    this.#followUps?.forget();
    this.#mayHoldLegacy = false;
    this.#published = null;
    this.#publishedSaved = -1;
    this.#known = undefined;
    // Taken after the delete, by the clock that recorded the events: every one of them is older.
    const deletedAt = Date.now();
    this.#notBefore = deletedAt + 1;
    this.#onStorageEmptied({ deletedAt: new Date(deletedAt).toISOString(), ...counts, followUps, alarm });
    return { ok: true };
  }

  async followUps(): Promise<PendingFollowUp[]> {
    return this.#followUps?.pendingFollowUps() ?? [];
  }

  async followUpOutcomes(limit: number): Promise<ScheduleOutcome[]> {
    return (await this.#followUps?.outcomes(undefined, limit)) ?? [];
  }

  get #db(): SqlDatabase {
    return this.#schema.db;
  }

  /** How many rows of each kind the stream holds, and how many events are not known to be sent (a hard delete reports them). */
  #storedCounts(): Pick<StorageRemoved, "events" | "snapshots" | "idempotencyRecords" | "outbox"> {
    const row = this.#db.first<{ events: number; snapshots: number; records: number }>(
      sql`SELECT (SELECT COUNT(*) FROM events) AS events, (SELECT COUNT(*) FROM snapshots) AS snapshots,
        (SELECT COUNT(*) FROM processed_messages) AS records`,
    );
    return { events: row?.events ?? 0, snapshots: row?.snapshots ?? 0, idempotencyRecords: row?.records ?? 0, outbox: this.unpublishedCount() };
  }

  #deleteRefusal(expectedVersion: number | undefined): DeleteResult | null {
    const row = this.#row();
    if (row === null) return { ok: false, reason: "not_found" };
    if (expectedVersion !== undefined && expectedVersion !== row.version) {
      return { ok: false, reason: "wrong_expected_version", actualVersion: row.version };
    }
    return null;
  }

  /** The stream row without its saved state (up to 2 MB for a state-based aggregate: read only by {@link savedState}). */
  #row(): StreamRow | null {
    if (!this.#schema.exists) return null;
    if (this.#known === undefined) this.#known = this.#db.first<StreamRow>(sql`SELECT name, version, status FROM stream WHERE id = 1`);
    return this.#known;
  }
}
