import { DurableObject } from "cloudflare:workers";
import { Dispatcher, dispatchWithDeadlines } from "../core/messaging/dispatcher.js";
import { SharedDeadlines } from "../core/shared/shared-deadlines.js";
import { NodeDirectory, type NodeDirectoryOptions, type RemoteNode } from "../core/messaging/node-directory.js";
import type { JsonObject } from "../core/shared/json.js";
import type { Logger } from "../core/shared/logger.js";
import { wiring } from "../core/messaging/wiring.js";
import type { ServiceRouter } from "../core/messaging/contracts.js";
import { SchedulerRunner, type SchedulerHooks, type SchedulingLimits } from "../core/scheduling/scheduler.js";
import { ServiceRegistry } from "../core/messaging/service-registry.js";
import type { TelemetryHandler } from "../core/messaging/telemetry.js";
import { schedulerRoutes, type ScheduleHost } from "./scheduler-routes.js";
import { SqliteScheduleStore } from "./sqlite-schedule-store.js";

/**
 * At most this many delivery batches per ring of the alarm, and no new batch after this long
 * (the clock moves on I/O, as slow deliveries do): then the alarm is re-armed at once for the
 * rest, so that one ring never runs long.
 */
const BATCHES_PER_RING = 10;
const RING_BUDGET_MS = 1000;

/** Options of {@link schedulerObject}. */
export type SchedulerObjectOptions<Env> = {
  /** The services scheduled messages are delivered to (this Worker's routers). */
  services: ServiceRegistry<Env> | readonly ServiceRouter<Env>[];
  /** The app's say: `saveAlarm`, `serviceResponded`, `dispatchTimeout`. */
  hooks?: SchedulerHooks;
  /**
   * Resolves who scheduled a message again at each delivery, from their principal and the
   * Worker's env as it is then (the current token table, user directory…): the identity they
   * have now, or null when they no longer exist. Delivery runs with it, so `authorize` judges
   * current rights. Without it, identified schedules are refused when scheduled (see
   * guides/scheduling.md).
   */
  reidentify?: (principal: string, env: Env) => JsonObject | null | Promise<JsonObject | null>;
  /**
   * What may be pending on each key: per owner (default 100), per key (default 10,000), and the
   * shortest interval of a recurring schedule (default 60 s). See {@link SchedulingLimits}.
   */
  limits?: Partial<SchedulingLimits>;
  /**
   * Which identities see and cancel every owner's schedules of a key, as the admin token does —
   * for instance `(identity) => identity.admin === true`. Default: none.
   */
  isAdmin?: (identity: JsonObject) => boolean;
  /** This node's name in telemetry and logs. */
  node?: string;
  /**
   * Other nodes whose public services scheduled messages may be delivered to, for example
   * `(env) => remoteNodesOf({ fx: (env) => env.FX_NODE }, env)` (from x3m-system/worker).
   */
  nodes?: (env: Env) => readonly RemoteNode[];
  /** How service lists of other nodes are cached and failing nodes avoided. */
  directory?: NodeDirectoryOptions;
  logger?: Logger;
  /**
   * Telemetry subscribers: the dispatcher's events for each delivery, and the scheduler's own —
   * `scheduled_delivery`, `scheduled_retry`, `scheduled_give_up`, `scheduled_denied`,
   * `scheduled_cancel` (guides/scheduling.md).
   */
  telemetry?: readonly TelemetryHandler[];
  /**
   * Entries delivered per batch (default 100); a ring of the alarm delivers up to ten batches
   * while more are due (none new after a second), then more due re-arm the alarm at once.
   */
  batchSize?: number;
  /** A delivery this much later than due carries `assigns.late` (default 30 s). */
  lateAfterMs?: number;
  /** The clock (epoch ms) deciding what is due; for tests. Alarms themselves follow real time. */
  now?: () => number;
};

/** The instance type of a class made by {@link schedulerObject}. */
export type SchedulerObject<Env> = DurableObject<Env> & {
  /** The object's protocol ({@link schedulerRoutes}): schedule, list, outcomes, cancel. */
  fetch(request: Request): Promise<Response>;
  /** Runs due deliveries (the platform calls it when the alarm rings). */
  alarm(): Promise<void>;
};

/** The class type made by {@link schedulerObject}: export it from your Worker and bind it. */
export type SchedulerObjectClass<Env> = new (ctx: DurableObjectState, env: Env) => SchedulerObject<Env>;

/**
 * The Durable Object class of the scheduler. Each object is one shard, named after its key; it
 * keeps its messages in SQLite and multiplexes them onto its single alarm, always set to the
 * earliest due time. Delivery goes through a Dispatcher over `services`, with the Worker's env.
 *
 * ```ts
 * export class SchedulerObject extends schedulerObject<Env>({ services: [bank], hooks }) {}
 * ```
 */
export function schedulerObject<Env>(options: SchedulerObjectOptions<Env>): SchedulerObjectClass<Env> {
  const { registry, logger, telemetry, useEnv } = wiring(options);
  // Built once per isolate; each object's deliveries bring their own env.
  const dispatcher = new Dispatcher<Env>({
    services: registry,
    node: options.node,
    nodes: options.nodes ?? [],
    directory: new NodeDirectory(options.directory),
    telemetry,
    logger,
  });

  return class extends DurableObject<Env> implements SchedulerObject<Env>, ScheduleHost {
    readonly logger = logger;
    readonly runner: SchedulerRunner;
    readonly #store: SqliteScheduleStore;
    /** Whether the alarm is known to point at the earliest entry: not yet after a start, nor after a failed arm. */
    #armed = false;

    constructor(ctx: DurableObjectState, env: Env) {
      super(ctx, env);
      useEnv(env);
      this.#store = new SqliteScheduleStore(ctx.storage);
      // Before any request: upgrade the schema, and make the deliveries a previous incarnation left
      // in flight due now. No alarm is set here (the platform advises against it in constructors):
      // the first request or wake arms it, and an alarm interrupted by a crash is retried anyway.
      void ctx.blockConcurrencyWhile(async () => {
        const clock = options.now?.() ?? Date.now();
        const released = this.#store.open(Number.isFinite(clock) ? clock : Date.now());
        if (released > 0) logger.warn("scheduler restarted: deliveries left in flight are due again now", { released });
      });
      // This object's: its deliveries all run in its I/O context, so they can share one timer.
      const deadlines = new SharedDeadlines();
      this.runner = new SchedulerRunner(this.#store, {
        // The env is read at each delivery: the object's as it is then (secrets rotate).
        // No waitUntil: in a Durable Object it has no effect (the object stays while work is
        // pending), and it cost a call into the runtime per delivery.
        // Every delivery's timeout on the object's one timer (see SharedDeadlines).
        dispatch: (message, dispatchOptions) => dispatchWithDeadlines(dispatcher, message, { ...dispatchOptions, env: this.env }, deadlines),
        hooks: options.hooks,
        ...(options.reidentify === undefined ? {} : { reidentify: (principal: string) => options.reidentify?.(principal, this.env) ?? null }),
        limits: options.limits,
        isAdmin: options.isAdmin,
        logger,
        telemetry,
        batchSize: options.batchSize,
        lateAfterMs: options.lateAfterMs,
        ...(options.now === undefined ? {} : { now: options.now }),
      });
    }

    override async fetch(request: Request): Promise<Response> {
      return schedulerRoutes.fetch(request, this);
    }

    refusesKey(key: string): string | null {
      const named = this.ctx.id.name;
      return named !== undefined && key !== named ? `this object is the shard of ${named}` : null;
    }

    override async alarm(): Promise<void> {
      let more = false;
      const rang = Date.now();
      try {
        // Batch after batch while more are due, within bounds: each re-arm is a round trip through
        // the platform's alarm (locally about as long as delivering a batch), and a backlog would
        // wait for one after every batch. Each batch is claimed and settled on its own, as before.
        for (let batches = 0; batches < BATCHES_PER_RING; batches += 1) {
          // A batch that throws re-arms as the first would: not "at once" on the word of the one before.
          more = false;
          ({ more } = await this.runner.deliverDue());
          if (!more || Date.now() - rang >= RING_BUDGET_MS) break;
        }
      } finally {
        // Even when delivery failed (the platform retries the alarm), keep the alarm on the earliest entry.
        await this.arm(more);
      }
    }

    /**
     * Sets the alarm to the earliest due entry (now, when more are due), or clears it. An alarm is
     * never set in the past: an overdue entry (a date that recently passed, a lease that ended, an
     * entry stored long ago) is due now — and `setAlarm` refuses times at or before 1970.
     */
    async arm(immediately = false): Promise<void> {
      this.#armed = false;
      const next = immediately ? 0 : await this.runner.nextWake();
      if (next === null) {
        if ((await this.ctx.storage.getAlarm()) !== null) await this.ctx.storage.deleteAlarm();
        this.#armed = true;
        return;
      }
      // The runner's clock may run ahead of the platform's (tests): translate its due time.
      const translated = immediately || options.now === undefined ? next : next - (options.now() - Date.now());
      // Never at or before now: inside alarm() the clock can stand still at the ringing alarm's
      // own time, and an alarm set to that same time counts as unchanged — the platform deletes
      // it when the handler returns, and the shard would stall with entries due.
      const soonest = Date.now() + 1;
      const at = Number.isFinite(translated) ? Math.max(Math.floor(translated), soonest) : soonest;
      // "Now" always differs from the alarm set; a later time is set only when it changed.
      if (immediately || (await this.ctx.storage.getAlarm()) !== at) await this.ctx.storage.setAlarm(at);
      this.#armed = true;
    }

    /** Arms the alarm unless it is known to be right (it is not after a start, or after arming failed). */
    async ensureArmed(): Promise<void> {
      if (!this.#armed) await this.arm();
    }
  };
}
