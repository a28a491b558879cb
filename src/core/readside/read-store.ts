import type { StreamUsage } from "../aggregates/stream-usage.js";
import type { Json } from "../shared/json.js";
import type { ErasureReceipt } from "./erasure-receipt.js";
import type { ReadStatement } from "./read-statement.js";
import type { Subscriber } from "./subscriber.js";

/**
 * One subscriber's progress on one stream, committed at once: its statements, and its checkpoint
 * moving from `expected` to `version`. If the checkpoint is no longer at `expected` (another
 * consumer got there first, or the subscriber was reset), nothing of it is applied.
 */
export type CommitUnit = {
  subscriber: string;
  streamName: string;
  expected: number;
  version: number;
  statements: readonly ReadStatement[];
  /**
   * When the unit's first event was recorded (ISO 8601). A unit whose stream has been erased at
   * or after it is refused like a moved checkpoint (a conflict): the erased stream's events, read
   * before the erasure, never land after it.
   */
  firstRecordedAt?: string;
};

/**
 * What became of one unit: committed; refused because the checkpoint moved (`conflict`: read it
 * again and redo); or failed for another reason (the statements themselves failed).
 */
export type CommitResult = { ok: true } | { ok: false; conflict: true } | { ok: false; conflict: false; error: string };

/** A stream the read side has seen: its aggregate type, name, and the highest version seen. */
export type CatalogEntry = { stream: string; streamName: string; version: number; usage?: StreamUsage };

/** One aggregate's usage as its outbox last recorded it, with its estimated cost (`estimatedCost`). */
export type UsageEntry = { stream: string; streamName: string; usage: StreamUsage; cost: number; recordedAt: string };

/** The usage of every recorded aggregate of a type, summed. */
export type TypeUsage = { stream: string; streams: number; usage: StreamUsage; cost: number };

/** A stream as a sweep finds it: when its outbox last recorded it (ISO 8601). */
export type SeenStream = CatalogEntry & { seenAt: string };

/** Where a sweep stopped: the last stream it looked at, in the order streams were seen. */
export type SweepCursor = { seenAt: string; streamName: string };

/** A subscriber's stream with dead letters: the lowest version given up on. */
export type DeadLetteredStream = { subscriber: string; streamName: string; version: number };

/** An event a subscriber could not apply after every attempt: kept for operators, with the error. */
export type DeadLetter = {
  subscriber: string;
  streamName: string;
  version: number;
  error: string;
  attempts: number;
  /** The envelope as it was delivered (JSON), for a redrive. */
  envelope: Json;
  /** When it was given up on (ISO 8601). */
  recordedAt: string;
};

/**
 * What a delivery starts from, read at once: each subscriber's checkpoints (subscriber → stream →
 * version), and when each of the streams was last erased (stream → ISO 8601), for those erased.
 */
export type DeliveryState = { checkpoints: Map<string, Map<string, number>>; erasedAt: Map<string, string> };

/** A stream's rows in the read side's own tables, counted before it is erased, and its latest erasure's receipt. */
export type ErasureFootprint = { checkpoints: number; catalog: number; usage: number; deadLetters: number; receipt: ErasureReceipt | null };

/**
 * What an erasure writes to the read store, all or nothing: its receipt (the audit log's record,
 * replaced when written again under the same erasure id), and the subscribers' own statements.
 */
export type StreamErasure = { receipt: ErasureReceipt; statements: readonly ReadStatement[] };

/**
 * Where the read side keeps its state: read models, each subscriber's checkpoints, the catalog of
 * streams, and dead letters. {@link SqlReadStore} implements it over D1 or any SQLite.
 */
export interface ReadStore {
  /**
   * The checkpoints of `subscribers` for these streams: subscriber → stream → version. A stream
   * without a checkpoint is absent (-1: nothing applied yet).
   */
  checkpoints(subscribers: readonly string[], streamNames: readonly string[]): Promise<Map<string, Map<string, number>>>;
  /**
   * The checkpoints, as {@link ReadStore.checkpoints} answers them, and when each of these streams
   * was last erased: what the consumer reads before a batch (one read).
   */
  deliveryState(subscribers: readonly string[], streamNames: readonly string[]): Promise<DeliveryState>;
  /**
   * Commits the units, each all or nothing, guarded by its expected checkpoint; one result per
   * unit, in order. `catalog` entries are recorded with them (keeping the highest version seen).
   */
  commit(units: readonly CommitUnit[], catalog?: readonly CatalogEntry[]): Promise<CommitResult[]>;
  /**
   * Records streams in the catalog as their outboxes publish them: each entry's version (the
   * highest wins), seen now — so that every stream that committed an event is known, whatever
   * becomes of its queue messages.
   */
  record(entries: readonly CatalogEntry[]): Promise<void>;
  /**
   * Streams recorded after `after` (in the order seen: time, then name) and at or before `before`
   * (ISO 8601), at most `limit`: what a sweep looks at next.
   */
  seenSince(after: SweepCursor | null, before: string, limit: number): Promise<SeenStream[]>;
  /** Where the last sweep of `sweeper` stopped, or null before its first. */
  sweepCursor(sweeper: string): Promise<SweepCursor | null>;
  /** Remembers where a sweep of `sweeper` stopped. */
  saveSweepCursor(sweeper: string, cursor: SweepCursor): Promise<void>;
  /**
   * Streams with dead letters, per subscriber (at most `limit`), those whose letters were kept
   * longest ago first — a letter kept again goes to the back, so that streams that still fail
   * do not hold back the others: a sweep tries them again. Given `followed`, only the letters of
   * those subscribers for stream types they follow (the others' cannot be tried).
   */
  deadLetteredStreams(limit: number, followed?: readonly Pick<Subscriber, "name" | "streams">[]): Promise<DeadLetteredStream[]>;
  /** Forgets a subscriber's dead letters of a stream up to `version` (they were applied since); answers how many. */
  resolveDeadLetters(subscriber: string, streamName: string, version: number): Promise<number>;
  /** One page of the catalog's streams of aggregate type `stream`, in name order, after `after`. */
  streams(stream: string, page: { after: string | null; limit: number }): Promise<CatalogEntry[]>;
  /** How many streams of aggregate type `stream` the catalog holds. */
  countStreams(stream: string): Promise<number>;
  /**
   * The streams recorded most recently, of every aggregate type, newest first (by when their
   * outbox last recorded them, then name), before `before` (exclusive), at most `limit`.
   */
  recentStreams(page: { before: SweepCursor | null; limit: number }): Promise<SeenStream[]>;
  /** The costliest aggregates (of type `stream`, or of every type), by estimated cost, at most `limit`. */
  costliest(options: { stream?: string; limit: number }): Promise<UsageEntry[]>;
  /** The usage of each aggregate type, costliest first. */
  usageByType(): Promise<TypeUsage[]>;
  /** Empties a subscriber's read model (`statements`) and forgets its checkpoints, at once. */
  reset(subscriber: string, statements: readonly ReadStatement[]): Promise<void>;
  /**
   * Keeps a dead letter for operators: one per subscriber and event (a later letter of the same
   * event replaces the earlier one, with the larger of their attempt counts); every message that
   * is no event gets its own.
   */
  deadLetter(letter: DeadLetter): Promise<void>;
  /** The newest dead letters, newest first. */
  deadLetters(limit: number): Promise<DeadLetter[]>;
  /**
   * The rows the read side's own tables hold of stream `streamName` — the checkpoints of
   * `subscribers` — and the receipt of its latest erasure.
   */
  erasureFootprint(streamName: string, subscribers: readonly string[]): Promise<ErasureFootprint>;
  /**
   * Erases a stream from the read side, at once: records the receipt (from then on the stream's
   * events recorded at or before its `erasedAt` are dropped), runs `statements`, and removes the
   * stream's checkpoints (those of the receipt's subscribers), catalog row, usage row and dead
   * letters. Idempotent.
   */
  erase(erasure: StreamErasure): Promise<void>;
  /** The audit log: receipts of erasures, newest first — of one stream, or one erasure, when asked. */
  erasures(filter: { streamName?: string; erasureId?: string; limit: number }): Promise<ErasureReceipt[]>;
  /** The rows of a read query (for the services that answer from read models). */
  query<Row extends Record<string, unknown>>(query: ReadStatement): Promise<Row[]>;
}
