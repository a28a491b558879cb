import { jsonCopy } from "../shared/json.js";
import type { Claim, Reschedule, ScheduledEntry, ScheduleStore } from "./schedule-store.js";

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
