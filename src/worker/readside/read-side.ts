import { aggregateSource, type EventSources } from "../../core/readside/event-source.js";
import { catchUp, rebuild, type CatchUpOptions, type RebuildProgress } from "../../core/readside/rebuild.js";
import type { DeadLetter, ReadStore } from "../../core/readside/read-store.js";
import { eraseAggregate, type EraseRequest } from "../../core/readside/erasure.js";
import type { ErasureReceipt } from "../../core/readside/erasure-receipt.js";
import type { ErrorResponse } from "../../core/messaging/response.js";
import { SqlReadStore } from "../../core/readside/sql-read-store.js";
import type { Subscriber } from "../../core/readside/subscriber.js";
import { SubscriptionRunner, type RunScope } from "../../core/readside/subscription-runner.js";
import { sweep, type SweepOptions, type SweepReport } from "../../core/readside/sweep.js";
import type { BackoffOptions } from "../../core/shared/backoff.js";
import type { LogFormat, Logger } from "../../core/shared/logger.js";
import { wiring } from "../../core/messaging/wiring.js";
import { d1Executor } from "./d1-executor.js";

/** Options of {@link readSide}. */
export type ReadSideOptions<Env> = {
  /** The projections and process managers events are delivered to. */
  subscribers: readonly Subscriber[];
  /** The D1 database that holds the read models (and the read side's own tables). */
  database: (env: Env) => D1Database;
  /**
   * The aggregates whose streams are read back (gaps, catch-up, rebuild, the sweep): their
   * routers, `[accounts, transfers]` — or, by aggregate type, their routers or clients.
   */
  sources: EventSources<Env>;
  /**
   * A queue that receives each dead letter (with the error), besides the `x3m_dead_letters` table:
   * for alerting or a redrive consumer. Optional.
   */
  deadLetterQueue?: (env: Env) => Queue | undefined;
  /** Deliveries of a message before its event is dead-lettered (default 5; keep the queue's `max_retries` higher). */
  maxAttempts?: number;
  /** The delay before a failed message is delivered again (default from 1 s, doubling, at most 5 min). */
  retry?: BackoffOptions;
  /**
   * Structured logger. Default: a console logger whose format is `logFormat`, else the Worker's
   * `LOG_FORMAT` variable, else JSON lines (as the gateway's).
   */
  logger?: Logger;
  /** The default logger's format, whatever `LOG_FORMAT` says (ignored when `logger` is given). */
  logFormat?: LogFormat;
  /** How much one sweep does (see {@link ReadSide.sweep}): streams per run (default 1,000), quiet time (default 10 s). */
  sweep?: Pick<SweepOptions, "streamsPerRun" | "quietMs" | "concurrency">;
};

/** The read side of a Worker: its queue handler, and what operators and query services use. */
export type ReadSide<Env> = {
  /**
   * The Worker's `queue()` handler for the events queue: delivers each batch to the subscribers,
   * then acknowledges each message, retries it later, or dead-letters it.
   */
  queue(batch: MessageBatch, env: Env, ctx?: ExecutionContext): Promise<void>;
  /** The read store over the Worker's D1 database: for query services and operators. */
  store(env: Env): ReadStore;
  /**
   * The `outbox` option of each aggregate object whose events this read side follows:
   * `aggregateObject(loan, { outbox: reads.outbox((env) => env.EVENTS) })`. The object sends its
   * committed events to `queue` and records each stream in this read side's catalog as it sends
   * (what lets the sweep deliver an event whose queue message was lost).
   */
  outbox(queue: (env: Env) => Queue): { queue: (env: Env) => Queue; catalog: (env: Env) => Pick<ReadStore, "record"> };
  /** The runner (for tests and tools that drive deliveries themselves). */
  runner(env: Env): SubscriptionRunner;
  /** Empties subscriber `name`'s read model and replays every stream in the catalog into it. */
  rebuild(env: Env, name: string, options?: CatchUpOptions): Promise<RebuildProgress>;
  /** Applies to subscriber `name` every event in the catalog's streams that it has not applied yet. */
  catchUp(env: Env, name: string, options?: CatchUpOptions): Promise<RebuildProgress>;
  /** The newest dead letters. */
  deadLetters(env: Env, limit?: number): Promise<DeadLetter[]>;
  /**
   * Delivers to every subscriber the events it missed — a queue message lost, a dead letter
   * whose cause was fixed — looking at the streams the outboxes recorded since the last sweep
   * (bounded work per run; the rest is the next run's). What makes the read side converge.
   */
  sweep(env: Env, options?: Pick<SweepOptions, "signal" | "quietMs" | "streamsPerRun">): Promise<SweepReport>;
  /**
   * Erases one aggregate end to end — its object's storage, its pending schedules (with
   * `scheduler`: on `scheduleKeys`, default its id), its rows in every read model whose
   * subscriber handles erasure (`erase` hooks), its checkpoints, catalog and usage rows and dead
   * letters — and answers the receipt, kept in the audit log (`erasures`). The stream's events
   * still in flight are dropped when they arrive. Retried once nothing is left, it answers the same
   * receipt; `not_found` when nothing of it was ever stored. (The gateway's admin route
   * `POST /v1/streams/:stream/:id/erase` and the console call it.)
   */
  erase(env: Env, request: EraseRequest<Env>): Promise<ErasureReceipt | ErrorResponse>;
  /** The audit log of erasures, newest first (50 unless `limit` says), of one stream or one erasure when asked. */
  erasures(env: Env, filter?: { streamName?: string; erasureId?: string; limit?: number }): Promise<ErasureReceipt[]>;
  /**
   * The Worker's `scheduled()` handler for a Cron Trigger (`[triggers] crons = ["* * * * *"]`):
   * one sweep, stopped in time for the next minute's.
   */
  scheduled(controller: ScheduledController, env: Env, ctx?: ExecutionContext): Promise<void>;
};

/** How long a scheduled sweep may start streams: it ends before the next minute's begins. */
const SWEEP_BUDGET_MS = 45_000;

/**
 * The read side on Cloudflare: committed events arrive from a Queue (published by the aggregate
 * objects' outboxes), go to every subscriber — projections into D1, process managers onto
 * Workflows — exactly once in effect and in version order per stream. The catalog of streams in
 * D1, which the outboxes write as they publish, makes catch-up, rebuilds and the sweep possible:
 * run from a Cron Trigger, the sweep delivers whatever a subscriber missed.
 *
 * ```ts
 * const reads = readSide<Env>({ subscribers: [balances, transfers], database: (env) => env.READ_MODELS,
 *   sources: [accounts] });
 * export default { fetch: gateway.fetch, queue: reads.queue, scheduled: reads.scheduled };
 * ```
 */
export function readSide<Env>(options: ReadSideOptions<Env>): ReadSide<Env> {
  const { logger, useEnv } = wiring(options);
  // One runner per database binding, for the isolate's life: the store creates its tables once.
  const runners = new WeakMap<D1Database, SubscriptionRunner>();
  const runnerOf = (env: Env): SubscriptionRunner => {
    useEnv(env);
    const db = options.database(env);
    let runner = runners.get(db);
    if (runner === undefined) {
      runner = new SubscriptionRunner({
        subscribers: options.subscribers,
        store: new SqlReadStore(d1Executor(db)),
        logger,
        ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
        ...(options.retry === undefined ? {} : { retry: options.retry }),
      });
      runners.set(db, runner);
    }
    return runner;
  };
  const scopeOf = (env: Env): RunScope => ({ env, source: aggregateSource(options.sources, env) });
  const sweepOf = (env: Env, more: Pick<SweepOptions, "signal" | "quietMs" | "streamsPerRun"> = {}) =>
    sweep(runnerOf(env), scopeOf(env), { ...options.sweep, ...more, logger });

  return {
    async queue(batch, env) {
      const deliveries = batch.messages.map((message) => ({ id: message.id, attempts: message.attempts, body: message.body }));
      const outcomes = await runnerOf(env).deliver(deliveries, scopeOf(env));
      const deadLetters = options.deadLetterQueue?.(env);
      await Promise.all(
        batch.messages.map(async (message, index) => {
          const outcome = outcomes[index];
          if (outcome === undefined || outcome.kind === "ack") return message.ack();
          if (outcome.kind === "retry") return message.retry({ delaySeconds: outcome.delaySeconds });
          if (deadLetters !== undefined) {
            try {
              await deadLetters.sendBatch(outcome.letters.map((letter) => ({ body: { kind: "x3m.dead_letter", ...letter }, contentType: "json" as const })));
            } catch (error) {
              // Kept in the store already; the queue copy is for alerting, so it is tried again.
              logger.error("could not send a dead letter to its queue: the message will be delivered again", { error });
              return message.retry({ delaySeconds: 10 });
            }
          }
          return message.ack();
        }),
      );
    },
    store: (env) => runnerOf(env).store,
    outbox: (queue) => ({ queue, catalog: (env) => runnerOf(env).store }),
    runner: runnerOf,
    rebuild: (env, name, catchUpOptions) => rebuild(runnerOf(env), name, scopeOf(env), catchUpOptions),
    catchUp: (env, name, catchUpOptions) => catchUp(runnerOf(env), name, scopeOf(env), catchUpOptions),
    deadLetters: (env, limit = 50) => runnerOf(env).store.deadLetters(limit),
    sweep: sweepOf,
    erase: (env, request) => eraseAggregate(runnerOf(env), env, request, logger),
    erasures: (env, filter = {}) => runnerOf(env).store.erasures({ ...filter, limit: filter.limit ?? 50 }),
    async scheduled(_controller, env) {
      await sweepOf(env, { signal: AbortSignal.timeout(SWEEP_BUDGET_MS) });
    },
  };
}
