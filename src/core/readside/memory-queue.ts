import type { AggregateDefinition } from "../aggregates/aggregate.js";
import type { Outbox } from "../aggregates/stream-store.js";
import type { DomainEvent } from "../messaging/message.js";
import { jsonCopy, type Json } from "../shared/json.js";
import { silentLogger, type Logger } from "../shared/logger.js";
import type { EventEnvelope } from "./event-envelope.js";
import { OutboxPublisher } from "./outbox-publisher.js";
import type { DeadLetter, ReadStore } from "./read-store.js";
import type { Delivery, DeliveryOutcome } from "./subscription-runner.js";

/** Options of a {@link MemoryQueue}. */
export type MemoryQueueOptions = {
  /** The consumer: a runner's `deliver` over a batch (`(batch) => runner.deliver(batch, scope)`). */
  consumer: (batch: readonly Delivery[]) => Promise<DeliveryOutcome[]>;
  /** Messages per batch at most (default 10). */
  batchSize?: number;
  /**
   * What Queues are allowed to do, on purpose, for tests: deliver each batch in a shuffled order,
   * deliver a message a second time with probability `duplicate`, and lose one with probability
   * `drop` (past its retention, or with a dev server that stopped: what the sweep recovers).
   */
  chaos?: { reorder?: boolean; duplicate?: number; drop?: number; random?: () => number };
};

type Pending = { id: string; attempts: number; body: Json };

/**
 * A queue in this process with the delivery rules of a Cloudflare Queue as the read side relies
 * on them: batches, at least once, acknowledged or retried per message, dead letters after the
 * consumer gives up — and, on request, shuffled and duplicated deliveries. Retry delays are not
 * waited for: a retried message goes back to the end of the queue. For Node, Deno, Bun and tests.
 */
export class MemoryQueue {
  readonly #options: MemoryQueueOptions;
  #pending: Pending[] = [];
  #nextId = 0;
  /** The dead letters the consumer gave up on, oldest first. */
  readonly deadLetters: DeadLetter[] = [];
  /** How many messages were delivered (redeliveries and duplicates included). */
  delivered = 0;
  /** How many messages were lost on purpose (`chaos.drop`). */
  lost = 0;

  /** An empty queue delivering to `options.consumer`. */
  constructor(options: MemoryQueueOptions) {
    this.#options = options;
  }

  /** Messages waiting to be delivered. */
  get size(): number {
    return this.#pending.length;
  }

  /** Enqueues one message (a copy of `body`, as a real queue would serialise it). */
  async send(body: unknown): Promise<void> {
    this.#pending.push({ id: `m${(this.#nextId += 1)}`, attempts: 0, body: jsonCopy(body) as Json });
  }

  /** Enqueues messages in order. */
  async sendBatch(messages: readonly { body: unknown }[]): Promise<void> {
    for (const message of messages) await this.send(message.body);
  }

  /** Delivers batches until nothing is pending; resolves with the number of batches. */
  async drain(): Promise<number> {
    let batches = 0;
    const random = this.#options.chaos?.random ?? Math.random;
    while (this.#pending.length > 0) {
      const drop = this.#options.chaos?.drop ?? 0;
      const taken = this.#pending.splice(0, this.#options.batchSize ?? 10).filter(() => {
        const kept = !(drop > 0 && random() < drop);
        if (!kept) this.lost += 1;
        return kept;
      });
      if (taken.length === 0) continue;
      const batch = taken.map((message) => ({ ...message, attempts: message.attempts + 1 }));
      const duplicate = this.#options.chaos?.duplicate ?? 0;
      const extra = batch.filter(() => duplicate > 0 && random() < duplicate);
      const delivered = [...batch, ...extra.map((message) => ({ ...message }))];
      if (this.#options.chaos?.reorder === true) shuffle(delivered, random);
      this.delivered += delivered.length;
      batches += 1;
      const outcomes = await this.#options.consumer(delivered.map((message) => ({ id: message.id, attempts: message.attempts, body: jsonCopy(message.body) })));
      const settled = new Set<string>();
      for (const [index, outcome] of outcomes.entries()) {
        const message = delivered[index] as Pending;
        // A duplicate's fate is its original's: acknowledged once, retried once.
        if (settled.has(message.id)) continue;
        settled.add(message.id);
        if (outcome.kind === "retry") this.#pending.push({ id: message.id, attempts: message.attempts, body: message.body });
        else if (outcome.kind === "dead_letter") this.deadLetters.push(...outcome.letters);
      }
    }
    return batches;
  }
}

/** Options of {@link publishToQueue}. */
export type PublishToQueueOptions = {
  /**
   * The read side's store, whose catalog records each stream's version as it is published (as
   * an object's outbox does): the sweep then finds what the queue lost.
   */
  catalog?: Pick<ReadStore, "record">;
  logger?: Logger;
};

/**
 * The in-memory publisher of one aggregate type's outboxes, for `MemoryAggregates`' `publish`
 * option: after each command it sends the stream's new events to `queue`, in version order (and
 * records the stream in `options.catalog`).
 */
export function publishToQueue<State, Event extends DomainEvent>(
  aggregate: AggregateDefinition<State, Event>,
  queue: MemoryQueue,
  options: PublishToQueueOptions = {},
): (streamName: string, outbox: Outbox) => Promise<void> {
  // One publisher per outbox (not per stream name: a stream forgotten and written again has a new
  // outbox), gone with it.
  const publishers = new WeakMap<Outbox, OutboxPublisher>();
  const send = (envelopes: readonly EventEnvelope[]) => queue.sendBatch(envelopes.map((body) => ({ body })));
  const catalog = options.catalog;
  const record = catalog === undefined ? {} : { record: (entries: Parameters<ReadStore["record"]>[0]) => catalog.record(entries) };
  return async (_streamName, outbox) => {
    let publisher = publishers.get(outbox);
    if (publisher === undefined) {
      publisher = new OutboxPublisher({
        outbox,
        stream: aggregate.stream,
        upcasters: aggregate.options.upcasters,
        send,
        ...record,
        logger: options.logger ?? silentLogger,
      });
      publishers.set(outbox, publisher);
    }
    await publisher.publish();
  };
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}
