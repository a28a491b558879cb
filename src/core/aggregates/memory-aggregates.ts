import type { AggregateDefinition } from "./aggregate.js";
import { AggregateInstance } from "./aggregate-instance.js";
import type { AggregateClient, CommandRequest, DeleteOptions, StreamPage } from "./aggregate-protocol.js";
import type { Logger } from "../shared/logger.js";
import { halt, type DomainEvent, type Message } from "../messaging/message.js";
import { MemoryStreamStore } from "./memory-stream-store.js";
import type { Outbox } from "./stream-store.js";
import { response, type ServiceResponse } from "../messaging/response.js";
import type { Telemetry } from "../messaging/telemetry.js";

/** Options of {@link MemoryAggregates}. */
export type MemoryAggregatesOptions = {
  logger?: Logger;
  telemetry?: Telemetry;
  now?: () => number;
  /**
   * Publish committed events (the read side's in-memory equivalent of an object's outbox): every
   * stream's store then keeps an {@link Outbox}, and after each command this is called with it —
   * `publishToQueue(aggregate, queue)` sends its events to an in-memory queue.
   */
  publish?: (streamName: string, outbox: Outbox) => Promise<void>;
};

/**
 * The instances of one aggregate type kept in this process, each with its own in-memory stream:
 * the {@link AggregateClient} for runtimes without Durable Objects (Node, Deno, Bun), scripts
 * and tests. Same semantics as the Durable Object adapter — one command at a time per instance,
 * atomic appends, idempotency, snapshots — but nothing survives the process.
 */
export class MemoryAggregates<State, Event extends DomainEvent> implements AggregateClient<unknown> {
  readonly #aggregate: AggregateDefinition<State, Event>;
  readonly #options: MemoryAggregatesOptions;
  readonly #instances = new Map<string, { instance: AggregateInstance<State, Event>; store: MemoryStreamStore }>();

  /** No instances yet; each is created by its first request. */
  constructor(aggregate: AggregateDefinition<State, Event>, options: MemoryAggregatesOptions = {}) {
    this.#aggregate = aggregate;
    this.#options = options;
  }

  /** Runs a command on the instance of `request.streamName`. */
  async execute(_env: unknown, request: CommandRequest): Promise<Message> {
    const found = this.#instanceOf(request.streamName);
    if (found === null) return halt(request.message, response.error("not_found"));
    const reply = await found.instance.execute(request);
    if (this.#options.publish !== undefined) await this.#options.publish(request.streamName, found.store);
    return reply;
  }

  /** One page of a stream's events. */
  async readStream(_env: unknown, streamName: string, page: { from: number; limit: number }): Promise<StreamPage> {
    const found = this.#instanceOf(streamName);
    if (found === null) return { stream: streamName, status: "missing", version: -1, events: [], nextFrom: null };
    return found.instance.read(page.from, page.limit);
  }

  /** Deletes a stream, softly or for good. */
  async deleteStream(_env: unknown, streamName: string, options: DeleteOptions): Promise<ServiceResponse> {
    const found = this.#instanceOf(streamName);
    return found === null ? response.error("not_found") : found.instance.delete(options);
  }

  /** The instance of a stream of this aggregate, or null for another aggregate's stream. */
  #instanceOf(streamName: string): { instance: AggregateInstance<State, Event>; store: MemoryStreamStore } | null {
    if (!streamName.startsWith(`${this.#aggregate.stream}-`)) return null;
    let found = this.#instances.get(streamName);
    if (found === undefined) {
      const store = new MemoryStreamStore({ outbox: this.#options.publish !== undefined });
      const { publish: _publish, ...options } = this.#options;
      found = { instance: new AggregateInstance(this.#aggregate, store, { streamName, ...options }), store };
      this.#instances.set(streamName, found);
    }
    return found;
  }
}
