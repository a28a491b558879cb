import type { StorageRemoved } from "../aggregates/aggregate-protocol.js";
import { isJsonObject, type Json } from "../shared/json.js";

/*
 * What an erasure answers and keeps in the read side's audit log (`x3m_erasures`): where the
 * aggregate was removed from and how much, when, by whom — never what was removed. The stream's
 * name is in it (the audit log must say which aggregate went, and the consumer reads it to drop
 * the erased stream's events still in flight), so an aggregate id should not itself be personal
 * data (an email address as an id would stay in the audit log).
 */

/**
 * What a projection or process manager is told when an aggregate of a type it follows is erased:
 * which one, and when. Its `erase` hook answers the statements that remove what it keeps of it.
 */
export type ErasureNotice = {
  /** The aggregate type, for instance `"account"`. */
  stream: string;
  /** The full stream name, `<stream>-<id>`. */
  streamName: string;
  /** The aggregate id. */
  aggregateId: string;
  /** The erasure's id, as its receipt names it. */
  erasureId: string;
  /** When the aggregate's storage went (ISO 8601): its events were all recorded at or before it. */
  erasedAt: string;
};

/**
 * The receipt of one erasure: every place the aggregate was removed from, with counts; when, by
 * whom and why; never the erased data. Kept in the read side's audit log (`x3m_erasures`) and
 * answered again, the same, to an erase retried once nothing is left.
 */
export type ErasureReceipt = {
  erasureId: string;
  /** The aggregate type. */
  stream: string;
  /** The full stream name, `<stream>-<id>`. */
  streamName: string;
  /**
   * When the aggregate's storage went (ISO 8601, the object's own clock when it says): events of
   * the stream recorded at or before it are dropped wherever they still arrive.
   */
  erasedAt: string;
  /** Who asked: through which door (`api`, `console`, or a name code gives), and the operator they named. */
  by: { via: string; operator: string | null };
  /** Why, as the operator put it (a ticket number…), or null. */
  reason: string | null;
  /**
   * Nothing failed: every subscriber that handles erasure erased, every schedule key answered.
   * False tells the operator to erase again (what is left is tried again). A subscriber that does
   * not handle erasure is not a failure: its rows stay however often it is retried.
   */
  complete: boolean;
  /**
   * The aggregate's own storage: `found` false when it held nothing (an earlier erase removed it);
   * `removed` says what went, when the aggregate's client reports it (Durable Objects do).
   */
  object: { found: boolean; removed: StorageRemoved | null };
  /** Pending schedules cancelled per scheduler key (as an admin: every owner's), or why they could not be. */
  schedules: { key: string; cancelled: number; error?: string }[];
  /**
   * Every subscriber that follows the aggregate's type, and what became of it: `erased` (its
   * `erase` hook's statements ran, with its checkpoint's removal), `not_handled` (it has no hook:
   * its rows stay), or `failed` (the hook threw, or its statements failed: `error` says why);
   * `statements`: how many its hook answered.
   */
  subscribers: { name: string; kind: "projection" | "process" | "other"; outcome: "erased" | "not_handled" | "failed"; statements: number; error?: string }[];
  /** The stream's rows in the read side's own tables: checkpoints, catalog, usage, dead letters. */
  readSide: { checkpoints: number; catalog: number; usage: number; deadLetters: number };
};

/** What became of one subscriber in an erasure (see {@link ErasureReceipt.subscribers}). */
export type SubscriberErasure = ErasureReceipt["subscribers"][number];

/** The schedules of one key in an erasure (see {@link ErasureReceipt.schedules}). */
export type ScheduleErasure = ErasureReceipt["schedules"][number];

const COUNTS = ["events", "snapshots", "idempotencyRecords", "outbox", "followUps"] as const;

/**
 * What a hard delete's `ok` payload says was removed, when it says it in the shape a Durable
 * Object's answer has; null otherwise (a client that reports nothing).
 */
export function storageRemovedOf(payload: Json | undefined): StorageRemoved | null {
  if (!isJsonObject(payload) || typeof payload["deletedAt"] !== "string" || typeof payload["alarm"] !== "boolean") return null;
  const counts: Partial<Record<(typeof COUNTS)[number], number>> = {};
  for (const name of COUNTS) {
    const value = payload[name];
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) return null;
    counts[name] = value;
  }
  const removed: StorageRemoved = {
    deletedAt: payload["deletedAt"],
    events: counts.events ?? 0,
    snapshots: counts.snapshots ?? 0,
    idempotencyRecords: counts.idempotencyRecords ?? 0,
    outbox: counts.outbox ?? 0,
    followUps: counts.followUps ?? 0,
    alarm: payload["alarm"],
  };
  const jurisdiction = payload["jurisdiction"];
  if (typeof jurisdiction !== "string") return removed;
  return payload["homeRecord"] === true ? { ...removed, jurisdiction, homeRecord: true } : { ...removed, jurisdiction };
}

/** A receipt read back from the audit log, or null when the stored JSON is not one. */
export function receiptOf(text: string): ErasureReceipt | null {
  try {
    const value: unknown = JSON.parse(text);
    return isJsonObject(value) && typeof value["erasureId"] === "string" && typeof value["streamName"] === "string" ? (value as unknown as ErasureReceipt) : null;
  } catch {
    return null;
  }
}
