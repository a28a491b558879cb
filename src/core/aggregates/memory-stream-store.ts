import { jsonCopy, type Json } from "../shared/json.js";
import type { PendingFollowUp } from "../scheduling/follow-up.js";
import type { ScheduleOutcome } from "../scheduling/schedule-store.js";
import type { MemoryScheduleStore } from "../scheduling/memory-schedule-store.js";
import type {
  AppendRequest,
  AppendResult,
  DeleteResult,
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
} from "./stream-store.js";

/** Options of a {@link MemoryStreamStore}. */
export type MemoryStreamStoreOptions = {
  /** Keep an {@link Outbox}: each appended event is also recorded as unpublished, atomically. */
  outbox?: boolean;
  /** The clock that stamps events and idempotency records (ms since the epoch); default `Date.now`. */
  now?: () => number;
  /**
   * Where the stream keeps its follow-ups (an append writes them there, all or nothing with the
   * rest): the schedule store a runner delivers them from. Without it the stream keeps none.
   */
  followUps?: MemoryScheduleStore;
};

/**
 * A {@link StreamStore} in memory, with the same guarantees as the Durable Object one: appends are
 * all-or-nothing and check the expected version. For tests, scripts, and runtimes without
 * Durable Objects (Node, Deno, Bun); nothing survives the process. Created with `{ outbox: true }`
 * it is also an {@link Outbox}.
 */
export class MemoryStreamStore implements StreamStore, Outbox {
  readonly #keepsOutbox: boolean;
  readonly #now: () => number;
  readonly #followUps: MemoryScheduleStore | undefined;
  #name = "";
  /** Versions appended and not yet published, in order. */
  #outbox: number[] = [];
  #status: StreamStatus = "missing";
  #version = -1;
  #events: RecordedEvent[] = [];
  #snapshots: Snapshot[] = [];
  /** Idempotency records by caller and message id, in the order they were recorded. */
  #processed = new Map<string, ProcessedMessage & { recordedAt: string }>();
  #state: string | null = null;

  /** An empty stream (with an outbox when asked for one). */
  constructor(options: MemoryStreamStoreOptions = {}) {
    this.#keepsOutbox = options.outbox === true;
    this.#now = options.now ?? Date.now;
    this.#followUps = options.followUps;
  }

  async streamState(): Promise<StreamState> {
    return { status: this.#status, version: this.#version };
  }

  async processed(principal: string, messageId: string): Promise<ProcessedMessage | null> {
    const recorded = this.#processed.get(recordKey(principal, messageId));
    return recorded === undefined ? null : { fingerprint: recorded.fingerprint, response: jsonCopy(recorded.response) };
  }

  async append(request: AppendRequest): Promise<AppendResult> {
    if (this.#version !== request.expectedVersion) return { ok: false, actualVersion: this.#version };
    // As SQLite's primary key would: a caller's message id is recorded once, or the append fails whole.
    const key = recordKey(request.principal, request.messageId);
    if (this.#processed.has(key)) throw new Error(`message ${request.messageId} is already recorded`);
    // Everything is prepared before anything changes: a failure leaves the store as it was.
    const recordedAt = new Date(this.#now()).toISOString();
    const events = request.events.map((event, index) => ({
      ...jsonCopy(event),
      version: request.expectedVersion + 1 + index,
      recordedAt,
    }));
    const state = request.state === undefined ? this.#state : JSON.stringify(request.state);
    const processed = { fingerprint: request.fingerprint, response: jsonCopy(request.response), recordedAt };
    const snapshot = request.snapshot === undefined ? undefined : jsonCopy(request.snapshot);
    // First of the writes: it is the one that may refuse (too many pending), and then nothing changed.
    if (request.followUps !== undefined) this.#followUps?.writeFollowUps(request.followUps);

    this.#events.push(...events);
    if (this.#keepsOutbox) this.#outbox.push(...events.map((event) => event.version));
    this.#name = request.streamName;
    this.#version = request.newVersion;
    if (this.#status === "missing") this.#status = "live";
    this.#state = state;
    this.#processed.set(key, processed);
    if (request.retention !== undefined) this.#compact(request.retention);
    if (snapshot !== undefined) {
      this.#snapshots = [...this.#snapshots.filter((s) => s.schema !== snapshot.schema), snapshot];
    }
    return { ok: true, version: request.newVersion };
  }

  async unpublished(limit: number): Promise<{ streamName: string; events: RecordedEvent[] }> {
    const versions = new Set(this.#outbox.slice(0, limit));
    return { streamName: versions.size === 0 ? "" : this.#name, events: jsonCopy(this.#events.filter((event) => versions.has(event.version))) };
  }

  async markPublished(version: number): Promise<void> {
    this.#outbox = this.#outbox.filter((pending) => pending > version);
  }

  async latestSnapshot(schema: number): Promise<Snapshot | null> {
    const found = this.#snapshots.filter((s) => s.schema === schema).sort((a, b) => b.version - a.version)[0];
    return found === undefined ? null : jsonCopy(found);
  }

  async readEvents(from: number, limit: number): Promise<RecordedEvent[]> {
    return jsonCopy(this.#events.filter((event) => event.version >= from).slice(0, limit));
  }

  async replayEvents(from: number, limit: number): Promise<ReplayedEvent[]> {
    return (await this.readEvents(from, limit)).map(({ version, type, data, schemaVersion }) => ({ version, type, data, schemaVersion }));
  }

  async savedState(): Promise<SavedState | null> {
    return this.#state === null ? null : { version: this.#version, state: JSON.parse(this.#state) as Json };
  }

  async softDelete(expectedVersion: number | undefined): Promise<DeleteResult> {
    const refused = this.#refusal(expectedVersion);
    if (refused !== null) return refused;
    this.#status = "deleted";
    // Its follow-ups go with it (delivered, they would find it gone); how earlier ones ended stays.
    this.#followUps?.cancelAll();
    return { ok: true };
  }

  async hardDelete(expectedVersion: number | undefined): Promise<DeleteResult> {
    const refused = this.#refusal(expectedVersion);
    if (refused !== null) return refused;
    this.#status = "missing";
    this.#version = -1;
    this.#events = [];
    this.#snapshots = [];
    this.#processed.clear();
    this.#state = null;
    this.#outbox = [];
    this.#followUps?.clear();
    return { ok: true };
  }

  async followUps(): Promise<PendingFollowUp[]> {
    return this.#followUps?.pendingFollowUps() ?? [];
  }

  async followUpOutcomes(limit: number): Promise<ScheduleOutcome[]> {
    return (await this.#followUps?.outcomes(undefined, limit)) ?? [];
  }

  /** Drops the records the retention rule lets go (records are kept in the order they were made). */
  #compact(retention: Retention): void {
    for (const [key, record] of this.#processed) {
      if (record.recordedAt >= retention.recordedBefore) break;
      this.#processed.delete(key);
    }
    const excess = retention.keepLast === undefined ? 0 : this.#processed.size - retention.keepLast;
    for (const key of [...this.#processed.keys()].slice(0, Math.max(0, excess))) this.#processed.delete(key);
  }

  #refusal(expectedVersion: number | undefined): DeleteResult | null {
    if (this.#status === "missing") return { ok: false, reason: "not_found" };
    if (expectedVersion !== undefined && expectedVersion !== this.#version) {
      return { ok: false, reason: "wrong_expected_version", actualVersion: this.#version };
    }
    return null;
  }
}

/** One key per caller and message id. */
function recordKey(principal: string, messageId: string): string {
  return JSON.stringify([principal, messageId]);
}
