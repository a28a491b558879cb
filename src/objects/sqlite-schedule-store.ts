import type { Message } from "../core/messaging/message.js";
import type { Recurrence } from "../core/scheduling/schedule.js";
import type { ServiceResponse } from "../core/messaging/response.js";
import {
  RECENT_OUTCOMES,
  type Claim,
  type ClaimedEntry,
  type InsertResult,
  type PendingLimits,
  type RemovedEntry,
  type Reschedule,
  type ScheduledEntry,
  type ScheduleOutcome,
  type ScheduleStore,
  type Settlement,
} from "../core/scheduling/schedule-store.js";
import { MAX_PENDING_FOLLOW_UPS, pendingFollowUp, type FollowUpWrites, type PendingFollowUp } from "../core/scheduling/follow-up.js";
import { newId } from "../core/shared/ids.js";
import { rawSql, sql, sqlList, type SqlDatabase, type SqlQuery } from "./sql.js";
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
  {
    version: 2,
    description: "schedules: ids scoped by owner (the caller's principal); a row number and a claim token per entry",
    up(db) {
      // SQLite cannot change a primary key: the table is rebuilt, rows copied in due order.
      db.run(sql`CREATE TABLE schedules_v2 (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL, service TEXT NOT NULL,
        due_at INTEGER NOT NULL, template TEXT NOT NULL, message TEXT NOT NULL, attempts INTEGER NOT NULL, late INTEGER NOT NULL,
        recurrence TEXT, occurrence INTEGER NOT NULL, public_only INTEGER NOT NULL, created_at TEXT NOT NULL, claim TEXT,
        UNIQUE (owner, id))`);
      // Version 1 kept the JSON of the caller's identity ("null": anonymous) as owner. The owner is
      // now the principal: the one the gateway put in the message's assigns, else that JSON.
      db.run(sql`INSERT INTO schedules_v2
          (owner, id, key, service, due_at, template, message, attempts, late, recurrence, occurrence, public_only, created_at)
        SELECT CASE
            WHEN json_type(template, '$.assigns.principal') = 'text' AND json_extract(template, '$.assigns.principal') <> ''
              THEN json_extract(template, '$.assigns.principal')
            WHEN owner = 'null' THEN ''
            ELSE owner END,
          id, key, service, due_at, template, message, attempts, late, recurrence, occurrence, public_only, created_at
        FROM schedules ORDER BY due_at, id`);
      db.run(sql`DROP TABLE schedules`);
      db.run(sql`ALTER TABLE schedules_v2 RENAME TO schedules`);
      db.run(sql`CREATE INDEX schedules_by_due ON schedules (due_at, seq)`);
    },
  },
  {
    version: 3,
    description: "schedule_outcomes: the most recent denials and give-ups, for operators",
    up(db) {
      db.run(sql`CREATE TABLE schedule_outcomes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, owner TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL,
        service TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL, attempts INTEGER NOT NULL, response TEXT)`);
    },
  },
  {
    version: 4,
    description: "schedule_messages: the messages apart from the rows that claims and settles rewrite",
    up(db) {
      // A claim rewrites its rows (attempts, lease, token): without the messages in them, a row
      // is a tenth of its size, and so is what every claim writes. The template is NULL while the
      // message is still the template (a one-off that was never retried): stored once, not twice.
      db.run(sql`CREATE TABLE schedule_messages (seq INTEGER PRIMARY KEY, template TEXT, message TEXT NOT NULL)`);
      db.run(sql`INSERT INTO schedule_messages (seq, template, message)
        SELECT seq, CASE WHEN template = message THEN NULL ELSE template END, message FROM schedules`);
      db.run(sql`ALTER TABLE schedules DROP COLUMN template`);
      db.run(sql`ALTER TABLE schedules DROP COLUMN message`);
      // However an entry goes, its messages go with it.
      db.run(sql`CREATE TRIGGER schedule_messages_follow AFTER DELETE ON schedules
        BEGIN DELETE FROM schedule_messages WHERE seq = old.seq; END`);
    },
  },
];

/**
 * The schema {@link SCHEDULE_MIGRATIONS} lead to, made at once for a new store. Keep it in step
 * with them: the migrations test compares the two, table by table.
 */
export function latestScheduleSchema(db: SqlDatabase): void {
  db.run(sql`CREATE TABLE schedules (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL, service TEXT NOT NULL,
    due_at INTEGER NOT NULL, attempts INTEGER NOT NULL, late INTEGER NOT NULL,
    recurrence TEXT, occurrence INTEGER NOT NULL, public_only INTEGER NOT NULL, created_at TEXT NOT NULL, claim TEXT,
    UNIQUE (owner, id))`);
  db.run(sql`CREATE INDEX schedules_by_due ON schedules (due_at, seq)`);
  db.run(sql`CREATE TABLE schedule_outcomes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, owner TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL,
    service TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL, attempts INTEGER NOT NULL, response TEXT)`);
  db.run(sql`CREATE TABLE schedule_messages (seq INTEGER PRIMARY KEY, template TEXT, message TEXT NOT NULL)`);
  db.run(sql`CREATE TRIGGER schedule_messages_follow AFTER DELETE ON schedules
    BEGIN DELETE FROM schedule_messages WHERE seq = old.seq; END`);
}

/** A row of the current schema. The owner is stored as '' when anonymous (a principal is never empty). */
type Row = {
  seq: number;
  owner: string;
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
  created_at: string;
};

/**
 * A row as a claim reads it: seq, owner, id, key, service, message, attempts, late, recurrence,
 * occurrence, public_only, created_at, the template (recurring entries only) and — for an entry
 * claimed when its object stopped — the claim.
 */
type ClaimTuple = [number, string, string, string, string, string, number, number, string | null, number, number, string, string | null, ...claim: string[]];

/**
 * The claims of entries that were claimed when their object stopped (see `releaseStaleClaims`):
 * alone (its delivery was the only one under way: what stopped the object, perhaps), or in a batch
 * (under way beside others, or not started yet). No incarnation's token: those are `<incarnation>:<n>`.
 */
const STOPPED_ALONE = "stopped alone";
const STOPPED_IN_BATCH = "stopped in a batch";

/** A row of `schedule_outcomes`. */
type OutcomeRow = {
  seq: number;
  at: string;
  owner: string;
  id: string;
  key: string;
  service: string;
  outcome: string;
  reason: string;
  attempts: number;
  response: string | null;
};

const ANONYMOUS = "";

/** Owners whose pending entries a store keeps counted at most (see `#pending`). */
const COUNTED_OWNERS = 1000;

/** An entry's columns, from `schedules` joined with `schedule_messages` (a NULL template is the message). */
const ENTRY_COLUMNS = rawSql(`seq, owner, id, key, service, due_at, attempts, late, recurrence, occurrence, public_only, created_at,
  COALESCE(template, message) AS template, message`);
const ownerColumn = (owner: string | null) => owner ?? ANONYMOUS;

function entryOf(row: Row): ScheduledEntry {
  return {
    id: row.id,
    owner: row.owner === ANONYMOUS ? null : row.owner,
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
    createdAt: row.created_at,
  };
}

/**
 * The {@link ScheduleStore} of a SchedulerObject: its entries in the object's SQLite storage. An
 * AggregateObject keeps its follow-ups in one too, beside its stream (see `writeFollowUps`).
 */
export class SqliteScheduleStore implements ScheduleStore {
  readonly #schema: VersionedSchema;
  readonly #db: SqlDatabase;
  /**
   * This store's claims are `<incarnation>:<n>`: a claim token is never reused, and the claims of
   * an earlier incarnation (a crashed or replaced object) are told apart from this one's.
   */
  readonly #incarnation = newId();
  #claims = 0;
  /**
   * Whether entries claimed when the object stopped may still wait (see {@link releaseStaleClaims}):
   * true at first, for those an earlier incarnation marked and did not get to (the first claim
   * looks), and again whenever claims are released.
   */
  #mayHoldStopped = true;
  /** Whether the next claim, while stopped entries wait, takes one of them (else a batch of the others). */
  #stoppedNext = true;
  /**
   * How many entries are pending — on the key, and per owner — as this store last counted them
   * (each up to its limit: all a check needs) and changed them since by its own inserts and the
   * removals of delivered and cancelled entries, or null. Without it every schedule read up to
   * `perKey` rows (each billed) to learn what the one before it left. Any other write that
   * removes entries forgets it: the next insert counts again.
   */
  #pending: { limits: PendingLimits; all: number; owners: Map<string, number> } | null = null;

  /** A store over the object's storage; call {@link open} once, in the constructor, under `blockConcurrencyWhile`. */
  constructor(storage: DurableObjectStorage) {
    this.#schema = new VersionedSchema(storage, {
      name: "schedules",
      migrations: SCHEDULE_MIGRATIONS,
      latest: latestScheduleSchema,
      // The first release created version 1 without recording it.
      unversioned: (db) => (db.hasTable("schedules") ? 1 : 0),
    });
    this.#db = this.#schema.db;
  }

  /**
   * Learns whether the schema exists and upgrades it in place when it is older than this code;
   * then releases the claims of earlier incarnations (see {@link releaseStaleClaims}). Call it
   * once, in the constructor, under `blockConcurrencyWhile`. Answers how many it released.
   */
  open(now: number = Date.now()): number {
    this.#schema.open();
    return this.releaseStaleClaims(now);
  }

  /**
   * Makes the entries that another incarnation of the object claimed — deliveries in flight when
   * it crashed or was replaced — due at `now`, rather than when their leases end: a crash delays
   * a delivery by the time the object takes to start again. Only one incarnation of an object
   * runs at a time, so a claim that is not this store's was left behind. The claimed attempt keeps
   * counting (it may have reached the service), and the entry is marked as stopped — alone when its
   * claim held it alone: each is claimed alone next (see {@link claimDue}), and the scheduler asks
   * the app's policy about the attempt of one that stopped alone, which never answered, before it
   * delivers it again. A delivery that stops its object every time is caught so: alone at the
   * latest after its second crash, and given up as the policy says; its batchmates are delivered
   * again once, not at every crash.
   */
  releaseStaleClaims(now: number): number {
    if (!this.#schema.exists) return 0;
    const mine = `${this.#incarnation}:`;
    const stale = sql`claim IS NOT NULL AND claim NOT IN (${STOPPED_ALONE}, ${STOPPED_IN_BATCH}) AND substr(claim, 1, ${mine.length}) <> ${mine}`;
    const released = this.#schema.write(
      (db) =>
        // The claims that held one entry, found before any is marked (the IN list is read once).
        db.run(sql`UPDATE schedules SET due_at = MIN(due_at, ${now}), claim = ${STOPPED_ALONE}
          WHERE claim IN (SELECT claim FROM schedules WHERE ${stale} GROUP BY claim HAVING COUNT(*) = 1)`) +
        db.run(sql`UPDATE schedules SET due_at = MIN(due_at, ${now}), claim = ${STOPPED_IN_BATCH} WHERE ${stale}`),
    );
    if (released > 0) this.#mayHoldStopped = true;
    return released;
  }

  async insert(entry: ScheduledEntry, limits: PendingLimits): Promise<InsertResult> {
    const owner = ownerColumn(entry.owner);
    // One transaction: the checks and the insert see the same rows.
    const result = this.#schema.write((db) => {
      if (db.first(sql`SELECT seq FROM schedules WHERE owner = ${owner} AND id = ${entry.id}`) !== null) return "exists";
      // Counts taken up to other limits say nothing about these.
      if (this.#pending !== null && (this.#pending.limits.perKey !== limits.perKey || this.#pending.limits.perOwner !== limits.perOwner)) this.#pending = null;
      const pending = (this.#pending ??= { limits: { perKey: limits.perKey, perOwner: limits.perOwner }, all: countUpTo(db, sql``, limits.perKey), owners: new Map() });
      let mine = pending.owners.get(owner);
      if (mine === undefined) {
        // Bounded: an object that has seen many owners counts the others again when they come back.
        if (pending.owners.size >= COUNTED_OWNERS) pending.owners.clear();
        mine = countUpTo(db, sql`WHERE owner = ${owner}`, limits.perOwner);
        pending.owners.set(owner, mine);
      }
      if (mine >= limits.perOwner) return "owner_full";
      if (pending.all >= limits.perKey) return "key_full";
      this.#insertRow(db, entry);
      return "inserted";
    });
    // Added once the insert committed (a failed write changed nothing the counts say).
    if (result === "inserted" && this.#pending !== null) {
      this.#pending.all += 1;
      this.#pending.owners.set(owner, (this.#pending.owners.get(owner) ?? 0) + 1);
    }
    return result;
  }


  /**
   * Lowers the pending counts by entries just removed (their owner columns). A count taken at its
   * limit may be short of what is stored (it stopped counting there): it is counted again instead.
   */
  #removed(rows: readonly { owner: string }[]): void {
    const pending = this.#pending;
    if (pending === null || rows.length === 0) return;
    if (pending.all >= pending.limits.perKey || pending.all < rows.length) {
      this.#pending = null;
      return;
    }
    pending.all -= rows.length;
    for (const { owner } of rows) {
      const mine = pending.owners.get(owner);
      if (mine === undefined) continue;
      if (mine >= pending.limits.perOwner || mine === 0) pending.owners.delete(owner);
      else pending.owners.set(owner, mine - 1);
    }
  }

  /** Stores one entry and its messages (inside the caller's transaction). */
  #insertRow(db: SqlDatabase, entry: ScheduledEntry): void {
    const seq = db.first<{ seq: number }>(sql`INSERT INTO schedules (owner, id, key, service, due_at, attempts, late, recurrence, occurrence, public_only, created_at)
      VALUES (${ownerColumn(entry.owner)}, ${entry.id}, ${entry.key}, ${entry.service}, ${entry.dueAt}, ${entry.attempts}, ${entry.late},
        ${entry.recurrence === null ? null : JSON.stringify(entry.recurrence)}, ${entry.occurrence}, ${entry.publicOnly}, ${entry.createdAt})
      RETURNING seq`)?.seq;
    if (seq === undefined) throw new Error("schedules: an insert returned no row");
    const message = JSON.stringify(entry.message);
    const template = JSON.stringify(entry.template);
    db.run(sql`INSERT INTO schedule_messages (seq, template, message) VALUES (${seq}, ${template === message ? null : template}, ${message})`);
  }

  /**
   * Applies an aggregate's follow-up writes (see {@link FollowUpWrites}) — inside the aggregate's
   * append, whose transaction this joins (a savepoint): the names cancelled or scheduled again
   * lose their pending entries, the follow-up the command delivered goes unless it recurs, and the
   * new entries are stored. Throws, changing nothing, when more than
   * {@link MAX_PENDING_FOLLOW_UPS} would be pending.
   */
  writeFollowUps(writes: FollowUpWrites): void {
    this.#pending = null;
    const replaced = [...writes.cancel, ...writes.schedule.map((entry) => entry.key)];
    if (replaced.length === 0 && writes.delivered === undefined) return;
    if (!this.#schema.exists && writes.schedule.length === 0) return;
    this.#schema.write((db) => {
      if (replaced.length > 0) db.run(sql`DELETE FROM schedules WHERE key IN ${sqlList(replaced)}`);
      if (writes.delivered !== undefined) db.run(sql`DELETE FROM schedules WHERE id = ${writes.delivered} AND recurrence IS NULL`);
      if (writes.schedule.length === 0) return;
      const pending = db.first<{ n: number }>(sql`SELECT COUNT(*) AS n FROM schedules`)?.n ?? 0;
      if (pending + writes.schedule.length > MAX_PENDING_FOLLOW_UPS) {
        throw new Error(`an aggregate may have at most ${MAX_PENDING_FOLLOW_UPS} follow-ups pending`);
      }
      for (const entry of writes.schedule) this.#insertRow(db, entry);
    });
  }

  /** The pending follow-ups of the aggregate whose storage this is, in due order (at most {@link MAX_PENDING_FOLLOW_UPS}). */
  pendingFollowUps(): PendingFollowUp[] {
    if (!this.#schema.exists) return [];
    return this.#db
      .all<{ id: string; key: string; service: string; due_at: number; attempts: number; recurrence: string | null; owner: string }>(
        sql`SELECT id, key, service, due_at, attempts, recurrence, owner FROM schedules ORDER BY due_at, seq LIMIT ${MAX_PENDING_FOLLOW_UPS}`,
      )
      .map((row) =>
        pendingFollowUp({
          id: row.id,
          key: row.key,
          service: row.service,
          dueAt: row.due_at,
          attempts: row.attempts,
          recurrence: row.recurrence === null ? null : (JSON.parse(row.recurrence) as Recurrence),
          owner: row.owner === ANONYMOUS ? null : row.owner,
        }),
      );
  }

  /**
   * Removes every pending entry — an aggregate's follow-ups when it is soft-deleted: it answers
   * `not_found` from then on, so what it scheduled would only fail. Joins the caller's transaction.
   */
  cancelAll(): void {
    if (!this.#schema.exists) return;
    this.#pending = null;
    this.#db.run(sql`DELETE FROM schedules`);
  }

  /** How many entries are pending (0 when nothing was ever stored): what a hard delete reports it removed. */
  pendingCount(): number {
    if (!this.#schema.exists) return 0;
    return this.#db.first<{ n: number }>(sql`SELECT COUNT(*) AS n FROM schedules`)?.n ?? 0;
  }

  /** Forgets what it learnt of the storage (after `deleteAll`): the next write creates the tables again. */
  forget(): void {
    this.#schema.forget();
    this.#pending = null;
  }

  async get(owner: string | null, id: string): Promise<ScheduledEntry | null> {
    if (!this.#schema.exists) return null;
    const row = this.#db.first<Row>(sql`SELECT ${ENTRY_COLUMNS} FROM schedules JOIN schedule_messages USING (seq) WHERE owner = ${ownerColumn(owner)} AND id = ${id}`);
    return row === null ? null : entryOf(row);
  }

  async claimDue(now: number, limit: number, leaseUntil: (entries: readonly ClaimedEntry[]) => number): Promise<ClaimedEntry[]> {
    if (!this.#schema.exists) return [];
    // No transaction of its own: a read and one update, synchronous (nothing runs between them),
    // and the update alone is what changes anything — all of it, or nothing.
    const db = this.#db;
    // Tuples, not objects, and only what a delivery reads: a claim is the hot path of a drain.
    // The template only for recurring entries: a one-off never starts again from it.
    const columns = sql`s.seq, owner, id, key, service, message, attempts, late, recurrence, occurrence, public_only, created_at,
        CASE WHEN recurrence IS NULL THEN NULL ELSE COALESCE(template, message) END`;
    const from = sql`FROM schedules AS s JOIN schedule_messages AS m ON m.seq = s.seq`;
    // An entry that was claimed when the object stopped goes alone: if it is what stopped the
    // object, it stops nothing else's delivery (which would be delivered again). The one tried
    // least first: one that stopped the object again waits behind those that did not. While such
    // entries wait, claims take one of them and a batch of the others in turn, so that a crash's
    // backlog holds up nothing else that is due. Only that query reads the claim.
    const oneStopped = (): ClaimTuple[] => {
      const found = db.tuples<ClaimTuple>(sql`SELECT ${columns}, claim ${from}
        WHERE claim IN (${STOPPED_ALONE}, ${STOPPED_IN_BATCH}) AND due_at <= ${now} ORDER BY attempts, due_at, s.seq LIMIT 1`);
      if (found.length === 0) this.#mayHoldStopped = false;
      return found;
    };
    const others = (): ClaimTuple[] =>
      this.#mayHoldStopped
        ? db.tuples<ClaimTuple>(sql`SELECT ${columns} ${from}
            WHERE due_at <= ${now} AND (claim IS NULL OR claim NOT IN (${STOPPED_ALONE}, ${STOPPED_IN_BATCH})) ORDER BY due_at, s.seq LIMIT ${limit}`)
        : db.tuples<ClaimTuple>(sql`SELECT ${columns} ${from} WHERE due_at <= ${now} ORDER BY due_at, s.seq LIMIT ${limit}`);
    let rows = this.#mayHoldStopped && this.#stoppedNext ? oneStopped() : [];
    if (rows.length === 0) rows = others();
    if (rows.length === 0 && this.#mayHoldStopped) rows = oneStopped();
    // After a stopped entry, a batch of the others.
    this.#stoppedNext = rows[0]?.[13] === undefined;
    if (rows.length === 0) return [];
    this.#claims += 1;
    const token = `${this.#incarnation}:${this.#claims}`;
    const claimed = rows.map(
      ([seq, owner, id, key, service, message, attempts, late, recurrence, occurrence, publicOnly, createdAt, template, claim]): ClaimedEntry => ({
        id,
        owner: owner === ANONYMOUS ? null : owner,
        key,
        service,
        dueAt: 0,
        template: template === null ? null : (JSON.parse(template) as Message),
        message: JSON.parse(message) as Message,
        attempts: attempts + 1,
        late: late === 1,
        recurrence: recurrence === null ? null : (JSON.parse(recurrence) as Recurrence),
        occurrence,
        publicOnly: publicOnly === 1,
        createdAt,
        claim: { ref: seq, token },
        ...(claim === STOPPED_ALONE ? { stopped: "alone" as const } : claim === STOPPED_IN_BATCH ? { stopped: "in a batch" as const } : {}),
      }),
    );
    const lease = leaseUntil(claimed);
    // One statement claims the batch; the list of rows is one parameter.
    db.run(sql`UPDATE schedules SET attempts = attempts + 1, due_at = ${lease}, claim = ${token} WHERE seq IN ${sqlList(rows.map(([seq]) => seq))}`);
    for (const entry of claimed) entry.dueAt = lease;
    return claimed;
  }

  async settleAll(settlements: readonly Settlement[]): Promise<number> {
    if (!this.#schema.exists || settlements.length === 0) return 0;
    const claims = new Set(settlements.map(({ claim }) => claim.token));
    const [token] = claims;
    if (claims.size === 1 && token !== undefined && settlements.every(({ change, outcome }) => change === null && outcome === undefined)) {
      // The common batch — every delivery done, nothing to record — is one statement: atomic as it
      // is, without a transaction's cost.
      const removed = this.#db.all<{ owner: string }>(sql`DELETE FROM schedules WHERE claim = ${token} AND seq IN ${sqlList(settlements.map(({ claim }) => claim.ref))} RETURNING owner`);
      this.#removed(removed);
      return removed.length;
    }
    this.#pending = null;
    return this.#schema.write((db) => {
      let settled = 0;
      // Plain removals (one-offs delivered): one statement per claim token, i.e. per batch.
      const removals = new Map<string, number[]>();
      for (const { claim, change, outcome } of settlements) {
        if (change === null && outcome === undefined) {
          const refs = removals.get(claim.token) ?? [];
          refs.push(claim.ref);
          removals.set(claim.token, refs);
        } else if (this.#settle(db, claim, change)) {
          settled += 1;
          if (outcome !== undefined) this.#record(db, outcome);
        }
      }
      for (const [token, refs] of removals) {
        settled += db.all(sql`DELETE FROM schedules WHERE claim = ${token} AND seq IN ${sqlList(refs)} RETURNING seq`).length;
      }
      return settled;
    });
  }

  async outcomes(owner: string | null | undefined, limit: number): Promise<ScheduleOutcome[]> {
    if (!this.#schema.exists) return [];
    const byOwner = owner === undefined ? sql`` : sql`WHERE owner = ${ownerColumn(owner)}`;
    return this.#db.all<OutcomeRow>(sql`SELECT * FROM schedule_outcomes ${byOwner} ORDER BY seq DESC LIMIT ${limit}`).map((row) => ({
      at: row.at,
      messageId: row.id,
      owner: row.owner === ANONYMOUS ? null : row.owner,
      key: row.key,
      service: row.service,
      outcome: row.outcome === "denied" ? "denied" : "gave_up",
      reason: row.reason,
      attempts: row.attempts,
      response: row.response === null ? null : (JSON.parse(row.response) as ServiceResponse),
    }));
  }

  /** Records an outcome and forgets those beyond the most recent {@link RECENT_OUTCOMES}. */
  #record(db: SqlDatabase, outcome: ScheduleOutcome): void {
    const seq = db.first<{ seq: number }>(sql`INSERT INTO schedule_outcomes (at, owner, id, key, service, outcome, reason, attempts, response)
      VALUES (${outcome.at}, ${ownerColumn(outcome.owner)}, ${outcome.messageId}, ${outcome.key}, ${outcome.service}, ${outcome.outcome},
        ${outcome.reason}, ${outcome.attempts}, ${outcome.response === null ? null : JSON.stringify(outcome.response)})
      RETURNING seq`)?.seq;
    if (seq !== undefined) db.run(sql`DELETE FROM schedule_outcomes WHERE seq <= ${seq - RECENT_OUTCOMES}`);
  }

  /** One conditional statement: it changes the entry only if it is still under this claim. */
  #settle(db: SqlDatabase, claim: Claim, change: Reschedule | null): boolean {
    const stillClaimed = sql`seq = ${claim.ref} AND claim = ${claim.token}`;
    if (change === null) return db.all(sql`DELETE FROM schedules WHERE ${stillClaimed} RETURNING seq`).length > 0;
    const changed = db.all(sql`UPDATE schedules SET due_at = ${change.dueAt}, claim = NULL,
        attempts = COALESCE(${change.attempts ?? null}, attempts),
        occurrence = COALESCE(${change.occurrence ?? null}, occurrence),
        late = COALESCE(${change.late ?? null}, late)
      WHERE ${stillClaimed} RETURNING seq`).length > 0;
    if (changed && change.message !== undefined) {
      // The template is kept the first time the message changes (until then it is the message).
      db.run(sql`UPDATE schedule_messages SET template = COALESCE(template, message), message = ${JSON.stringify(change.message)} WHERE seq = ${claim.ref}`);
    }
    return changed;
  }

  async remove(id: string, owner?: string | null): Promise<RemovedEntry[]> {
    if (!this.#schema.exists) return [];
    const byOwner = owner === undefined ? sql`` : sql` AND owner = ${ownerColumn(owner)}`;
    const rows = this.#db.all<{ id: string; owner: string; key: string; service: string }>(
      sql`DELETE FROM schedules WHERE id = ${id}${byOwner} RETURNING id, owner, key, service`,
    );
    this.#removed(rows);
    return rows.map((row) => ({ ...row, owner: row.owner === ANONYMOUS ? null : row.owner }));
  }

  async list(owner: string | null | undefined, limit: number): Promise<ScheduledEntry[]> {
    if (!this.#schema.exists) return [];
    const byOwner = owner === undefined ? sql`` : sql`WHERE owner = ${ownerColumn(owner)}`;
    return this.#db.all<Row>(sql`SELECT ${ENTRY_COLUMNS} FROM schedules JOIN schedule_messages USING (seq) ${byOwner} ORDER BY due_at, seq LIMIT ${limit}`).map(entryOf);
  }

  async earliestDue(): Promise<number | null> {
    return this.nextDue();
  }

  /** The earliest `dueAt`, or null when nothing is scheduled — synchronously (see {@link earliestDue}). */
  nextDue(): number | null {
    if (!this.#schema.exists) return null;
    return this.#db.first<{ due: number | null }>(sql`SELECT MIN(due_at) AS due FROM schedules`)?.due ?? null;
  }
}

/** The pending entries `where` says, counted up to `max` only: a count never reads more rows than a limit allows. */
function countUpTo(db: SqlDatabase, where: SqlQuery, max: number): number {
  return db.first<{ n: number }>(sql`SELECT COUNT(*) AS n FROM (SELECT 1 FROM schedules ${where} LIMIT ${max})`)?.n ?? 0;
}
