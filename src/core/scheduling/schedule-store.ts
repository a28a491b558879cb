import type { Message } from "../messaging/message.js";
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
