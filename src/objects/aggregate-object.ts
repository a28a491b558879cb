import { DurableObject } from "cloudflare:workers";
import type { AggregateDefinition } from "../core/aggregates/aggregate.js";
import { AggregateInstance, type InstanceStats } from "../core/aggregates/aggregate-instance.js";
import type { DomainEvent } from "../core/messaging/message.js";
import type { TelemetryHandler } from "../core/messaging/telemetry.js";
import { wiring } from "../core/messaging/wiring.js";
import { OutboxPublisher } from "../core/readside/outbox-publisher.js";
import { backoffDelay, type BackoffOptions } from "../core/shared/backoff.js";
import type { Logger } from "../core/shared/logger.js";
import { aggregateRoutes, type StreamHost } from "./aggregate-routes.js";
import { queueSender } from "./queue-sender.js";
import { SqliteStreamStore } from "./sqlite-stream-store.js";

/**
 * Where an aggregate object publishes its committed events (the read side's transactional
 * outbox; see guides/read-side.md).
 */
export type OutboxOptions<Env> = {
  /** The Cloudflare Queue the events go to: a producer binding of the Worker, e.g. `(env) => env.EVENTS`. */
  queue: (env: Env) => Queue;
  /**
   * How long after a commit the alarm makes sure its events went out (default 10 s). Publishing
   * normally starts right after the reply; the alarm is the safety net for an eviction or a crash.
   */
  checkAfterMs?: number;
  /** The delays between tries after a failed send (default from 1 s, doubling, at most 60 s). */
  retry?: BackoffOptions;
};

/** Options of {@link aggregateObject}. */
export type AggregateObjectOptions<Env = unknown> = {
  /** Default: a console logger in the Worker's `LOG_FORMAT` (see `wiring`). */
  logger?: Logger;
  /** Telemetry subscribers (`new_aggr_spawned`, `handle_msg`). */
  telemetry?: readonly TelemetryHandler[];
  /**
   * Publish every committed event to a queue for the read side: each event is written to an
   * outbox in the same transaction as the append, and sent in version order by the object; a
   * failed or interrupted send is retried by the object's alarm. Without it nothing is published.
   */
  outbox?: OutboxOptions<Env>;
};

/** The instance type of a class made by {@link aggregateObject}. */
export type AggregateObject = DurableObject<unknown> & {
  /** The object's protocol ({@link aggregateRoutes}): commands, stream reads, deletes. */
  fetch(request: Request): Promise<Response>;
  /** Sends what its outbox holds (the platform calls it when the alarm rings). */
  alarm(): Promise<void>;
  /** What the instance in this object has done (null before its first request). */
  stats(): InstanceStats | null;
};

/** The class type made by {@link aggregateObject}: export it from your Worker and bind it. */
export type AggregateObjectClass = new (ctx: DurableObjectState, env: unknown) => AggregateObject;

const DEFAULT_CHECK_AFTER_MS = 10_000;
const DEFAULT_RETRY: BackoffOptions = { baseMs: 1000, maxMs: 60_000 };

/**
 * The Durable Object class for one aggregate type. Each object holds one instance, named
 * `<stream>-<id>`, with its events and snapshots in the object's SQLite storage. Its fetch surface
 * is {@link aggregateRoutes}; the Worker reaches it through `durableObjectAggregates`. With
 * `outbox`, it publishes its committed events to a queue for the read side.
 *
 * ```ts
 * export class AccountObject extends aggregateObject(account, { outbox: { queue: (env: Env) => env.EVENTS } }) {}
 * // wrangler.toml: [[durable_objects.bindings]] name = "ACCOUNTS", class_name = "AccountObject"
 * //               [[migrations]] tag = "v1", new_sqlite_classes = ["AccountObject"]
 * //               [[queues.producers]] binding = "EVENTS", queue = "my-events"
 * ```
 */
export function aggregateObject<State, Event extends DomainEvent, Env = unknown>(
  aggregate: AggregateDefinition<State, Event>,
  options: AggregateObjectOptions<Env> = {},
): AggregateObjectClass {
  const { logger, telemetry, useEnv } = wiring(options);
  const outbox = options.outbox;

  return class extends DurableObject<unknown> implements AggregateObject, StreamHost {
    readonly logger = logger;
    readonly #store: SqliteStreamStore;
    readonly #publisher: OutboxPublisher | null;
    #instance: AggregateInstance<State, Event> | undefined;
    /** Whether this incarnation has set the alarm that checks the outbox (and it has not rung yet). */
    #armed = false;
    /** Failed sends in a row, for the back-off. */
    #failures = 0;
    /** Whether a commit of this incarnation wrote outbox rows that no send has started on yet. */
    #unsent = false;

    constructor(ctx: DurableObjectState, env: unknown) {
      super(ctx, env);
      useEnv(env);
      this.#store = new SqliteStreamStore(ctx.storage, {
        outbox: outbox !== undefined,
        // Synchronous, right after the commit: the alarm joins the events' atomic write batch.
        onOutboxWrite: () => {
          this.#unsent = true;
          this.#arm(outbox?.checkAfterMs ?? DEFAULT_CHECK_AFTER_MS);
        },
        // The alarm went with the storage: the next commit must set one again.
        onStorageEmptied: () => {
          this.#armed = false;
          this.#failures = 0;
        },
      });
      this.#publisher =
        outbox === undefined
          ? null
          : new OutboxPublisher({
              outbox: this.#store,
              stream: aggregate.stream,
              upcasters: aggregate.options.upcasters,
              send: queueSender(() => outbox.queue(env as Env)),
              logger,
            });
      void ctx.blockConcurrencyWhile(async () => this.#store.open());
    }

    stats(): InstanceStats | null {
      return this.#instance?.stats ?? null;
    }

    override async fetch(request: Request): Promise<Response> {
      const answer = await aggregateRoutes.fetch(request, this);
      // After the reply is settled: outgoing sends wait for the commit to be durable anyway. Only
      // when this request (or one before it) committed something: rows left by a failed send or
      // an earlier incarnation are the alarm's, so a read or a refused command costs no query.
      if (this.#unsent) {
        this.#unsent = false;
        void this.#publish();
      }
      return answer;
    }

    override async alarm(): Promise<void> {
      this.#armed = false;
      if (this.#publisher === null || !this.#store.hasUnpublished()) return;
      await this.#publish();
    }

    /** The instance for `streamName`, or why this object cannot serve that stream. */
    streamFor(streamName: string): AggregateInstance<State, Event> | string {
      if (!streamName.startsWith(`${aggregate.stream}-`)) return `stream ${streamName} is not a ${aggregate.stream} stream`;
      // The object's name (or, after an eviction, the name it stored) is the one stream it holds.
      const named = this.#instance?.streamName ?? this.ctx.id.name ?? this.#store.storedName() ?? streamName;
      if (named !== streamName) return `this object holds ${named}, not ${streamName}`;
      this.#instance ??= new AggregateInstance(aggregate, this.#store, { streamName, logger, telemetry });
      return this.#instance;
    }

    /** Sends the outbox; after a failure the alarm tries again, later each time. */
    async #publish(): Promise<void> {
      const result = await (this.#publisher as OutboxPublisher).publish();
      if (result.drained) {
        this.#failures = 0;
        // All sent: the safety alarm would only wake the object for nothing (a whole constructor
        // when it was evicted). Checked and cleared in one synchronous step, so a commit after it
        // arms a new alarm, written after this deletion.
        if (this.#armed && !this.#store.hasUnpublished()) {
          this.#armed = false;
          this.ctx.storage.deleteAlarm().catch((error: unknown) => logger.error("could not clear the outbox alarm", { error }));
        }
        return;
      }
      this.#failures += 1;
      this.#arm(backoffDelay(this.#failures, outbox?.retry ?? DEFAULT_RETRY), true);
    }

    /** Sets the alarm `inMs` from now, unless one this incarnation set is pending (or `replace`). */
    #arm(inMs: number, replace = false): void {
      if (this.#armed && !replace) return;
      this.#armed = true;
      this.ctx.storage.setAlarm(Date.now() + inMs).catch((error: unknown) => logger.error("could not set the outbox alarm", { error }));
    }
  };
}
