import type { Json } from "../shared/json.js";
import type { ReadStatement } from "./read-statement.js";

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
};

/**
 * What became of one unit: committed; refused because the checkpoint moved (`conflict`: read it
 * again and redo); or failed for another reason (the statements themselves failed).
 */
export type CommitResult = { ok: true } | { ok: false; conflict: true } | { ok: false; conflict: false; error: string };

/** A stream the read side has seen: its aggregate type, name, and the highest version seen. */
export type CatalogEntry = { stream: string; streamName: string; version: number };

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
   * Commits the units, each all or nothing, guarded by its expected checkpoint; one result per
   * unit, in order. `catalog` entries are recorded with them (keeping the highest version seen).
   */
  commit(units: readonly CommitUnit[], catalog?: readonly CatalogEntry[]): Promise<CommitResult[]>;
  /** One page of the catalog's streams of aggregate type `stream`, in name order, after `after`. */
  streams(stream: string, page: { after: string | null; limit: number }): Promise<CatalogEntry[]>;
  /** How many streams of aggregate type `stream` the catalog holds. */
  countStreams(stream: string): Promise<number>;
  /** Empties a subscriber's read model (`statements`) and forgets its checkpoints, at once. */
  reset(subscriber: string, statements: readonly ReadStatement[]): Promise<void>;
  /**
   * Keeps a dead letter for operators: one per subscriber and event (a later letter of the same
   * event replaces the earlier one); every message that is no event gets its own.
   */
  deadLetter(letter: DeadLetter): Promise<void>;
  /** The newest dead letters, newest first. */
  deadLetters(limit: number): Promise<DeadLetter[]>;
  /** The rows of a read query (for the services that answer from read models). */
  query<Row extends Record<string, unknown>>(query: ReadStatement): Promise<Row[]>;
}
