import { DurableObject } from "cloudflare:workers";
import type { Aggregate } from "../core/aggregates/aggregate.js";
import { AggregateInstance, type InstanceStats } from "../core/aggregates/aggregate-instance.js";
import { parseCommandRequest, type DeleteMode } from "../core/aggregates/aggregate-protocol.js";
import type { Logger } from "../core/shared/logger.js";
import { wiring } from "../core/messaging/wiring.js";
import type { DomainEvent } from "../core/messaging/message.js";
import { response } from "../core/messaging/response.js";
import type { TelemetryHandler } from "../core/messaging/telemetry.js";
import { AGGREGATE_PATHS } from "./aggregate-paths.js";
import type { durableObjectAggregates } from "./durable-aggregate-client.js";
import { SqliteStreamStore } from "./sqlite-stream-store.js";

/** Options of {@link aggregateObject}. */
export type AggregateObjectOptions = {
  logger?: Logger;
  /** Telemetry subscribers (`new_aggr_spawned`, `handle_msg`). */
  telemetry?: readonly TelemetryHandler[];
};

/** The instance type of a class made by {@link aggregateObject}. */
export type AggregateObject = DurableObject<unknown> & {
  /** The object's protocol: commands, stream reads, deletes (what {@link durableObjectAggregates} sends). */
  fetch(request: Request): Promise<Response>;
  /** What the instance in this object has done (null before its first request). */
  stats(): InstanceStats | null;
};

/** The class type made by {@link aggregateObject}: export it from your Worker and bind it. */
export type AggregateObjectClass = new (ctx: DurableObjectState, env: unknown) => AggregateObject;

/**
 * The Durable Object class for one aggregate type. Each object holds one instance, named
 * `<stream>-<id>`, with its events and snapshots in the object's SQLite storage. The Worker
 * reaches it through {@link durableObjectAggregates}, with `stub.fetch` carrying JSON.
 *
 * ```ts
 * export const AccountObject = aggregateObject(account);
 * // wrangler.toml: [[durable_objects.bindings]] name = "ACCOUNTS", class_name = "AccountObject"
 * //               [[migrations]] tag = "v1", new_sqlite_classes = ["AccountObject"]
 * ```
 */
export function aggregateObject<State, Event extends DomainEvent, Commands extends string>(
  aggregate: Aggregate<State, Event, Commands>,
  options: AggregateObjectOptions = {},
): AggregateObjectClass {
  const { logger, telemetry } = wiring(options);

  // The object needs no bindings: everything it does is in its own storage.
  return class extends DurableObject<unknown> implements AggregateObject {
    readonly #store: SqliteStreamStore;
    #instance: AggregateInstance<State, Event> | undefined;

    constructor(ctx: DurableObjectState, env: unknown) {
      super(ctx, env);
      this.#store = new SqliteStreamStore(ctx.storage);
      void ctx.blockConcurrencyWhile(async () => this.#store.open());
    }

    stats(): InstanceStats | null {
      return this.#instance?.stats ?? null;
    }

    override async fetch(request: Request): Promise<Response> {
      const url = new URL(request.url);
      try {
        if (request.method === "POST" && url.pathname === AGGREGATE_PATHS.command) {
          const parsed = parseCommandRequest(await request.json().catch(() => undefined));
          if (typeof parsed === "string") return refuse(parsed);
          const instance = this.#instanceFor(parsed.streamName);
          if (typeof instance === "string") return refuse(instance);
          return Response.json({ message: await instance.execute(parsed) });
        }
        if (request.method === "GET" && url.pathname === AGGREGATE_PATHS.events) {
          const instance = this.#instanceFor(url.searchParams.get("stream") ?? "");
          if (typeof instance === "string") return refuse(instance);
          const from = Number(url.searchParams.get("from") ?? "0");
          const limit = Number(url.searchParams.get("limit") ?? "100");
          if (!Number.isSafeInteger(from) || from < 0 || !Number.isSafeInteger(limit) || limit < 1) {
            return refuse("from must be an integer >= 0 and limit an integer >= 1");
          }
          return Response.json(await instance.read(from, limit));
        }
        if (request.method === "POST" && url.pathname === AGGREGATE_PATHS.delete) {
          const body = ((await request.json().catch(() => undefined)) ?? {}) as {
            streamName?: unknown;
            mode?: unknown;
            expectedVersion?: unknown;
          };
          const instance = this.#instanceFor(typeof body.streamName === "string" ? body.streamName : "");
          if (typeof instance === "string") return refuse(instance);
          if (body.mode !== "soft" && body.mode !== "hard") return refuse("mode must be soft or hard");
          const expectedVersion = typeof body.expectedVersion === "number" ? body.expectedVersion : undefined;
          return Response.json({ response: await instance.delete({ mode: body.mode as DeleteMode, expectedVersion }) });
        }
        return refuse(`no route ${request.method} ${url.pathname}`, 404);
      } catch (error) {
        logger.error("aggregate object failed", { error });
        return Response.json({ response: response.error("internal_error") }, { status: 500 });
      }
    }

    /** The instance for `streamName`, or why this object cannot serve that stream. */
    #instanceFor(streamName: string): AggregateInstance<State, Event> | string {
      if (!streamName.startsWith(`${aggregate.stream}-`)) return `stream ${streamName} is not a ${aggregate.stream} stream`;
      // The object's name (or, after an eviction, the name it stored) is the one stream it holds.
      const named = this.#instance?.streamName ?? this.ctx.id.name ?? this.#store.storedName() ?? streamName;
      if (named !== streamName) return `this object holds ${named}, not ${streamName}`;
      this.#instance ??= new AggregateInstance(aggregate, this.#store, { streamName, logger, telemetry });
      return this.#instance;
    }
  };
}

function refuse(problem: string, status = 400): Response {
  return Response.json({ error: problem }, { status });
}
