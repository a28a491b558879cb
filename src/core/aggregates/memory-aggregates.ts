import type { AggregateDefinition } from "./aggregate.js";
import { AggregateInstance } from "./aggregate-instance.js";
import type { AggregateClient, CommandRequest, DeleteOptions, StreamPage } from "./aggregate-protocol.js";
import type { Logger } from "../shared/logger.js";
import { halt, type DomainEvent, type Message } from "../messaging/message.js";
import { MemoryStreamStore } from "./memory-stream-store.js";
import { response, type ServiceResponse } from "../messaging/response.js";
import type { Telemetry } from "../messaging/telemetry.js";

/** Options of {@link MemoryAggregates}. */
export type MemoryAggregatesOptions = { logger?: Logger; telemetry?: Telemetry; now?: () => number };

/**
 * The instances of one aggregate type kept in this process, each with its own in-memory stream:
 * the {@link AggregateClient} for runtimes without Durable Objects (Node, Deno, Bun), scripts
 * and tests. Same semantics as the Durable Object adapter — one command at a time per instance,
 * atomic appends, idempotency, snapshots — but nothing survives the process.
 */
export class MemoryAggregates<State, Event extends DomainEvent> implements AggregateClient<unknown> {
  readonly #aggregate: AggregateDefinition<State, Event>;
  readonly #options: MemoryAggregatesOptions;
  readonly #instances = new Map<string, AggregateInstance<State, Event>>();

  /** No instances yet; each is created by its first request. */
  constructor(aggregate: AggregateDefinition<State, Event>, options: MemoryAggregatesOptions = {}) {
    this.#aggregate = aggregate;
    this.#options = options;
  }

  /** Runs a command on the instance of `request.streamName`. */
  async execute(_env: unknown, request: CommandRequest): Promise<Message> {
    const instance = this.#instanceOf(request.streamName);
    if (instance === null) return halt(request.message, response.error("not_found"));
    return instance.execute(request);
  }

  /** One page of a stream's events. */
  async readStream(_env: unknown, streamName: string, page: { from: number; limit: number }): Promise<StreamPage> {
    const instance = this.#instanceOf(streamName);
    if (instance === null) return { stream: streamName, status: "missing", version: -1, events: [], nextFrom: null };
    return instance.read(page.from, page.limit);
  }

  /** Deletes a stream, softly or for good. */
  async deleteStream(_env: unknown, streamName: string, options: DeleteOptions): Promise<ServiceResponse> {
    const instance = this.#instanceOf(streamName);
    return instance === null ? response.error("not_found") : instance.delete(options);
  }

  /** The instance of a stream of this aggregate, or null for another aggregate's stream. */
  #instanceOf(streamName: string): AggregateInstance<State, Event> | null {
    if (!streamName.startsWith(`${this.#aggregate.stream}-`)) return null;
    let instance = this.#instances.get(streamName);
    if (instance === undefined) {
      instance = new AggregateInstance(this.#aggregate, new MemoryStreamStore(), { streamName, ...this.#options });
      this.#instances.set(streamName, instance);
    }
    return instance;
  }
}
