import { DurableObject } from "cloudflare:workers";
import type { AggregateDefinition } from "../core/aggregates/aggregate.js";
import { AggregateInstance, type InstanceStats } from "../core/aggregates/aggregate-instance.js";
import { commandReplyOf, type CommandRequest, type StorageRemoved } from "../core/aggregates/aggregate-protocol.js";
import type { AppendRequest } from "../core/aggregates/stream-store.js";
import type { StreamUsage, UsageBudget } from "../core/aggregates/stream-usage.js";
import type { ServiceRouter } from "../core/messaging/contracts.js";
import { Dispatcher, dispatchWithDeadlines } from "../core/messaging/dispatcher.js";
import { SharedDeadlines } from "../core/shared/shared-deadlines.js";
import type { DomainEvent, Message } from "../core/messaging/message.js";
import { NodeDirectory, type RemoteNode } from "../core/messaging/node-directory.js";
import { ServiceRegistry } from "../core/messaging/service-registry.js";
import type { TelemetryHandler } from "../core/messaging/telemetry.js";
import { wiring } from "../core/messaging/wiring.js";
import { OutboxPublisher } from "../core/readside/outbox-publisher.js";
import type { ReadStore } from "../core/readside/read-store.js";
import { SchedulerRunner, type SchedulerHooks } from "../core/scheduling/scheduler.js";
import { backoffDelay, type BackoffOptions } from "../core/shared/backoff.js";
import type { JsonObject } from "../core/shared/json.js";
import type { LogFields, Logger } from "../core/shared/logger.js";
import { aggregateRoutes, serveCommand, type HomeAnswer, type StreamHost } from "./aggregate-routes.js";
import { traceFields } from "../core/messaging/trace.js";
import { placeNamed } from "./jurisdictions.js";
import { ObjectUsage } from "./object-usage.js";
import { ResidenceRecord, type Residence } from "./residence-record.js";
import { queueSender } from "./queue-sender.js";
import { SqliteScheduleStore } from "./sqlite-schedule-store.js";
import { SqliteStreamStore } from "./sqlite-stream-store.js";

/**
 * Where an aggregate object publishes its committed events (the read side's transactional
 * outbox; see guides/read-side.md).
 */
export type OutboxOptions<Env> = {
  /** The Cloudflare Queue the events go to: a producer binding of the Worker, e.g. `(env) => env.EVENTS`. */
  queue: (env: Env) => Queue;
  /**
   * The read side's store, whose catalog records each stream and the version its sends reached —
   * given with the queue by `reads.outbox((env) => env.EVENTS)` for `const reads = readSide(…)`. The read side
   * then knows every committed event even when a queue message is lost, and its sweep delivers it.
   */
  catalog: (env: Env) => Pick<ReadStore, "record">;
  /**
   * How long after a commit the alarm makes sure its events went out (default 10 s). Publishing
   * normally starts right after the reply; the alarm is the safety net for an eviction or a crash.
   */
  checkAfterMs?: number;
  /** The delays between tries after a failed send (default from 1 s, doubling, at most 60 s). */
  retry?: BackoffOptions;
};

/**
 * How an aggregate object delivers the follow-ups its decisions schedule (see `accept`): from its
 * own alarm, through a Dispatcher over `services`, with the rights the caller who sent the
 * scheduling command has at delivery (`reidentify`), retried as `hooks.serviceResponded` decides
 * (default: transient failures, with back-off) — as the SchedulerObject delivers.
 */
export type FollowUpOptions<Env> = {
  /** The services follow-ups are delivered to (this Worker's routers). */
  services: ServiceRegistry<Env> | readonly ServiceRouter<Env>[];
  /**
   * Who the caller who scheduled a follow-up is at delivery, from their principal and the
   * Worker's env then — or null when they no longer are anyone (their follow-ups are denied).
   * Without it, only anonymous callers' commands may schedule follow-ups.
   */
  reidentify?: (principal: string, env: Env) => JsonObject | null | Promise<JsonObject | null>;
  /** `serviceResponded` (retry or forget) and `dispatchTimeout`, as for the scheduler. */
  hooks?: SchedulerHooks;
  /** Other nodes whose public services follow-ups may be delivered to. */
  nodes?: (env: Env) => readonly RemoteNode[];
};

/** Options of {@link aggregateObject}. */
export type AggregateObjectOptions<Env = unknown> = {
  /** Default: a console logger in the Worker's `LOG_FORMAT` (see `wiring`). */
  logger?: Logger;
  /** Telemetry subscribers (`new_aggr_spawned`, `handle_msg`, `aggregate_commit_timeout`, `aggregate_usage`). */
  telemetry?: readonly TelemetryHandler[];
  /**
   * Publish every committed event to a queue for the read side: each event is written to an
   * outbox in the same transaction as the append, and sent in version order by the object; a
   * failed or interrupted send is retried by the object's alarm. Without it nothing is published.
   */
  outbox?: OutboxOptions<Env>;
  /**
   * Deliver the follow-ups the aggregate's decisions schedule ({@link FollowUpOptions}): they are
   * stored in the object with the events that scheduled them and delivered from its alarm.
   * Without it a decision that schedules or cancels follow-ups is refused.
   */
  followUps?: FollowUpOptions<Env>;
  /** A budget per aggregate of the type ({@link UsageBudget}): crossing it logs a warning. */
  budget?: UsageBudget;
};

/** The instance type of a class made by {@link aggregateObject}. */
export type AggregateObject = DurableObject<unknown> & {
  /** The object's protocol ({@link aggregateRoutes}): commands, stream reads, deletes. */
  fetch(request: Request): Promise<Response>;
  /** Sends what its outbox holds and delivers due follow-ups (the platform calls it when the alarm rings). */
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
 * export class AccountObject extends aggregateObject(account, { outbox: reads.outbox((env: Env) => env.EVENTS) }) {}
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
  const followUps = options.followUps;
  // Built once per isolate, as the scheduler's: each delivery brings its object's env.
  const dispatcher =
    followUps === undefined
      ? null
      : new Dispatcher<Env>({
          services: followUps.services instanceof ServiceRegistry ? followUps.services : new ServiceRegistry(followUps.services),
          nodes: followUps.nodes ?? [],
          directory: new NodeDirectory(),
          telemetry,
          logger,
        });

  return class extends DurableObject<unknown> implements AggregateObject, StreamHost {
    readonly logger = logger;
    /** The jurisdiction this object lives in, and the one stream its name says it holds. */
    readonly #place = placeNamed(this.ctx.id);
    readonly jurisdiction = this.#place.jurisdiction;
    readonly #store: SqliteStreamStore;
    /** What this object has cost: rows, commands, alarms, events published. */
    readonly #usage: ObjectUsage;
    /** The one timer of its follow-up deliveries' timeouts, made with the first delivery. */
    #deadlines: SharedDeadlines | undefined;
    /** As a stream's home: where the stream lives, when a residency rule put it elsewhere. */
    #residence: ResidenceRecord | undefined;
    /** Commands this home is running for a stream that nothing fixed yet (see `executeAtHome`). */
    #homeCommands = 0;
    /**
     * Whether this object holds its stream (something was committed, and not removed): read once
     * when it starts, then kept by its commits and deletes — asked on every command a residency
     * client sends, so not a query each time.
     */
    #holds = false;
    readonly #publisher: OutboxPublisher | null;
    /** The follow-ups' store and runner (in this object's storage), when it delivers follow-ups. */
    readonly #followUps: { store: SqliteScheduleStore; runner: SchedulerRunner } | null;
    #instance: AggregateInstance<State, Event> | undefined;
    /**
     * When the alarm is set to ring (null: not set), as this incarnation knows it: read when it
     * starts, then kept with every change it makes. One alarm serves the outbox and the follow-ups.
     */
    #alarmAt: number | null = null;
    /** When the outbox must be looked at: after a commit (the safety net) or a failed send; null when sent. */
    #outboxDueAt: number | null = null;
    /** Failed sends in a row, for the back-off. */
    #failures = 0;
    /** Whether a commit of this incarnation stored events that no send has started on yet. */
    #unsent = false;
    /** Whether this incarnation has checked that the alarm covers what is pending. */
    #checked = false;
    /** What the last hard delete removed, until its route reports it. */
    #removed: StorageRemoved | null = null;

    constructor(ctx: DurableObjectState, env: unknown) {
      super(ctx, env);
      useEnv(env);
      const schedules = followUps === undefined ? null : new SqliteScheduleStore(ctx.storage);
      const usage = new ObjectUsage(ctx.storage.sql);
      this.#usage = usage;
      this.#store = new SqliteStreamStore(ctx.storage, {
        usage: () => usage.kept(),
        outbox: outbox !== undefined,
        ...(schedules === null ? {} : { followUps: schedules }),
        // Synchronous, right after the commit: the alarm joins the events' atomic write batch.
        onAppended: (request) => this.#appended(request),
        // The alarm went with the storage: nothing is set, nothing pending.
        onStorageEmptied: (removed) => {
          this.#holds = false;
          this.#removed = removed;
          this.#residence?.forget();
          this.#usage.reset();
          this.#alarmAt = null;
          this.#outboxDueAt = null;
          this.#failures = 0;
          this.#publisher?.forget();
        },
      });
      this.#followUps =
        schedules === null || dispatcher === null || followUps === undefined
          ? null
          : {
              store: schedules,
              runner: new SchedulerRunner(schedules, {
                // The env is read at each delivery: the object's as it is then (secrets rotate).
                // No waitUntil: in a Durable Object it has no effect (the object stays while work
                // is pending), and it cost a call into the runtime per delivery.
                // Every delivery's timeout on the object's one timer (see SharedDeadlines): its
                // deliveries all run in its I/O context.
                dispatch: (message, dispatchOptions) => dispatchWithDeadlines(dispatcher, message, { ...dispatchOptions, env: this.env as Env }, (this.#deadlines ??= new SharedDeadlines())),
                ...(followUps.hooks === undefined ? {} : { hooks: followUps.hooks }),
                ...(followUps.reidentify === undefined ? {} : { reidentify: (principal: string) => followUps.reidentify?.(principal, this.env as Env) ?? null }),
                logger,
                telemetry,
              }),
            };
      this.#publisher =
        outbox === undefined
          ? null
          : new OutboxPublisher({
              outbox: this.#store,
              stream: aggregate.stream,
              upcasters: aggregate.options.upcasters,
              send: queueSender(() => outbox.queue(env as Env)),
              record: (entries) => outbox.catalog(env as Env).record(entries),
              // One catalog write per check period, not per send: what a send reached is recorded
              // with the first send after the period, or when the alarm rings (it rings within
              // the period after every commit).
              recordAtMostEveryMs: outbox.checkAfterMs ?? DEFAULT_CHECK_AFTER_MS,
              usage: () => usage.current(),
              logger,
            });
      void ctx.blockConcurrencyWhile(async () => {
        this.#store.open();
        this.#usage.resume(this.#store.storedUsage());
        this.#holds = this.#store.storedName() !== null;
        // Deliveries a previous incarnation left in flight are due again now.
        const released = schedules?.open() ?? 0;
        if (released > 0) logger.warn("object restarted: follow-up deliveries left in flight are due again now", { released });
        this.#alarmAt = await ctx.storage.getAlarm();
        // Rows a previous incarnation left unsent: their alarm (set with their commit) sends them.
        if (this.#publisher !== null && this.#store.hasUnpublished()) this.#outboxDueAt = this.#alarmAt ?? Date.now();
      });
    }

    stats(): InstanceStats | null {
      return this.#instance?.stats ?? null;
    }

    override async fetch(request: Request): Promise<Response> {
      // Once per incarnation: an alarm that a crash or an older version left unset is set again.
      if (!this.#checked) {
        this.#checked = true;
        this.#rearm();
      }
      const answer = await (serveCommand(request, this) ?? aggregateRoutes.fetch(request, this));
      // After the reply is settled: outgoing sends wait for the commit to be durable anyway. Only
      // when this request (or one before it) committed something: rows left by a failed send or
      // an earlier incarnation are the alarm's, so a read or a refused command costs no query.
      if (this.#unsent) {
        this.#unsent = false;
        void this.#publish().then(() => this.#rearm());
      }
      return answer;
    }

    override async alarm(): Promise<void> {
      // It rang: the platform forgets it when this returns, unless it is set again.
      this.#alarmAt = null;
      this.#usage.alarm();
      this.#checked = true;
      let more = false;
      try {
        if (this.#publisher !== null) {
          if (this.#store.hasUnpublished()) await this.#publish();
          const unpublished = this.#store.hasUnpublished();
          // Where the stream is, in the catalog: what was sent — or, when sending failed, what was
          // committed (the sweep reads it from the stream).
          await this.#recordSent(this.#publisher, unpublished);
          // While something is pending, the next check is a period from now — never a past time,
          // which would ring at once, again and again, under a steady load. (A commit meanwhile
          // is in #unsent.)
          const pending = this.#unsent || unpublished || this.#publisher.hasUnrecorded();
          if (this.#failures === 0) this.#outboxDueAt = pending ? Date.now() + (outbox?.checkAfterMs ?? DEFAULT_CHECK_AFTER_MS) : null;
        }
        if (this.#followUps !== null) {
          const delivery = await this.#followUps.runner.deliverDue();
          more = delivery.more;
          this.#usage.delivered(delivery.delivered);
        }
        // What was published or delivered since the last commit, and how far the events were
        // sent, kept on the stream row (not when nothing changed: a row write for nothing new).
        if (this.#usage.unsaved || this.#store.publishedUnsaved()) this.#store.saveProgress();
      } finally {
        // Even when a delivery failed (the platform retries the alarm), keep it on what is pending.
        this.#rearm(more);
      }
    }

    /** The instance for `streamName`, or why this object cannot serve that stream. */
    streamFor(streamName: string): AggregateInstance<State, Event> | string {
      if (!streamName.startsWith(`${aggregate.stream}-`)) return `stream ${streamName} is not a ${aggregate.stream} stream`;
      // The object's name (or, after an eviction, the name it stored) is the one stream it holds.
      const named = this.#instance?.streamName ?? this.#place.streamName ?? this.#store.storedName() ?? streamName;
      if (named !== streamName) return `this object holds ${named}, not ${streamName}`;
      this.#instance ??= new AggregateInstance(aggregate, this.#store, {
        streamName,
        logger,
        telemetry,
        ...(followUps === undefined ? {} : { followUps: { reidentify: followUps.reidentify !== undefined } }),
      });
      return this.#instance;
    }

    async execute(stream: AggregateInstance<State, Event>, request: CommandRequest): Promise<Message> {
      const before = this.#usage.rows();
      this.#usage.command();
      const reply = await stream.execute(request);
      const after = this.#usage.rows();
      const rowsRead = after.rowsRead - before.rowsRead;
      const rowsWritten = after.rowsWritten - before.rowsWritten;
      const budget = options.budget;
      if (telemetry.active || budget !== undefined) {
        const storageBytes = this.ctx.storage.sql.databaseSize;
        const fields = { streamName: request.streamName, command: request.command, messageId: request.message.id };
        if (telemetry.active) telemetry.emit("aggregate_usage", { rowsRead, rowsWritten, storageBytes }, fields);
        // The trace is worked out only for a warning that is written.
        const crossed = (more: LogFields) => logger.warn("cost budget crossed", { ...fields, ...traceFields(request.message.trace), ...more });
        const rows = rowsRead + rowsWritten;
        if (budget?.rowsPerCommand !== undefined && rows > budget.rowsPerCommand) crossed({ rows, rowsPerCommand: budget.rowsPerCommand });
        if (budget?.storageBytes !== undefined && storageBytes > budget.storageBytes) crossed({ storageBytes, budgetBytes: budget.storageBytes });
      }
      return reply;
    }

    /** What this object has cost so far. */
    usage(): StreamUsage {
      return this.#usage.current();
    }

    unpublished(): number | null {
      return this.#publisher === null ? null : this.#store.unpublishedCount();
    }

    takeRemoved(): StorageRemoved | null {
      const removed = this.#removed;
      this.#removed = null;
      return removed;
    }

    residence(streamName: string, change: { claim?: string } | "release"): Residence | string {
      const stream = this.streamFor(streamName);
      if (typeof stream === "string") return stream;
      if (this.jurisdiction !== null) return `${streamName} in ${this.jurisdiction} is not a stream's home`;
      this.#residence ??= new ResidenceRecord(this.ctx.storage);
      if (change === "release") {
        this.#residence.release();
        return { jurisdiction: null, fixed: false };
      }
      const holds = this.#holds;
      // A command this home runs for a stream nothing fixed yet may be creating it here: a claim
      // for a jurisdiction waits until it is done (else the stream could end in two places).
      if (change.claim !== undefined && this.#homeCommands > 0 && !holds && this.#residence.elsewhere() === null) {
        return { jurisdiction: null, fixed: false, busy: true };
      }
      return this.#residence.settle(change.claim, holds);
    }

    async executeAtHome(stream: AggregateInstance<State, Event>, request: CommandRequest): Promise<HomeAnswer> {
      const before = this.residence(request.streamName, {});
      if (typeof before === "string") return { error: before };
      if (before.jurisdiction !== null) return { residentIn: before.jurisdiction };
      this.#homeCommands += 1;
      try {
        const reply = commandReplyOf(await this.execute(stream, request));
        // Once the stream is here, the client is told so: it remembers the plain namespace.
        return this.#holds ? { reply, residentHere: true } : { reply };
      } finally {
        this.#homeCommands -= 1;
      }
    }

    holdsStream(): boolean {
      return this.#holds;
    }

    /**
     * Right after a commit, synchronously: the alarm must ring by the time its new events should
     * have been sent and its earliest new follow-up is due. Set in the commit's own write batch.
     */
    #appended(request: AppendRequest): void {
      this.#holds = true;
      let due = Number.POSITIVE_INFINITY;
      if (this.#publisher !== null && request.events.length > 0) {
        this.#unsent = true;
        this.#outboxDueAt ??= Date.now() + (outbox?.checkAfterMs ?? DEFAULT_CHECK_AFTER_MS);
        due = this.#outboxDueAt;
      }
      for (const entry of request.followUps?.schedule ?? []) due = Math.min(due, entry.dueAt);
      if (due < (this.#alarmAt ?? Number.POSITIVE_INFINITY)) this.#setAlarm(due);
    }

    /**
     * Records in the read side's catalog what was sent and not yet recorded — or the stream as
     * stored, when rows are `unpublished` (sending fails) or this incarnation has recorded nothing
     * (an earlier one may have sent without recording). When that fails, the alarm tries again,
     * later each time.
     */
    async #recordSent(publisher: OutboxPublisher, unpublished: boolean): Promise<void> {
      try {
        await publisher.recordSent(async () => {
          const streamName = this.#store.storedName();
          const { version } = await this.#store.streamState();
          return streamName === null || version < 0 ? null : { stream: aggregate.stream, streamName, version };
        }, unpublished);
        // Recorded, and nothing left to send: whatever failed before is over.
        if (!unpublished) this.#failures = 0;
      } catch (error) {
        logger.error("recording the stream in the read side's catalog failed: it will be tried again", { error });
        // One back-off step per ring, whether the send failed too or not.
        this.#failures = Math.max(this.#failures, 1);
        this.#outboxDueAt = Date.now() + backoffDelay(this.#failures, outbox?.retry ?? DEFAULT_RETRY);
      }
    }

    /** Sends the outbox; after a failure the alarm tries again, later each time. */
    async #publish(): Promise<void> {
      const result = await (this.#publisher as OutboxPublisher).publish();
      this.#usage.published(result.sent);
      if (result.drained) {
        this.#failures = 0;
        // Only if nothing was committed meanwhile (its rows would be the next send's), and what
        // was sent is recorded (else the alarm records it).
        if (!this.#unsent && !this.#store.hasUnpublished() && !(this.#publisher as OutboxPublisher).hasUnrecorded()) this.#outboxDueAt = null;
        return;
      }
      this.#failures += 1;
      this.#outboxDueAt = Date.now() + backoffDelay(this.#failures, outbox?.retry ?? DEFAULT_RETRY);
    }

    /**
     * Makes sure the alarm rings by the earliest of what is pending — the outbox's check, the
     * earliest follow-up (now, when more are due). An alarm already set earlier is left as it is,
     * and one set when nothing is pending any more is left to ring and find nothing: moving or
     * clearing it after every prompt send would be two alarm writes per commit, where leaving it
     * costs one early ring per check period of a busy object. Synchronous: a commit after it sets
     * its own alarm, written after this change.
     */
    #rearm(followUpsNow = false): void {
      const followUpsDue = followUpsNow ? Date.now() : (this.#followUps?.store.nextDue() ?? null);
      const candidates = [this.#outboxDueAt, followUpsDue].filter((at): at is number => at !== null);
      if (candidates.length === 0) return;
      const due = Math.min(...candidates);
      if (due < (this.#alarmAt ?? Number.POSITIVE_INFINITY)) this.#setAlarm(due);
    }

    #setAlarm(at: number): void {
      this.#alarmAt = at;
      // Never at or before now: inside alarm() the clock can stand still at the ringing alarm's own
      // time, and an alarm set to that time counts as unchanged and is deleted when it returns.
      const when = Math.max(Math.floor(at), Date.now() + 1);
      this.ctx.storage.setAlarm(when).catch((error: unknown) => logger.error("could not set the alarm", { error }));
    }
  };
}
