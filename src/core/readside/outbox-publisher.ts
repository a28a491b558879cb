import type { Outbox } from "../aggregates/stream-store.js";
import { upcast, type Upcasters } from "../aggregates/upcasting.js";
import { jsonLogger, type Logger } from "../shared/logger.js";
import { envelopeOf, projectedEvent, type EventEnvelope } from "./event-envelope.js";
import type { StreamUsage } from "../aggregates/stream-usage.js";
import type { CatalogEntry } from "./read-store.js";
import { isoTime } from "../shared/iso-time.js";

/** Sends envelopes to the queue, in the order given; rejects when the send failed (nothing or part sent). */
export type SendEnvelopes = (envelopes: readonly EventEnvelope[]) => Promise<void>;

/** Options of an {@link OutboxPublisher}. */
export type OutboxPublisherOptions = {
  /** The stream's outbox. */
  outbox: Outbox;
  /** The aggregate type (stream name prefix). */
  stream: string;
  /** The aggregate's upcasters: events are published in today's shape, as stream reads show them. */
  upcasters?: Upcasters;
  /** Sends one batch to the queue. */
  send: SendEnvelopes;
  /**
   * Records the stream and the version a batch reaches in the read side's catalog, beside the
   * send (`ReadStore.record`): the read side then knows every committed event even if its queue
   * message is lost, and its sweep delivers what is missing. A batch is published only when both
   * succeeded.
   */
  record?: (entries: readonly CatalogEntry[]) => Promise<void>;
  /**
   * Records a stream in the catalog at most once in this many milliseconds (default 0: with every
   * batch, before the batch counts as published). Above 0, a batch is published once sent, and
   * what it reached is recorded with the first batch after the period, or by
   * {@link OutboxPublisher.recordSent} — which the caller must then run within the period (an
   * object's alarm does): one catalog write per period instead of one per send.
   */
  recordAtMostEveryMs?: number;
  /** What the stream's object has cost so far, recorded with each catalog entry (see `StreamUsage`). */
  usage?: () => StreamUsage;
  logger?: Logger;
  /** Envelopes per send at most (default 100, a Queues batch's limit). */
  batchSize?: number;
  /** Bytes per send at most (default 240,000; a Queues batch holds 256 KB). */
  batchBytes?: number;
};

/**
 * What one {@link OutboxPublisher.publish} did: events sent (by this call: one that joined a
 * publication under way sent none of its own, so that counting every call's `sent` counts each
 * event once), and whether the outbox is now empty.
 */
export type PublishResult = { sent: number; drained: boolean; error?: unknown };

/**
 * Publishes one stream's outbox: its committed events in version order, a batch at a time, each
 * batch marked published only after its send (and its record in the catalog) succeeded. A failed send leaves the rest in
 * the outbox for the next try (the Durable Object's alarm), so an event may be sent twice but is
 * never lost; consumers skip what they already applied. One publication runs at a time: a call
 * during one makes it go on until the outbox is empty.
 */
export class OutboxPublisher {
  readonly #options: OutboxPublisherOptions;
  readonly #logger: Logger;
  #running: Promise<PublishResult> | null = null;
  #again = false;
  /** What was sent and not yet recorded in the catalog (only with `recordAtMostEveryMs`). */
  #unrecorded: CatalogEntry | null = null;
  /** When this publisher last recorded (epoch ms), or null when it has not yet. */
  #recordedAt: number | null = null;
  /** Bumped by {@link forget}: a send that was under way then is about a stream that is gone. */
  #generation = 0;

  /** A publisher of one outbox. */
  constructor(options: OutboxPublisherOptions) {
    this.#options = options;
    this.#logger = options.logger ?? jsonLogger();
  }

  /** Sends what the outbox holds (joining the publication under way, if any). Never rejects. */
  publish(): Promise<PublishResult> {
    if (this.#running !== null) {
      this.#again = true;
      // The sends are the caller's who started the publication: counted there, once.
      return this.#running.then((result) => ({ ...result, sent: 0 }));
    }
    const run = this.#drain().finally(() => {
      this.#running = null;
    });
    this.#running = run;
    return run;
  }

  /** Whether something sent is not yet recorded in the catalog. */
  hasUnrecorded(): boolean {
    return this.#unrecorded !== null;
  }

  /**
   * Records in the catalog what was sent and not yet recorded; given `current` (the stream as
   * stored), also when this publisher has recorded nothing yet — an earlier incarnation may have
   * sent without recording — and, with `committed`, the stream as stored whatever was sent (when
   * sending fails, the read side still learns what was committed, and its sweep reads it from
   * the stream). Rejects when the record failed (nothing forgotten: tried again next time).
   */
  async recordSent(current?: () => Promise<CatalogEntry | null>, committed = false): Promise<void> {
    const record = this.#options.record;
    if (record === undefined) return;
    const stored = current !== undefined && (committed || (this.#unrecorded === null && this.#recordedAt === null)) ? await current() : null;
    const entry = stored ?? this.#unrecorded;
    if (entry === null) return;
    await record([this.#measured(entry)]);
    this.#recordedAt = Date.now();
    // Only if nothing newer was sent meanwhile.
    const sent = this.#unrecorded;
    if (sent !== null && sent.streamName === entry.streamName && sent.version <= entry.version) this.#unrecorded = null;
  }

  /** Forgets what it sent and recorded: the stream's storage was emptied (a hard delete). */
  forget(): void {
    this.#unrecorded = null;
    this.#recordedAt = null;
    this.#generation += 1;
  }

  /** `entry` with the object's usage now, when it is measured. */
  #measured(entry: CatalogEntry): CatalogEntry {
    const usage = this.#options.usage;
    return usage === undefined ? entry : { ...entry, usage: usage() };
  }

  async #drain(): Promise<PublishResult> {
    const { outbox, stream, upcasters, send } = this.#options;
    const batchSize = this.#options.batchSize ?? 100;
    const batchBytes = this.#options.batchBytes ?? 240_000;
    let sent = 0;
    for (;;) {
      this.#again = false;
      let pending;
      try {
        pending = await outbox.unpublished(batchSize);
        if (pending.events.length === 0) {
          if (this.#again) continue;
          return { sent, drained: true };
        }
        const publishedAt = isoTime();
        const batch: EventEnvelope[] = [];
        let bytes = 0;
        let last = -1;
        for (const event of pending.events) {
          const current = upcast(upcasters, event);
          const shaped = current === event ? event : { ...event, type: current.type, data: current.data, schemaVersion: current.schemaVersion };
          const { envelope, bytes: size } = envelopeOf(projectedEvent(stream, pending.streamName, shaped), publishedAt);
          if (batch.length > 0 && bytes + size > batchBytes) break;
          batch.push(envelope);
          bytes += size;
          last = event.version;
        }
        const reached = { stream, streamName: pending.streamName, version: last };
        const every = this.#options.recordAtMostEveryMs ?? 0;
        const generation = this.#generation;
        if (every <= 0 || this.#options.record === undefined) {
          await Promise.all([send(batch), this.#options.record?.([this.#measured(reached)])]);
          // The stream was deleted while this batch was on its way: what it sent says nothing of
          // the stream stored now (created again, from version 0), whose events are sent next.
          if (generation !== this.#generation) continue;
          await outbox.markPublished(last);
        } else {
          await send(batch);
          if (generation !== this.#generation) continue;
          await outbox.markPublished(last);
          this.#unrecorded = reached;
          if (this.#recordedAt === null || Date.now() - this.#recordedAt >= every) {
            // A failed record stops no send: what was sent stays unrecorded, for the next try.
            await this.recordSent().catch((error: unknown) => this.#logger.warn("recording the stream in the catalog failed: it will be tried again", { error }));
          }
        }
        sent += batch.length;
        // Everything the read found went, and nothing was committed meanwhile (a commit's publish
        // would have said so): the outbox is empty without asking it again.
        if (pending.events.length < batchSize && batch.length === pending.events.length && !this.#again) return { sent, drained: true };
      } catch (error) {
        this.#logger.error("publishing the outbox failed: it will be tried again", { stream: pending?.streamName ?? stream, error });
        return { sent, drained: false, error };
      }
    }
  }
}
