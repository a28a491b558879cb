import { jsonCopy } from "./json.js";
import type { Message } from "./message.js";
import type { Recurrence } from "./schedule.js";

/** A message waiting to be delivered, as a {@link ScheduleStore} keeps it. */
export type ScheduledEntry = {
  /** The schedule's id: the scheduled message's id. */
  id: string;
  /** The shard it belongs to (an aggregate id, a tenant…). */
  key: string;
  service: string;
  /** When it is due next (epoch ms); while a delivery is in flight, when its lease ends. */
  dueAt: number;
  /** The message as it was scheduled: each occurrence of a recurring schedule starts from it. */
  template: Message;
  /** The message the next delivery sends: the template, with what retries of this occurrence changed. */
  message: Message;
  /** Deliveries started so far (of the current occurrence). */
  attempts: number;
  /** Its time had already passed when it was scheduled. */
  late: boolean;
  /** How it repeats, or null for a one-off. */
  recurrence: Recurrence | null;
  /** Recurring schedules: the number of the occurrence due next (0, 1, …). */
  occurrence: number;
  /** Deliver to public services only (it was scheduled from outside the Worker). */
  publicOnly: boolean;
  /** Who scheduled it: the JSON of the caller's identity ("null" when anonymous). */
  owner: string;
  createdAt: string;
};

/** What changes when a schedule is pushed back (a retry) or moved on (the next occurrence). */
export type Reschedule = { dueAt: number; message?: Message; attempts?: number; occurrence?: number; late?: boolean };

/** What a delivery claimed: the entry's attempts and lease end as `claimDue` left them. */
export type Claim = { attempts: number; dueAt: number };

/**
 * The storage port of one scheduler shard. The Durable Object adapter keeps entries in SQLite;
 * the in-memory one in a map. Each method is atomic.
 */
export interface ScheduleStore {
  /** Stores a new entry; false (and nothing changes) when its id is already scheduled. */
  insert(entry: ScheduledEntry): Promise<boolean>;
  /** The entry with this id, or null. */
  get(id: string): Promise<ScheduledEntry | null>;
  /**
   * Claims up to `limit` entries due at `now` (earliest first): each one's attempts go up by one
   * and its `dueAt` moves to `leaseUntil(entry)`, so that it is delivered again if nobody
   * settles it by then. Returns the claimed entries as they are now stored.
   */
  claimDue(now: number, limit: number, leaseUntil: (entry: ScheduledEntry) => number): Promise<ScheduledEntry[]>;
  /**
   * Settles a delivery: removes the entry (`change` null) or reschedules it — only if it is still
   * as `claim` left it. False when it changed meanwhile (cancelled, or cancelled and scheduled
   * again under the same id): a late delivery never touches the newer entry.
   */
  settle(id: string, claim: Claim, change: Reschedule | null): Promise<boolean>;
  /** Removes an entry (only if `owner` matches, when given); false when there was none. */
  remove(id: string, owner?: string): Promise<boolean>;
  /** Entries in due order (only `owner`'s, when given). */
  list(owner: string | undefined, limit: number): Promise<ScheduledEntry[]>;
  /** The earliest `dueAt`, or null when nothing is scheduled. */
  earliestDue(): Promise<number | null>;
}

const byDue = (a: ScheduledEntry, b: ScheduledEntry) => a.dueAt - b.dueAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * A {@link ScheduleStore} in memory, with the same semantics as the Durable Object one. For tests,
 * scripts, and runtimes without Durable Objects; nothing survives the process.
 */
export class MemoryScheduleStore implements ScheduleStore {
  readonly #entries = new Map<string, ScheduledEntry>();

  async insert(entry: ScheduledEntry): Promise<boolean> {
    if (this.#entries.has(entry.id)) return false;
    this.#entries.set(entry.id, jsonCopy(entry));
    return true;
  }

  async get(id: string): Promise<ScheduledEntry | null> {
    const entry = this.#entries.get(id);
    return entry === undefined ? null : jsonCopy(entry);
  }

  async claimDue(now: number, limit: number, leaseUntil: (entry: ScheduledEntry) => number): Promise<ScheduledEntry[]> {
    const due = [...this.#entries.values()].filter((entry) => entry.dueAt <= now).sort(byDue).slice(0, limit);
    return due.map((entry) => {
      entry.attempts += 1;
      entry.dueAt = leaseUntil(entry);
      return jsonCopy(entry);
    });
  }

  async settle(id: string, claim: Claim, change: Reschedule | null): Promise<boolean> {
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.attempts !== claim.attempts || entry.dueAt !== claim.dueAt) return false;
    if (change === null) return this.#entries.delete(id);
    entry.dueAt = change.dueAt;
    if (change.message !== undefined) entry.message = jsonCopy(change.message);
    if (change.attempts !== undefined) entry.attempts = change.attempts;
    if (change.occurrence !== undefined) entry.occurrence = change.occurrence;
    if (change.late !== undefined) entry.late = change.late;
    return true;
  }

  async remove(id: string, owner?: string): Promise<boolean> {
    const entry = this.#entries.get(id);
    if (entry === undefined || (owner !== undefined && entry.owner !== owner)) return false;
    return this.#entries.delete(id);
  }

  async list(owner: string | undefined, limit: number): Promise<ScheduledEntry[]> {
    const entries = [...this.#entries.values()].filter((entry) => owner === undefined || entry.owner === owner);
    return jsonCopy(entries.sort(byDue).slice(0, limit));
  }

  async earliestDue(): Promise<number | null> {
    let earliest: number | null = null;
    for (const entry of this.#entries.values()) if (earliest === null || entry.dueAt < earliest) earliest = entry.dueAt;
    return earliest;
  }
}
