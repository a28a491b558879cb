/**
 * What one aggregate's object has cost so far, in the units Durable Objects are billed by:
 * requests (commands, alarms), SQLite rows read and written (counted from every statement's
 * cursor) and stored bytes; `published`: events its outbox sent to the read side's queue.
 */
export type StreamUsage = {
  commands: number;
  rowsRead: number;
  rowsWritten: number;
  alarms: number;
  published: number;
  storageBytes: number;
};

/**
 * An optional budget for each aggregate of a type: crossing it logs a warning (`cost budget
 * crossed`) naming the stream, the command and the figure — nothing is refused.
 */
export type UsageBudget = {
  /** Rows read and written by one command, together. */
  rowsPerCommand?: number;
  /** Bytes one aggregate's object stores. */
  storageBytes?: number;
};

/** Nothing yet. */
export const NO_USAGE: StreamUsage = { commands: 0, rowsRead: 0, rowsWritten: 0, alarms: 0, published: 0, storageBytes: 0 };

/*
 * Workers Paid list prices for SQLite-backed Durable Objects, in US dollars (2026): requests
 * $0.15 per million, rows read $0.001 per million, rows written $1.00 per million, storage $0.20
 * per GB-month. Duration (GB-seconds) is not counted per aggregate.
 */
const PER_REQUEST = 0.15e-6;
const PER_ROW_READ = 0.001e-6;
const PER_ROW_WRITTEN = 1e-6;
const PER_BYTE_MONTH = 0.2 / 1e9;

/**
 * An estimate of what `usage` has cost in US dollars at list prices, its storage counted for one
 * month: for ranking aggregates by cost, not for invoices (free allowances and duration are left out).
 */
export function estimatedCost(usage: StreamUsage): number {
  return (
    (usage.commands + usage.alarms) * PER_REQUEST +
    usage.rowsRead * PER_ROW_READ +
    usage.rowsWritten * PER_ROW_WRITTEN +
    usage.storageBytes * PER_BYTE_MONTH
  );
}
