import type { AggregateDefinition } from "./aggregate.js";
import { AggregateInstance } from "./aggregate-instance.js";
import type { AggregateClient, CommandRequest, DeleteOptions, PastState, StateQuery, StreamPage } from "./aggregate-protocol.js";
import type { Logger } from "../shared/logger.js";
import { halt, type DomainEvent, type Message } from "../messaging/message.js";
import { MemoryStreamStore } from "./memory-stream-store.js";
import type { Outbox } from "./stream-store.js";
import { response, type ErrorResponse, type ServiceResponse } from "../messaging/response.js";
import type { Telemetry } from "../messaging/telemetry.js";
import { MemoryAlarm } from "../scheduling/memory-alarm.js";
import { MemoryScheduleStore } from "../scheduling/memory-schedule-store.js";
import { SchedulerRunner, type SchedulerRunnerOptions } from "../scheduling/scheduler.js";

/**
 * How in-memory aggregates deliver their follow-ups (see `accept`'s `schedule`): through
 * `dispatch` (a Dispatcher's, over the services they go to), with the caller's rights
 * re-checked by `reidentify`, and `hooks.serviceResponded` deciding retries (default: transient
 * failures, with back-off).
 */
export type MemoryFollowUpOptions = Pick<SchedulerRunnerOptions, "dispatch" | "hooks" | "reidentify">;

/** Options of {@link MemoryAggregates}. */
export type MemoryAggregatesOptions = {
  logger?: Logger;
  telemetry?: Telemetry;
  /**
   * The clock (ms since the epoch; default `Date.now`): when events and idempotency records are
   * recorded, when follow-ups are due, when unload rules apply.
   */
  now?: () => number;
  /**
   * Publish committed events (the read side's in-memory equivalent of an object's outbox): every
   * stream's store then keeps an {@link Outbox}, and after each command this is called with it —
   * `publishToQueue(aggregate, queue)` sends its events to an in-memory queue.
   */
  publish?: (streamName: string, outbox: Outbox) => Promise<void>;
  /**
   * Deliver the follow-ups the aggregate's decisions schedule, each stream's on a timer of its
   * own (the in-memory equivalent of its Durable Object's alarm). Without it a decision that
   * schedules or cancels follow-ups is refused. Call {@link MemoryAggregates.close} to stop the
   * timers.
   */
  followUps?: MemoryFollowUpOptions;
};

/** One stream kept in memory. */
type Entry<State, Event extends DomainEvent> = {
  instance: AggregateInstance<State, Event>;
  store: MemoryStreamStore;
  /** Calls working on this stream right now. */
  users: number;
  /** Its follow-ups' timer, when the aggregates deliver follow-ups. */
  alarm: MemoryAlarm | null;
};

/**
 * The instances of one aggregate type kept in this process, each with its own in-memory stream:
 * the {@link AggregateClient} for runtimes without Durable Objects (Node, Deno, Bun), scripts
 * and tests. Same semantics as the Durable Object adapter — one command at a time per instance,
 * atomic appends, idempotency, snapshots — but nothing survives the process. Memory holds every
 * stream written and not hard-deleted, each with its whole history.
 */
export class MemoryAggregates<State, Event extends DomainEvent> implements AggregateClient<unknown> {
  readonly #aggregate: AggregateDefinition<State, Event>;
  readonly #options: MemoryAggregatesOptions;
  readonly #instances = new Map<string, Entry<State, Event>>();
  #closed = false;

  /** No instances yet; each is created by its first request. */
  constructor(aggregate: AggregateDefinition<State, Event>, options: MemoryAggregatesOptions = {}) {
    this.#aggregate = aggregate;
    this.#options = options;
  }

  /** Runs a command on the instance of `request.streamName`. */
  async execute(_env: unknown, request: CommandRequest): Promise<Message> {
    if (!this.#owns(request.streamName)) return halt(request.message, response.error("not_found"));
    return this.#using(request.streamName, async (entry) => {
      const reply = await entry.instance.execute(request);
      if (this.#options.publish !== undefined) await this.#options.publish(request.streamName, entry.store);
      return reply;
    });
  }

  /** One page of a stream's events; reading a stream that was never written creates nothing. */
  async readStream(_env: unknown, streamName: string, page: { from: number; limit: number }): Promise<StreamPage> {
    const missing: StreamPage = { stream: streamName, status: "missing", version: -1, events: [], nextFrom: null, snapshot: null, followUps: [], followUpOutcomes: [] };
    if (!this.#owns(streamName) || !this.#instances.has(streamName)) return missing;
    return this.#using(streamName, (entry) => entry.instance.read(page.from, page.limit));
  }

  /** Deletes a stream, softly or for good; a hard delete also forgets the instance. */
  async deleteStream(_env: unknown, streamName: string, options: DeleteOptions): Promise<ServiceResponse> {
    if (!this.#owns(streamName) || !this.#instances.has(streamName)) return response.error("not_found");
    return this.#using(streamName, (entry) => entry.instance.delete(options));
  }

  /** The stream's state at a version or time, and a command's dry run against it: nothing is stored. */
  async stateAt(_env: unknown, streamName: string, query: StateQuery): Promise<PastState | ErrorResponse> {
    if (!this.#owns(streamName) || !this.#instances.has(streamName)) return response.error("not_found");
    return this.#using(streamName, (entry) => entry.instance.stateAt(query));
  }

  /** Stops every follow-up timer: nothing is delivered afterwards (so that a script can exit). */
  close(): void {
    this.#closed = true;
    for (const entry of this.#instances.values()) entry.alarm?.close();
  }

  /** How many streams are kept in memory (each with its whole history). */
  get streamCount(): number {
    return this.#instances.size;
  }

  /** Whether a stream name belongs to this aggregate. */
  #owns(streamName: string): boolean {
    return streamName.startsWith(`${this.#aggregate.stream}-`);
  }

  /**
   * Runs `work` on a stream's entry, made if need be (reads and deletes check that it exists
   * first, so only a command creates one). An entry whose stream holds nothing (never written —
   * a refused command — or hard-deleted) is forgotten once no call is using it, so commands on
   * made-up names leave nothing behind.
   */
  async #using<T>(streamName: string, work: (entry: Entry<State, Event>) => Promise<T>): Promise<T> {
    let entry = this.#instances.get(streamName);
    if (entry === undefined) {
      entry = this.#entryOf(streamName);
      this.#instances.set(streamName, entry);
    }
    entry.users += 1;
    try {
      return await work(entry);
    } finally {
      entry.users -= 1;
      // Its follow-ups may have changed: the timer points at the earliest again.
      await entry.alarm?.arm();
      if (entry.users === 0 && this.#instances.get(streamName) === entry) {
        const { status } = await entry.store.streamState();
        if (entry.users === 0 && status === "missing" && this.#instances.get(streamName) === entry) {
          this.#instances.delete(streamName);
          entry.alarm?.close();
        }
      }
    }
  }

  /** A stream's entry: its store, instance, and — when follow-ups are delivered — their store and timer. */
  #entryOf(streamName: string): Entry<State, Event> {
    const { publish, followUps, ...options } = this.#options;
    const clock = options.now === undefined ? {} : { now: options.now };
    if (followUps === undefined) {
      const store = new MemoryStreamStore({ outbox: publish !== undefined, ...clock });
      return { instance: new AggregateInstance(this.#aggregate, store, { streamName, ...options }), store, users: 0, alarm: null };
    }
    const schedules = new MemoryScheduleStore();
    const runner = new SchedulerRunner(schedules, {
      ...followUps,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    const alarm = new MemoryAlarm(runner, options.logger === undefined ? {} : { logger: options.logger });
    if (this.#closed) alarm.close();
    const store = new MemoryStreamStore({ outbox: publish !== undefined, followUps: schedules, ...clock });
    const policy = { reidentify: followUps.reidentify !== undefined };
    return { instance: new AggregateInstance(this.#aggregate, store, { streamName, ...options, followUps: policy }), store, users: 0, alarm };
  }
}
