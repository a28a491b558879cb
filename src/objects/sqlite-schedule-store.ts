import type { Message } from "../core/messaging/message.js";
import type { Recurrence } from "../core/scheduling/schedule.js";
import type { Claim, Reschedule, ScheduledEntry, ScheduleStore } from "../core/scheduling/schedule-store.js";
import { sql, type SqlDatabase } from "./sql.js";
import { VersionedSchema, type Migration } from "./sqlite-migrations.js";

/**
 * The scheduler's schema history. Never edit a migration that has shipped: add the next one.
 * Version 1 is the schema of the first release, which created it without a version row.
 */
export const SCHEDULE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "schedules: one row per scheduled message, by id",
    up(db) {
      db.run(sql`CREATE TABLE IF NOT EXISTS schedules (
        id TEXT PRIMARY KEY, key TEXT NOT NULL, service TEXT NOT NULL, due_at INTEGER NOT NULL,
        template TEXT NOT NULL, message TEXT NOT NULL, attempts INTEGER NOT NULL, late INTEGER NOT NULL, recurrence TEXT,
        occurrence INTEGER NOT NULL, public_only INTEGER NOT NULL, owner TEXT NOT NULL, created_at TEXT NOT NULL)`);
      db.run(sql`CREATE INDEX IF NOT EXISTS schedules_by_due ON schedules (due_at, id)`);
    },
  },
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
  readonly #schema: VersionedSchema;
  readonly #db: SqlDatabase;

  /** A store over the object's storage; call {@link open} once, in the constructor, under `blockConcurrencyWhile`. */
  constructor(storage: DurableObjectStorage) {
    this.#schema = new VersionedSchema(storage, {
      name: "schedules",
      migrations: SCHEDULE_MIGRATIONS,
      // The first release created version 1 without recording it.
      unversioned: (db) => (db.hasTable("schedules") ? 1 : 0),
    });
    this.#db = this.#schema.db;
  }

  /** Learns whether the schema exists and upgrades it in place when it is older than this code. */
  open(): void {
    this.#schema.open();
  }

  async insert(entry: ScheduledEntry): Promise<boolean> {
    return this.#schema.write(
      (db) =>
        db.run(sql`INSERT INTO schedules (id, key, service, due_at, template, message, attempts, late, recurrence, occurrence, public_only, owner, created_at)
          VALUES (${entry.id}, ${entry.key}, ${entry.service}, ${entry.dueAt}, ${JSON.stringify(entry.template)}, ${JSON.stringify(entry.message)},
            ${entry.attempts}, ${entry.late}, ${entry.recurrence === null ? null : JSON.stringify(entry.recurrence)}, ${entry.occurrence},
            ${entry.publicOnly}, ${entry.owner}, ${entry.createdAt})
          ON CONFLICT (id) DO NOTHING`) > 0,
    );
  }

  async get(id: string): Promise<ScheduledEntry | null> {
    if (!this.#schema.exists) return null;
    const row = this.#db.first<Row>(sql`SELECT * FROM schedules WHERE id = ${id}`);
    return row === null ? null : entryOf(row);
  }

  async claimDue(now: number, limit: number, leaseUntil: (entry: ScheduledEntry) => number): Promise<ScheduledEntry[]> {
    if (!this.#schema.exists) return [];
    return this.#schema.write((db) =>
      db.all<Row>(sql`SELECT * FROM schedules WHERE due_at <= ${now} ORDER BY due_at, id LIMIT ${limit}`).map((row) => {
        const entry = entryOf(row);
        const claimed = { ...entry, attempts: entry.attempts + 1, dueAt: leaseUntil(entry) };
        db.run(sql`UPDATE schedules SET attempts = ${claimed.attempts}, due_at = ${claimed.dueAt} WHERE id = ${entry.id}`);
        return claimed;
      }),
    );
  }

  async settle(id: string, claim: Claim, change: Reschedule | null): Promise<boolean> {
    if (!this.#schema.exists) return false;
    // One conditional statement: it changes the entry only if it is still as the claim left it.
    const stillClaimed = sql`id = ${id} AND attempts = ${claim.attempts} AND due_at = ${claim.dueAt}`;
    if (change === null) return this.#db.run(sql`DELETE FROM schedules WHERE ${stillClaimed}`) > 0;
    return (
      this.#db.run(sql`UPDATE schedules SET due_at = ${change.dueAt},
          message = COALESCE(${change.message === undefined ? null : JSON.stringify(change.message)}, message),
          attempts = COALESCE(${change.attempts ?? null}, attempts),
          occurrence = COALESCE(${change.occurrence ?? null}, occurrence),
          late = COALESCE(${change.late ?? null}, late)
        WHERE ${stillClaimed}`) > 0
    );
  }

  async remove(id: string, owner?: string): Promise<boolean> {
    if (!this.#schema.exists) return false;
    const byOwner = owner === undefined ? sql`` : sql` AND owner = ${owner}`;
    return this.#db.run(sql`DELETE FROM schedules WHERE id = ${id}${byOwner}`) > 0;
  }

  async list(owner: string | undefined, limit: number): Promise<ScheduledEntry[]> {
    if (!this.#schema.exists) return [];
    const byOwner = owner === undefined ? sql`` : sql`WHERE owner = ${owner}`;
    return this.#db.all<Row>(sql`SELECT * FROM schedules ${byOwner} ORDER BY due_at, id LIMIT ${limit}`).map(entryOf);
  }

  async earliestDue(): Promise<number | null> {
    if (!this.#schema.exists) return null;
    return this.#db.first<{ due: number | null }>(sql`SELECT MIN(due_at) AS due FROM schedules`)?.due ?? null;
  }
}
