import type { Json, JsonObject } from "../shared/json.js";
import type { ServiceResponse } from "../messaging/response.js";
import type { FollowUpWrites, PendingFollowUp } from "../scheduling/follow-up.js";
import type { ScheduleOutcome } from "../scheduling/schedule-store.js";

/**
 * The storage port of one aggregate instance (one stream). The Durable Object adapter keeps it in
 * the object's SQLite storage; an in-memory adapter keeps it in arrays. Both must give the same
 * guarantees: `append` is atomic (all of it or nothing) and checks the expected version.
 */
export interface StreamStore {
  /** The stream's version (-1 when it has no events) and whether it exists or was soft-deleted. */
  streamState(): Promise<StreamState>;
  /**
   * What was recorded when `principal` sent message `messageId` to this stream, or null. Records
   * belong to the caller who sent them: one caller's ids neither block nor reveal another's. A
   * store upgraded from the first release may answer a `legacy` record of that id instead.
   */
  processed(principal: string, messageId: string): Promise<ProcessedMessage | null>;
  /** Appends atomically, if the stream is still at `expectedVersion`; see {@link AppendRequest}. */
  append(request: AppendRequest): Promise<AppendResult>;
  /** The newest snapshot written with this schema number, or null. */
  latestSnapshot(schema: number): Promise<Snapshot | null>;
  /** Up to `limit` events with version ≥ `from`, in version order. */
  readEvents(from: number, limit: number): Promise<RecordedEvent[]>;
  /**
   * What a replay folds, of up to `limit` events with version ≥ `from`, in version order: type,
   * data and schema version only — a load of a long stream need not decode each event's metadata.
   */
  replayEvents(from: number, limit: number): Promise<ReplayedEvent[]>;
  /** The saved state of a state-based aggregate, or null. */
  savedState(): Promise<SavedState | null>;
  /** Marks the stream deleted (events kept) and removes its pending follow-ups, if it is at `expectedVersion` (when given). */
  softDelete(expectedVersion: number | undefined): Promise<DeleteResult>;
  /** Removes everything stored for the stream, if it is at `expectedVersion` (when given). */
  hardDelete(expectedVersion: number | undefined): Promise<DeleteResult>;
  /**
   * The aggregate's pending follow-ups, in due order (none when the store keeps none): what its
   * decisions scheduled and no later decision cancelled, and that is not yet delivered.
   */
  followUps(): Promise<PendingFollowUp[]>;
  /** How its most recent follow-ups ended other than as they should (denied, given up), newest first, at most `limit`. */
  followUpOutcomes(limit: number): Promise<ScheduleOutcome[]>;
}

/**
 * The outbox of a stream store that keeps one (the read side's transactional outbox): every event
 * an append stores is unpublished, from its commit on, until a publisher has sent it on (a list of
 * versions in memory; the Durable Object store keeps a cursor, the version sent up to). Nothing
 * is published that was not committed, and nothing committed is left unpublished. Stores keep an outbox only when created with one; the {@link StreamStore} port
 * itself does not change.
 */
export interface Outbox {
  /** Up to `limit` unpublished events, oldest first, with the stream's name ("" when there are none). */
  unpublished(limit: number): Promise<{ streamName: string; events: RecordedEvent[] }>;
  /** Forgets the unpublished events up to version `version` (inclusive): they were sent. */
  markPublished(version: number): Promise<void>;
}

/** Whether a stream exists: `missing` (nothing stored), `live`, or soft-`deleted`. */
export type StreamStatus = "missing" | "live" | "deleted";

/** A stream's status and version (-1 when it has no events). */
export type StreamState = { status: StreamStatus; version: number };

/**
 * Metadata stored with every event: the ids of the message that produced it, the W3C
 * `traceparent` of the span that stored it (when the message had one), and the app's own.
 */
export type EventMetadata = JsonObject & {
  messageId: string;
  correlationId: string;
  causationId: string;
  service: string;
  traceparent?: string;
};

/** An event to store, with the schema version of its type's shape it was written in. */
export type NewEvent = { type: string; data: Json; metadata: EventMetadata; schemaVersion: number };

/** A stored event with its version and time. */
export type RecordedEvent = NewEvent & { version: number; recordedAt: string };

/** The part of a stored event that a replay folds into the state ({@link StreamStore.replayEvents}). */
export type ReplayedEvent = { version: number; type: string; data: Json; schemaVersion: number };

/** A snapshot of state at `version`, for the state `schema` number it was written with. */
export type Snapshot = { version: number; state: Json; schema: number };

/** The saved state of a state-based aggregate. */
export type SavedState = { version: number; state: Json };

/**
 * One command's writes, all in one transaction: its events, the state (state-based aggregates),
 * a snapshot when one is due, and the message id with its response (idempotency).
 */
export type AppendRequest = {
  /** The full stream name, `<stream>-<id>`. */
  streamName: string;
  /** The version the stream must be at (-1: must not exist). */
  expectedVersion: number;
  /** Events to store, versions `expectedVersion + 1` onwards (none for state-based aggregates). */
  events: NewEvent[];
  /** The stream's version after this command. */
  newVersion: number;
  /** Who sent the message ("" for an anonymous caller): its record is theirs. */
  principal: string;
  /** The message that was applied, its fingerprint, and the response it got. */
  messageId: string;
  fingerprint: string;
  response: ServiceResponse;
  /**
   * When given, idempotency records are compacted in the same transaction, oldest first in the
   * order they were made: those before the first one recorded at or after `recordedBefore`
   * (ISO 8601) go, and of the rest only the newest `keepLast` stay.
   */
  retention?: Retention;
  /** A snapshot to write (older ones of the same schema may be dropped). */
  snapshot?: Snapshot;
  /** The new state of a state-based aggregate. */
  state?: Json;
  /**
   * The decision's follow-ups, written in the same transaction (only a store that keeps
   * follow-ups is given any). If they cannot be written, nothing of the append is.
   */
  followUps?: FollowUpWrites;
};

/** Which idempotency records an append compacts away (see {@link AppendRequest.retention}). */
export type Retention = { recordedBefore: string; keepLast?: number };

/** A message a stream applied: what made it that command, and the answer it got. */
export type ProcessedMessage = {
  fingerprint: string;
  response: ServiceResponse;
  /**
   * A record kept by the first release (0.1.0), per message id alone, whose fingerprint is that
   * release's: see `legacyFingerprintOf`. A store upgraded from that release gives one when the
   * caller has no record of their own, so that a retry across the upgrade is still recognised.
   */
  legacy?: true;
};

/** What an append did: stored, or refused because the stream is at another version. */
export type AppendResult = { ok: true; version: number } | { ok: false; actualVersion: number };

/** What a delete did. */
export type DeleteResult =
  | { ok: true }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "wrong_expected_version"; actualVersion: number };
