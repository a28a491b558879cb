import { NO_USAGE, type StreamUsage } from "../core/aggregates/stream-usage.js";
import { meterOf, type SqlMeter } from "./sql.js";

/** The counts kept on the stream row: everything but the storage, which is measured when asked. */
type KeptUsage = Omit<StreamUsage, "storageBytes">;

/**
 * What an aggregate's object has cost, counted as it runs: its SQLite rows from the storage's
 * meter (every statement's cursor), the commands and alarms it served, the events it published.
 * What earlier incarnations counted is read back from the stream row, where every commit (and the
 * alarm, between commits) keeps it — so an object evicted after its last save loses only what
 * it did since then.
 */
export class ObjectUsage {
  readonly #sql: SqlStorage;
  readonly #meter: SqlMeter;
  /** What earlier incarnations counted, and the meter's reading when this one started. */
  #base: KeptUsage = NO_USAGE;
  #meterAtStart: SqlMeter;
  #commands = 0;
  #alarms = 0;
  #published = 0;
  #unsaved = false;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    this.#meter = meterOf(sql);
    this.#meterAtStart = { ...this.#meter };
  }

  /** Takes what earlier incarnations counted (the stream row's JSON) — the object's first step. */
  resume(stored: string | null): void {
    if (stored === null) return;
    const kept = JSON.parse(stored) as Partial<KeptUsage>;
    this.#base = {
      commands: kept.commands ?? 0,
      rowsRead: kept.rowsRead ?? 0,
      rowsWritten: kept.rowsWritten ?? 0,
      alarms: kept.alarms ?? 0,
      published: kept.published ?? 0,
    };
  }

  /** Forgets everything counted: the storage was emptied (a hard delete). */
  reset(): void {
    this.#base = NO_USAGE;
    this.#meterAtStart = { ...this.#meter };
    this.#commands = 0;
    this.#alarms = 0;
    this.#published = 0;
  }

  /** The rows read and written so far by this object (for the cost of one command: read before and after). */
  rows(): SqlMeter {
    return { rowsRead: this.#meter.rowsRead, rowsWritten: this.#meter.rowsWritten };
  }

  command(): void {
    this.#commands += 1;
  }

  alarm(): void {
    this.#alarms += 1;
  }

  published(events: number): void {
    this.#published += events;
    if (events > 0) this.#unsaved = true;
  }

  /** Deliveries of follow-ups happened: worth keeping before the next commit. */
  delivered(count: number): void {
    if (count > 0) this.#unsaved = true;
  }

  /**
   * Whether something worth a row was counted since the counts were last kept (events published,
   * follow-ups delivered): an alarm that did neither does not write the stream row for them.
   */
  get unsaved(): boolean {
    return this.#unsaved;
  }

  /** The counts to keep on the stream row, as JSON. */
  kept(): string {
    this.#unsaved = false;
    const { storageBytes: _, ...kept } = this.current(false);
    return JSON.stringify(kept);
  }

  /** Everything counted, with the storage's size now (unless `measure` is false). */
  current(measure = true): StreamUsage {
    return {
      commands: this.#base.commands + this.#commands,
      rowsRead: this.#base.rowsRead + this.#meter.rowsRead - this.#meterAtStart.rowsRead,
      rowsWritten: this.#base.rowsWritten + this.#meter.rowsWritten - this.#meterAtStart.rowsWritten,
      alarms: this.#base.alarms + this.#alarms,
      published: this.#base.published + this.#published,
      storageBytes: measure ? this.#sql.databaseSize : 0,
    };
  }
}
