import type { Json } from "../core/shared/json.js";
import type { ServiceResponse } from "../core/messaging/response.js";
import type {
  AppendRequest,
  AppendResult,
  DeleteResult,
  EventMetadata,
  ProcessedMessage,
  RecordedEvent,
  SavedState,
  Snapshot,
  StreamState,
  StreamStatus,
  StreamStore,
} from "../core/aggregates/stream-store.js";
import { LazySchema } from "./sqlite-schema.js";

/** The schema (DESIGN §4), created by the first write (see {@link LazySchema}). */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS events (
     version INTEGER PRIMARY KEY, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL,
     message_id TEXT NOT NULL, recorded_at TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS snapshots (version INTEGER PRIMARY KEY, state TEXT NOT NULL, schema INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS stream (
     id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, version INTEGER NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('live', 'deleted')), state TEXT)`,
  `CREATE TABLE IF NOT EXISTS processed_messages (
     message_id TEXT PRIMARY KEY, version INTEGER NOT NULL, fingerprint TEXT NOT NULL, response TEXT NOT NULL,
     recorded_at TEXT NOT NULL)`,
];

type StreamRow = { name: string; version: number; status: string; state: string | null };
type EventRow = { version: number; type: string; data: string; metadata: string; recorded_at: string };

/**
 * The {@link StreamStore} of an AggregateObject: one stream in the object's own SQLite storage.
 * Every write of a command runs in one synchronous transaction (all or nothing).
 */
export class SqliteStreamStore implements StreamStore {
  readonly #storage: DurableObjectStorage;
  readonly #schema: LazySchema;

  /** A store over the object's storage; call {@link open} once, in the constructor. */
  constructor(storage: DurableObjectStorage) {
    this.#storage = storage;
    this.#schema = new LazySchema(storage, "stream", SCHEMA);
  }

  /** Learns whether the schema exists (reads only). */
  open(): void {
    this.#schema.open();
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

  async processed(messageId: string): Promise<ProcessedMessage | null> {
    if (!this.#schema.exists) return null;
    const rows = this.#storage.sql
      .exec<{ fingerprint: string; response: string }>(
        "SELECT fingerprint, response FROM processed_messages WHERE message_id = ?",
        messageId,
      )
      .toArray();
    const row = rows[0];
    return row === undefined ? null : { fingerprint: row.fingerprint, response: JSON.parse(row.response) as ServiceResponse };
  }

  async append(request: AppendRequest): Promise<AppendResult> {
    return this.#schema.write(() => this.#append(this.#storage.sql, request));
  }

  #append(sql: SqlStorage, request: AppendRequest): AppendResult {
    const actual = this.#row()?.version ?? -1;
    if (actual !== request.expectedVersion) return { ok: false, actualVersion: actual };
    const recordedAt = new Date().toISOString();
    let version = request.expectedVersion;
    for (const event of request.events) {
      version += 1;
      sql.exec(
        "INSERT INTO events (version, type, data, metadata, message_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
        version,
        event.type,
        JSON.stringify(event.data),
        JSON.stringify(event.metadata),
        request.messageId,
        recordedAt,
      );
    }
    sql.exec(
      `INSERT INTO stream (id, name, version, status, state) VALUES (1, ?, ?, 'live', ?)
       ON CONFLICT (id) DO UPDATE SET version = excluded.version, state = excluded.state`,
      request.streamName,
      request.newVersion,
      request.state === undefined ? null : JSON.stringify(request.state),
    );
    sql.exec(
      "INSERT INTO processed_messages (message_id, version, fingerprint, response, recorded_at) VALUES (?, ?, ?, ?, ?)",
      request.messageId,
      request.newVersion,
      request.fingerprint,
      JSON.stringify(request.response),
      recordedAt,
    );
    const snapshot = request.snapshot;
    if (snapshot !== undefined) {
      // The newest snapshot of a schema wins; older ones of that schema only take space.
      sql.exec("DELETE FROM snapshots WHERE schema = ?", snapshot.schema);
      sql.exec(
        "INSERT INTO snapshots (version, state, schema) VALUES (?, ?, ?)",
        snapshot.version,
        JSON.stringify(snapshot.state),
        snapshot.schema,
      );
    }
    return { ok: true, version: request.newVersion };
  }

  async latestSnapshot(schema: number): Promise<Snapshot | null> {
    if (!this.#schema.exists) return null;
    const rows = this.#storage.sql
      .exec<{ version: number; state: string; schema: number }>(
        "SELECT version, state, schema FROM snapshots WHERE schema = ? ORDER BY version DESC LIMIT 1",
        schema,
      )
      .toArray();
    const row = rows[0];
    return row === undefined ? null : { version: row.version, state: JSON.parse(row.state) as Json, schema: row.schema };
  }

  async readEvents(from: number, limit: number): Promise<RecordedEvent[]> {
    if (!this.#schema.exists) return [];
    return this.#storage.sql
      .exec<EventRow>(
        "SELECT version, type, data, metadata, recorded_at FROM events WHERE version >= ? ORDER BY version LIMIT ?",
        from,
        limit,
      )
      .toArray()
      .map((row) => ({
        version: row.version,
        type: row.type,
        data: JSON.parse(row.data) as Json,
        metadata: JSON.parse(row.metadata) as EventMetadata,
        recordedAt: row.recorded_at,
      }));
  }

  async savedState(): Promise<SavedState | null> {
    const row = this.#row();
    if (row === null || row.state === null) return null;
    return { version: row.version, state: JSON.parse(row.state) as Json };
  }

  async softDelete(expectedVersion: number | undefined): Promise<DeleteResult> {
    return this.#storage.transactionSync((): DeleteResult => {
      const refused = this.#deleteRefusal(expectedVersion);
      if (refused !== null) return refused;
      this.#storage.sql.exec("UPDATE stream SET status = 'deleted' WHERE id = 1");
      return { ok: true };
    });
  }

  async hardDelete(expectedVersion: number | undefined): Promise<DeleteResult> {
    const refused = this.#deleteRefusal(expectedVersion);
    if (refused !== null) return refused;
    await this.#storage.deleteAll();
    this.#schema.forget();
    return { ok: true };
  }

  #deleteRefusal(expectedVersion: number | undefined): DeleteResult | null {
    const row = this.#row();
    if (row === null) return { ok: false, reason: "not_found" };
    if (expectedVersion !== undefined && expectedVersion !== row.version) {
      return { ok: false, reason: "wrong_expected_version", actualVersion: row.version };
    }
    return null;
  }

  #row(): StreamRow | null {
    if (!this.#schema.exists) return null;
    return this.#storage.sql.exec<StreamRow>("SELECT name, version, status, state FROM stream WHERE id = 1").toArray()[0] ?? null;
  }
}
