import { newId } from "../shared/ids.js";
import { jsonCopy } from "../shared/json.js";
import { MAX_PENDING_FOLLOW_UPS, pendingFollowUp, type FollowUpWrites, type PendingFollowUp } from "./follow-up.js";
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
} from "./schedule-store.js";

/** An entry as the map keeps it: with its row number and the claim it is under, if any. */
type Stored = { ref: number; claim: string | null; entry: ScheduledEntry };

const byDue = (a: Stored, b: Stored) => a.entry.dueAt - b.entry.dueAt || a.ref - b.ref;

/** The map key of an owner's id (the owner first, so that ids of different owners never meet). */
const slot = (owner: string | null, id: string) => JSON.stringify([owner, id]);

/**
 * A {@link ScheduleStore} in memory, with the same semantics as the Durable Object one. For tests,
 * scripts, and runtimes without Durable Objects; nothing survives the process.
 */
export class MemoryScheduleStore implements ScheduleStore {
  readonly #entries = new Map<string, Stored>();
  /** Row number → map key, to settle a claim without a search. */
  readonly #slots = new Map<number, string>();
  readonly #incarnation = newId();
  /** Oldest first. */
  readonly #outcomes: ScheduleOutcome[] = [];
  #refs = 0;
  #claims = 0;

  async insert(entry: ScheduledEntry, limits: PendingLimits): Promise<InsertResult> {
    const at = slot(entry.owner, entry.id);
    if (this.#entries.has(at)) return "exists";
    let owners = 0;
    for (const stored of this.#entries.values()) if (stored.entry.owner === entry.owner) owners += 1;
    if (owners >= limits.perOwner) return "owner_full";
    if (this.#entries.size >= limits.perKey) return "key_full";
    this.#add(entry);
    return "inserted";
  }

  /**
   * Applies an aggregate's follow-up writes (see {@link FollowUpWrites}), all or nothing: the names
   * cancelled or scheduled again lose their pending entries, the follow-up the command delivered
   * goes unless it recurs, and the new entries are stored. Throws, changing nothing, when more
   * than {@link MAX_PENDING_FOLLOW_UPS} would be pending. Synchronous: an in-memory stream calls
   * it inside its append.
   */
  writeFollowUps(writes: FollowUpWrites): void {
    const replaced = new Set([...writes.cancel, ...writes.schedule.map((entry) => entry.key)]);
    const gone = [...this.#entries].filter(
      ([, { entry }]) => replaced.has(entry.key) || (entry.id === writes.delivered && entry.recurrence === null),
    );
    if (this.#entries.size - gone.length + writes.schedule.length > MAX_PENDING_FOLLOW_UPS) {
      throw new Error(`an aggregate may have at most ${MAX_PENDING_FOLLOW_UPS} follow-ups pending`);
    }
    for (const [at, stored] of gone) this.#delete(at, stored);
    for (const entry of writes.schedule) this.#add(entry);
  }

  /** The pending follow-ups of the aggregate this store belongs to, in due order. */
  pendingFollowUps(): PendingFollowUp[] {
    return [...this.#entries.values()].sort(byDue).map(({ entry }) => pendingFollowUp(entry));
  }

  /** Removes every pending entry, keeping the outcomes (the aggregate was soft-deleted), as `SqliteScheduleStore.cancelAll`. */
  cancelAll(): void {
    this.#entries.clear();
    this.#slots.clear();
  }

  /** Forgets every entry and outcome (the aggregate was hard-deleted). */
  clear(): void {
    this.#entries.clear();
    this.#slots.clear();
    this.#outcomes.length = 0;
  }

  #add(entry: ScheduledEntry): void {
    this.#refs += 1;
    this.#entries.set(slot(entry.owner, entry.id), { ref: this.#refs, claim: null, entry: jsonCopy(entry) });
    this.#slots.set(this.#refs, slot(entry.owner, entry.id));
  }

  async get(owner: string | null, id: string): Promise<ScheduledEntry | null> {
    const stored = this.#entries.get(slot(owner, id));
    return stored === undefined ? null : jsonCopy(stored.entry);
  }

  async claimDue(now: number, limit: number, leaseUntil: (entries: readonly ClaimedEntry[]) => number): Promise<ClaimedEntry[]> {
    const due = [...this.#entries.values()].filter((stored) => stored.entry.dueAt <= now).sort(byDue).slice(0, limit);
    if (due.length === 0) return [];
    this.#claims += 1;
    const token = `${this.#incarnation}:${this.#claims}`;
    const claimed = due.map((stored): ClaimedEntry => {
      const { template, ...entry } = jsonCopy(stored.entry);
      return { ...entry, template: entry.recurrence === null ? null : template, attempts: entry.attempts + 1, claim: { ref: stored.ref, token } };
    });
    const lease = leaseUntil(claimed);
    due.forEach((stored) => {
      stored.entry.attempts += 1;
      stored.entry.dueAt = lease;
      stored.claim = token;
    });
    return claimed.map((entry) => ({ ...entry, dueAt: lease }));
  }

  async settleAll(settlements: readonly Settlement[]): Promise<number> {
    let settled = 0;
    for (const { claim, change, outcome } of settlements) if (this.#settle(claim, change, outcome)) settled += 1;
    return settled;
  }

  #settle(claim: Claim, change: Reschedule | null, outcome?: ScheduleOutcome): boolean {
    const at = this.#slots.get(claim.ref);
    const stored = at === undefined ? undefined : this.#entries.get(at);
    if (at === undefined || stored === undefined || stored.claim !== claim.token) return false;
    if (outcome !== undefined) {
      this.#outcomes.push(jsonCopy(outcome));
      this.#outcomes.splice(0, Math.max(0, this.#outcomes.length - RECENT_OUTCOMES));
    }
    if (change === null) return this.#delete(at, stored);
    const entry = stored.entry;
    stored.claim = null;
    entry.dueAt = change.dueAt;
    if (change.message !== undefined) entry.message = jsonCopy(change.message);
    if (change.attempts !== undefined) entry.attempts = change.attempts;
    if (change.occurrence !== undefined) entry.occurrence = change.occurrence;
    if (change.late !== undefined) entry.late = change.late;
    return true;
  }

  async remove(id: string, owner?: string | null): Promise<RemovedEntry[]> {
    const removed: RemovedEntry[] = [];
    for (const [at, stored] of this.#entries) {
      const entry = stored.entry;
      if (entry.id === id && (owner === undefined || entry.owner === owner)) {
        this.#delete(at, stored);
        removed.push({ id: entry.id, owner: entry.owner, key: entry.key, service: entry.service });
      }
    }
    return removed;
  }

  async list(owner: string | null | undefined, limit: number): Promise<ScheduledEntry[]> {
    const entries = [...this.#entries.values()].filter((stored) => owner === undefined || stored.entry.owner === owner);
    return jsonCopy(entries.sort(byDue).slice(0, limit).map((stored) => stored.entry));
  }

  async outcomes(owner: string | null | undefined, limit: number): Promise<ScheduleOutcome[]> {
    const mine = this.#outcomes.filter((outcome) => owner === undefined || outcome.owner === owner);
    return jsonCopy(mine.reverse().slice(0, limit));
  }

  #delete(at: string, stored: Stored): boolean {
    this.#slots.delete(stored.ref);
    return this.#entries.delete(at);
  }

  async earliestDue(): Promise<number | null> {
    let earliest: number | null = null;
    for (const { entry } of this.#entries.values()) if (earliest === null || entry.dueAt < earliest) earliest = entry.dueAt;
    return earliest;
  }
}
