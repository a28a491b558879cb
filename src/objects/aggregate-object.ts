import { DurableObject } from "cloudflare:workers";
import type { AggregateDefinition } from "../core/aggregates/aggregate.js";
import { AggregateInstance, type InstanceStats } from "../core/aggregates/aggregate-instance.js";
import type { DomainEvent } from "../core/messaging/message.js";
import type { TelemetryHandler } from "../core/messaging/telemetry.js";
import { wiring } from "../core/messaging/wiring.js";
import type { Logger } from "../core/shared/logger.js";
import { aggregateRoutes, type StreamHost } from "./aggregate-routes.js";
import { SqliteStreamStore } from "./sqlite-stream-store.js";

/** Options of {@link aggregateObject}. */
export type AggregateObjectOptions = {
  /** Default: a console logger in the Worker's `LOG_FORMAT` (see `wiring`). */
  logger?: Logger;
  /** Telemetry subscribers (`new_aggr_spawned`, `handle_msg`). */
  telemetry?: readonly TelemetryHandler[];
};

/** The instance type of a class made by {@link aggregateObject}. */
export type AggregateObject = DurableObject<unknown> & {
  /** The object's protocol ({@link aggregateRoutes}): commands, stream reads, deletes. */
  fetch(request: Request): Promise<Response>;
  /** What the instance in this object has done (null before its first request). */
  stats(): InstanceStats | null;
};

/** The class type made by {@link aggregateObject}: export it from your Worker and bind it. */
export type AggregateObjectClass = new (ctx: DurableObjectState, env: unknown) => AggregateObject;

/**
 * The Durable Object class for one aggregate type. Each object holds one instance, named
 * `<stream>-<id>`, with its events and snapshots in the object's SQLite storage. Its fetch surface
 * is {@link aggregateRoutes}; the Worker reaches it through `durableObjectAggregates`.
 *
 * ```ts
 * export class AccountObject extends aggregateObject(account) {}
 * // wrangler.toml: [[durable_objects.bindings]] name = "ACCOUNTS", class_name = "AccountObject"
 * //               [[migrations]] tag = "v1", new_sqlite_classes = ["AccountObject"]
 * ```
 */
export function aggregateObject<State, Event extends DomainEvent>(
  aggregate: AggregateDefinition<State, Event>,
  options: AggregateObjectOptions = {},
): AggregateObjectClass {
  const { logger, telemetry, useEnv } = wiring(options);

  // The object needs no bindings: everything it does is in its own storage.
  return class extends DurableObject<unknown> implements AggregateObject, StreamHost {
    readonly logger = logger;
    readonly #store: SqliteStreamStore;
    #instance: AggregateInstance<State, Event> | undefined;

    constructor(ctx: DurableObjectState, env: unknown) {
      super(ctx, env);
      useEnv(env);
      this.#store = new SqliteStreamStore(ctx.storage);
      void ctx.blockConcurrencyWhile(async () => this.#store.open());
    }

    stats(): InstanceStats | null {
      return this.#instance?.stats ?? null;
    }

    override async fetch(request: Request): Promise<Response> {
      return aggregateRoutes.fetch(request, this);
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
  };
}
