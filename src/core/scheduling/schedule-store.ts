import type { Message } from "../messaging/message.js";
import type { ServiceResponse } from "../messaging/response.js";
import type { Recurrence } from "./schedule.js";

/** A message waiting to be delivered, as a {@link ScheduleStore} keeps it. */
export type ScheduledEntry = {
  /** The schedule's id: the scheduled message's id. Unique per owner, not per shard. */
  id: string;
  /**
   * Who scheduled it: the caller's principal (`assigns.principal`), or null when anonymous. Ids
   * are scoped by it: two owners' schedules with the same id are two entries.
   */
  owner: string | null;
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
  createdAt: string;
};

/**
 * What a delivery claimed, to settle it with: which stored entry, and which claim of it. Opaque
 * to the runner. Every claim is a new one, so a settle that comes after the entry was claimed
 * again, cancelled, or replaced by a new entry with the same id changes nothing.
 */
export type Claim = { ref: number; token: string };

/**
 * An entry claimed for delivery: as stored after the claim, with the claim that settles it. Its
 * `template` is only read for recurring schedules (a one-off never starts again from it): null
 * for one-offs, so that a claim reads and decodes each message once.
 */
export type ClaimedEntry = Omit<ScheduledEntry, "template"> & {
  template: Message | null;
  claim: Claim;
  /**
   * It was claimed when its object stopped: alone (its delivery, the only one under way, never
   * answered) or in a batch (its delivery under way beside others, or not started).
   */
  stopped?: "alone" | "in a batch";
};

/** One delivery's settlement, as {@link ScheduleStore.settleAll} takes it. */
export type Settlement = { claim: Claim; change: Reschedule | null; outcome?: ScheduleOutcome };

/** An entry that {@link ScheduleStore.remove} removed. */
export type RemovedEntry = { id: string; owner: string | null; key: string; service: string };

/** What changes when a schedule is pushed back (a retry) or moved on (the next occurrence). */
export type Reschedule = { dueAt: number; message?: Message; attempts?: number; occurrence?: number; late?: boolean };

/** Bounds on a shard's pending entries, checked by {@link ScheduleStore.insert} atomically with the insert. */
export type PendingLimits = {
  /** Entries one owner may have pending (anonymous callers together are one owner). */
  perOwner: number;
  /** Entries the shard may hold. */
  perKey: number;
};

/**
 * What {@link ScheduleStore.insert} did: stored it; found the owner's entry with that id
 * (nothing changed); or refused it because the owner (`owner_full`) or the shard (`key_full`)
 * has as many pending entries as allowed.
 */
export type InsertResult = "inserted" | "exists" | "owner_full" | "key_full";

/**
 * How a scheduled message ended other than as it should, kept for operators (the most recent
 * {@link RECENT_OUTCOMES} of a shard): `denied` — at delivery its owner no longer resolved, or
 * the service refused the owner's current rights; `gave_up` — it failed and `serviceResponded`
 * said to stop (attempts exhausted, or a failure a retry would not change).
 */
export type ScheduleOutcome = {
  /** When it ended (ISO 8601). */
  at: string;
  messageId: string;
  /** Who scheduled it (their principal), or null when anonymous. */
  owner: string | null;
  key: string;
  service: string;
  outcome: "denied" | "gave_up";
  /** Why: `principal_unknown`, `forbidden`, `unauthorized`, `no_reidentify` (denied), or the reply's status or error reason (gave up). */
  reason: string;
  /** Deliveries started (of the occurrence that ended). */
  attempts: number;
  /** The last reply's response, when there was one. */
  response: ServiceResponse | null;
};

/** How many outcomes a shard keeps: the most recent ones. */
export const RECENT_OUTCOMES = 100;

/**
 * The storage port of one scheduler shard. The Durable Object adapter keeps entries in SQLite;
 * the in-memory one in a map. Each method is atomic.
 */
export interface ScheduleStore {
  /**
   * Stores a new entry, unless its owner already has one with its id (`exists`) or a limit is
   * reached (`owner_full`, `key_full`); then nothing changes. One atomic step: two inserts never
   * both pass a limit that only one of them fits under.
   */
  insert(entry: ScheduledEntry, limits: PendingLimits): Promise<InsertResult>;
  /** The entry of `owner` (null: anonymous) with this id, or null. */
  get(owner: string | null, id: string): Promise<ScheduledEntry | null>;
  /**
   * Claims up to `limit` entries due at `now` (earliest first): each one's attempts go up by one
   * and its `dueAt` moves to the lease's end, `leaseUntil(entries)`, so that it is delivered again
   * if nobody settles it by then. Returns the claimed entries as they are now stored.
   */
  claimDue(now: number, limit: number, leaseUntil: (entries: readonly ClaimedEntry[]) => number): Promise<ClaimedEntry[]>;
  /**
   * Settles a batch of deliveries atomically (removals of a batch in one statement where the
   * adapter can). Each removes its entry (`change` null) or reschedules it — only if it is still
   * under its `claim`: not when it changed meanwhile (cancelled, claimed again, or cancelled and
   * scheduled again under the same id), so a late delivery never touches the newer entry. An
   * `outcome` is recorded with its settle, and only if the settle happened; the oldest outcomes
   * beyond {@link RECENT_OUTCOMES} are forgotten. Answers how many were settled.
   */
  settleAll(settlements: readonly Settlement[]): Promise<number>;
  /**
   * Removes the entries with this id: only `owner`'s when `owner` is given (null: anonymous),
   * every owner's when it is undefined. Answers what it removed.
   */
  remove(id: string, owner?: string | null): Promise<RemovedEntry[]>;
  /** Entries in due order: only `owner`'s when given (null: anonymous), everyone's when undefined. */
  list(owner: string | null | undefined, limit: number): Promise<ScheduledEntry[]>;
  /** The earliest `dueAt`, or null when nothing is scheduled. */
  earliestDue(): Promise<number | null>;
  /** The recorded outcomes, newest first: only `owner`'s when given (null: anonymous), everyone's when undefined. */
  outcomes(owner: string | null | undefined, limit: number): Promise<ScheduleOutcome[]>;
}
