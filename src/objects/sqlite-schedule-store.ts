import type { Message } from "../core/messaging/message.js";
import type { Recurrence } from "../core/scheduling/schedule.js";
import type { Claim, Reschedule, ScheduledEntry, ScheduleStore } from "../core/scheduling/schedule-store.js";
import { LazySchema } from "./sqlite-schema.js";

/** The scheduler's schema, created by the first write (see {@link LazySchema}). */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS schedules (
     id TEXT PRIMARY KEY, key TEXT NOT NULL, service TEXT NOT NULL, due_at INTEGER NOT NULL,
     template TEXT NOT NULL, message TEXT NOT NULL, attempts INTEGER NOT NULL, late INTEGER NOT NULL, recurrence TEXT,
     occurrence INTEGER NOT NULL, public_only INTEGER NOT NULL, owner TEXT NOT NULL, created_at TEXT NOT NULL)`,
  "CREATE INDEX IF NOT EXISTS schedules_by_due ON schedules (due_at, id)",
];

type Row = {
  id: string;
  key: string;
  service: string;
  due_at: number;
  template: string;
  message: string;
  attempts: number;
  late: number;
  recurrence: string | null;
  occurrence: number;
  public_only: number;
  owner: string;
  created_at: string;
};

function entryOf(row: Row): ScheduledEntry {
  return {
    id: row.id,
    key: row.key,
    service: row.service,
    dueAt: row.due_at,
    template: JSON.parse(row.template) as Message,
    message: JSON.parse(row.message) as Message,
    attempts: row.attempts,
    late: row.late === 1,
    recurrence: row.recurrence === null ? null : (JSON.parse(row.recurrence) as Recurrence),
    occurrence: row.occurrence,
    publicOnly: row.public_only === 1,
    owner: row.owner,
    createdAt: row.created_at,
  };
}

/** The {@link ScheduleStore} of a SchedulerObject: its entries in the object's SQLite storage. */
export class SqliteScheduleStore implements ScheduleStore {
  readonly #sql: SqlStorage;
  readonly #schema: LazySchema;

  /** A store over the object's storage; call {@link open} once, in the constructor. */
  constructor(storage: DurableObjectStorage) {
    this.#sql = storage.sql;
    this.#schema = new LazySchema(storage, "schedules", SCHEMA);
  }

  /** Learns whether the schema exists (reads only). */
  open(): void {
    this.#schema.open();
  }

  async insert(entry: ScheduledEntry): Promise<boolean> {
    return this.#schema.write(
      () =>
        this.#sql.exec(
          `INSERT INTO schedules (id, key, service, due_at, template, message, attempts, late, recurrence, occurrence, public_only, owner, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
          entry.id,
          entry.key,
          entry.service,
          entry.dueAt,
          JSON.stringify(entry.template),
          JSON.stringify(entry.message),
          entry.attempts,
          entry.late ? 1 : 0,
          entry.recurrence === null ? null : JSON.stringify(entry.recurrence),
          entry.occurrence,
          entry.publicOnly ? 1 : 0,
          entry.owner,
          entry.createdAt,
        ).rowsWritten > 0,
    );
  }

  async get(id: string): Promise<ScheduledEntry | null> {
    if (!this.#schema.exists) return null;
    const row = this.#sql.exec<Row>("SELECT * FROM schedules WHERE id = ?", id).toArray()[0];
    return row === undefined ? null : entryOf(row);
  }

  async claimDue(now: number, limit: number, leaseUntil: (entry: ScheduledEntry) => number): Promise<ScheduledEntry[]> {
    if (!this.#schema.exists) return [];
    return this.#schema.write(() =>
      this.#sql
        .exec<Row>("SELECT * FROM schedules WHERE due_at <= ? ORDER BY due_at, id LIMIT ?", now, limit)
        .toArray()
        .map((row) => {
          const entry = entryOf(row);
          const claimed = { ...entry, attempts: entry.attempts + 1, dueAt: leaseUntil(entry) };
          this.#sql.exec("UPDATE schedules SET attempts = ?, due_at = ? WHERE id = ?", claimed.attempts, claimed.dueAt, entry.id);
          return claimed;
        }),
    );
  }

  async settle(id: string, claim: Claim, change: Reschedule | null): Promise<boolean> {
    if (!this.#schema.exists) return false;
    // One conditional statement: it changes the entry only if it is still as the claim left it.
    if (change === null) {
      return this.#sql.exec("DELETE FROM schedules WHERE id = ? AND attempts = ? AND due_at = ?", id, claim.attempts, claim.dueAt).rowsWritten > 0;
    }
    return (
      this.#sql.exec(
        `UPDATE schedules SET due_at = ?, message = COALESCE(?, message), attempts = COALESCE(?, attempts),
           occurrence = COALESCE(?, occurrence), late = COALESCE(?, late)
         WHERE id = ? AND attempts = ? AND due_at = ?`,
        change.dueAt,
        change.message === undefined ? null : JSON.stringify(change.message),
        change.attempts ?? null,
        change.occurrence ?? null,
        change.late === undefined ? null : change.late ? 1 : 0,
        id,
        claim.attempts,
        claim.dueAt,
      ).rowsWritten > 0
    );
  }

  async remove(id: string, owner?: string): Promise<boolean> {
    if (!this.#schema.exists) return false;
    const cursor =
      owner === undefined
        ? this.#sql.exec("DELETE FROM schedules WHERE id = ?", id)
        : this.#sql.exec("DELETE FROM schedules WHERE id = ? AND owner = ?", id, owner);
    return cursor.rowsWritten > 0;
  }

  async list(owner: string | undefined, limit: number): Promise<ScheduledEntry[]> {
    if (!this.#schema.exists) return [];
    const rows =
      owner === undefined
        ? this.#sql.exec<Row>("SELECT * FROM schedules ORDER BY due_at, id LIMIT ?", limit)
        : this.#sql.exec<Row>("SELECT * FROM schedules WHERE owner = ? ORDER BY due_at, id LIMIT ?", owner, limit);
    return rows.toArray().map(entryOf);
  }

  async earliestDue(): Promise<number | null> {
    if (!this.#schema.exists) return null;
    const row = this.#sql.exec<{ due: number | null }>("SELECT MIN(due_at) AS due FROM schedules").toArray()[0];
    return row?.due ?? null;
  }
}
