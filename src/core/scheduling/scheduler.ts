import { canonicalJson } from "../shared/canonical-json.js";
import type { DispatchOptions } from "../messaging/contracts.js";
import { backoffDelay } from "../shared/backoff.js";
import { readKey } from "../shared/keys.js";
import { jsonProblem, utf8Length, type Json, type JsonObject } from "../shared/json.js";
import { jsonLogger, type LogFields, type Logger } from "../shared/logger.js";
import { writesAt } from "../shared/log-threshold.js";
import type { Message } from "../messaging/message.js";
import { messageProblem } from "../messaging/message-schema.js";
import { isTransient, response, type ServiceResponse } from "../messaging/response.js";
import { finished, Telemetry } from "../messaging/telemetry.js";
import { childTrace, traceFields } from "../messaging/trace.js";
import { mapBounded } from "../shared/bounded.js";
import { dispatchAtOf, MAX_SCHEDULE_AHEAD_MS, MIN_INTERVAL_FLOOR_MS, MIN_INTERVAL_MS, missedRun, nextOccurrence, parseSchedule, type Recurrence, type ScheduleSpec } from "./schedule.js";
import {
  RECENT_OUTCOMES,
  type ClaimedEntry,
  type Reschedule,
  type ScheduledEntry,
  type ScheduleOutcome,
  type ScheduleStore,
  type Settlement,
} from "./schedule-store.js";

/** What `serviceResponded` decides: forget the message (`"ok"`), or try again `inMs` later. */
export type ServiceRespondedDecision = "ok" | { retry: { inMs: number; message?: Message } };

/** The app's say in scheduling (the original's Scheduler callbacks). */
export type SchedulerHooks = {
  /**
   * Called when a message is scheduled; may return a replacement (for instance with injected
   * assigns), which is what gets stored and delivered.
   */
  saveAlarm?: (message: Message, key: string) => Message | void | Promise<Message | void>;
  /**
   * Called with every delivery's reply: `"ok"` forgets the message (for a recurring schedule: this
   * occurrence), `{ retry: { inMs, message } }` delivers it again later, its assigns taken from
   * `message` (attempts keep counting). Default: {@link retryTransientFailures}.
   */
  serviceResponded?: (reply: Message) => ServiceRespondedDecision | Promise<ServiceRespondedDecision>;
  /** How long a delivery waits for the service (default 5000 ms). */
  dispatchTimeout?: (message: Message) => number;
};

/**
 * Resolves who scheduled a message again, at delivery: from its principal (`assigns.principal`
 * when it was scheduled) to the identity that principal has NOW — from the current token table,
 * user directory, role store… — or null when it no longer resolves (the user was removed, their
 * tokens revoked). The message is delivered with that identity, so that `authorize` and the
 * service judge the rights the caller has at delivery, not those they had when scheduling.
 * A hook that throws (its store is down) delays the delivery like any failure; it is retried.
 */
export type Reidentify = (principal: string) => JsonObject | null | Promise<JsonObject | null>;

/**
 * A scheduler's policy on what may be pending. Every shard (key) applies it on its own. Anonymous
 * callers are indistinguishable, so together they are one owner.
 */
export type SchedulingLimits = {
  /** Pending entries one owner may have on one key (default 100). */
  perOwner: number;
  /** Pending entries on one key, all owners together (default 10,000). */
  perKey: number;
  /** The shortest interval of a recurring schedule, in ms (default 60,000; at least 1,000). */
  minIntervalMs: number;
};

/**
 * The default {@link SchedulingLimits}. 100 per owner per key: one caller's pending work on one
 * account or tenant rarely exceeds a few, and a caller cannot fill a key others use. 10,000 per
 * key: a shard's listing, its due-time scans and a full drain (about a second, bench/) stay
 * bounded, and one key cannot grow its object without end. 60 s between occurrences: the
 * resolution of 5-field cron; anything faster is a loop, not a schedule.
 */
export const DEFAULT_SCHEDULING_LIMITS: Readonly<SchedulingLimits> = { perOwner: 100, perKey: 10_000, minIntervalMs: MIN_INTERVAL_MS };

/**
 * Who asks to see or cancel schedules: a caller, by principal and current identity. A caller the
 * scheduler's `isAdmin` recognises sees and cancels every owner's entries; any other caller only
 * their own.
 */
export type ScheduleCaller = { principal: string; identity: JsonObject };

/**
 * Whose entries a listing or a cancel may touch: everyone's (undefined — the admin token, or code
 * that knows best), one owner's (a principal), or as a caller may ({@link ScheduleCaller}).
 */
export type ScheduleViewer = undefined | string | ScheduleCaller;

/**
 * The viewer that sees and cancels every owner's entries (the admin token, an operator's tool).
 * The clients' `viewer` argument is required, so that a call that forgets it does not quietly get
 * everyone's: say `EVERY_OWNER` where that is meant.
 */
export const EVERY_OWNER: ScheduleViewer = undefined;

/** Options of {@link retryTransientFailures}. */
export type RetryOptions = {
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** The random share of each delay (see {@link backoffDelay}); default 0.2. */
  jitter?: number;
};

/**
 * The default `serviceResponded`: retries what may succeed later ({@link isTransient}:
 * `service_timeout`, `service_unavailable`, `internal_error`, `no_nodes_available`,
 * `try_another_node`) with exponential back-off
 * (1 s, 2 s, 4 s… at most 5 min, each up to a fifth shorter at random) up to 10 attempts; forgets everything else (an answer, or a
 * refusal that a retry would not change). Retries reuse the message id, so an aggregate applies
 * a retried command once.
 */
export function retryTransientFailures(options: RetryOptions = {}): (reply: Message) => ServiceRespondedDecision {
  const maxAttempts = options.maxAttempts ?? 10;
  const baseDelayMs = options.baseDelayMs ?? 1000;
  const maxDelayMs = options.maxDelayMs ?? 5 * 60 * 1000;
  return (reply) => {
    const transient = reply.response !== null && isTransient(reply.response);
    const attempts = typeof reply.assigns["dispatchAttempts"] === "number" ? reply.assigns["dispatchAttempts"] : 1;
    if (!transient || attempts >= maxAttempts) return "ok";
    return { retry: { inMs: backoffDelay(attempts, { baseMs: baseDelayMs, maxMs: maxDelayMs, jitter: options.jitter }) } };
  };
}

/** A request to schedule a message. */
export type ScheduleRequest = {
  /** The shard: an aggregate id, a tenant… (1-200 characters, no control characters). */
  key: string;
  message: Message;
  spec: ScheduleSpec;
  /** Deliver to public services only (set for messages scheduled from outside the Worker). */
  publicOnly?: boolean;
};

/** A scheduled message as listings show it. */
export type ScheduledSummary = {
  messageId: string;
  /** Who scheduled it (their principal), or null when anonymous. */
  owner: string | null;
  key: string;
  service: string;
  /** When it is (or was) due: its occurrence's time (ISO 8601). */
  dispatchAt: string;
  /** When it will be tried next: `dispatchAt`, a retry's time, or the end of a delivery's lease. */
  nextAttemptAt: string;
  attempts: number;
  late: boolean;
  recurrence: Recurrence | null;
  rawRequest: Message["rawRequest"];
};

/**
 * How a Worker reaches scheduler shards: the Durable Object adapter sends each request to the
 * SchedulerObject of its key. Transport failures reject.
 */
export interface SchedulerClient<Env> {
  /** Schedules a message: `ok` with `{ key, dispatchAt, recurrence, alreadyScheduled }`, or an error. */
  schedule(env: Env, request: ScheduleRequest): Promise<ServiceResponse>;
  /** The pending messages of `key` that `viewer` may see (see {@link ScheduleViewer}). */
  list(env: Env, key: string, viewer: ScheduleViewer): Promise<ScheduledSummary[]>;
  /**
   * Cancels the entries with this id that `viewer` may cancel — an admin: every owner's — and a
   * recurring one stops: `ok`, or `error not_found` when there was none.
   */
  cancel(env: Env, key: string, messageId: string, viewer: ScheduleViewer): Promise<ServiceResponse>;
  /** How recent schedules of `key` ended when they did not succeed (those `viewer` may see), newest first. */
  outcomes(env: Env, key: string, viewer: ScheduleViewer): Promise<ScheduleOutcome[]>;
}

/**
 * Who scheduled a message, as stored: its `assigns.principal` (the gateway puts it there); for a
 * message that carries an identity but no principal (built by code), the identity's canonical
 * JSON — the gateway's default principal; null when anonymous.
 */
export function ownerOf(message: { assigns: JsonObject }): string | null {
  const principal = message.assigns["principal"];
  if (typeof principal === "string" && principal !== "") return principal;
  const identity = message.assigns["identity"];
  return identity === undefined || identity === null ? null : canonicalJson(identity);
}

/**
 * The name of the shard that holds `key`: the key as the runner reads it (NFC), so that one key
 * spelled two ways is one shard; a key the runner refuses is its own name (and refused there).
 */
export function shardKey(key: string): string {
  const read = readKey(key);
  return read.ok ? read.key : key;
}

/** Options of a {@link SchedulerRunner}. */
export type SchedulerRunnerOptions = {
  /** Delivers a message (a Dispatcher's `dispatch`); never throws. */
  dispatch: (message: Message, options: DispatchOptions) => Promise<Message>;
  hooks?: SchedulerHooks;
  /**
   * Resolves a schedule's owner again at each delivery ({@link Reidentify}). Without it the
   * runner cannot re-check rights, so it refuses identified schedules (anonymous ones are
   * delivered with no identity, as they were scheduled).
   */
  reidentify?: Reidentify;
  /** What may be pending (see {@link SchedulingLimits}); each one defaults to {@link DEFAULT_SCHEDULING_LIMITS}. */
  limits?: Partial<SchedulingLimits>;
  /** Which identities see and cancel everyone's schedules, as the admin token does (default: none). */
  isAdmin?: (identity: JsonObject) => boolean;
  logger?: Logger;
  /**
   * Where the scheduler's events go: `scheduled_delivery`, `scheduled_retry`,
   * `scheduled_give_up`, `scheduled_denied`, `scheduled_cancel` (guides/scheduling.md).
   */
  telemetry?: Telemetry;
  now?: () => number;
  /** Entries delivered per `deliverDue` call, a whole number from 1 (default 100; anything else means the default). */
  batchSize?: number;
  /** Deliveries in flight at once, a whole number from 1 (default 16; anything else means the default). */
  concurrency?: number;
  /** A delivery this much later than due carries `assigns.late` (default 30 s; not a duration from 0: the default). */
  lateAfterMs?: number;
};

/** Most entries a listing returns. */
const LIST_LIMIT = 1000;
/** Added to a delivery's timeout to get its lease: past it, the entry is delivered again. */
const LEASE_MARGIN_MS = 5000;
/** Largest stored message (the template and the message share a 2 MB row). */
const MAX_MESSAGE_BYTES = 900_000;
/** The longest wait before a message whose delivery failed is delivered again. */
const MAX_FAILURE_BACKOFF_MS = 60 * 60 * 1000;

/**
 * One scheduler shard at work: it stores messages to deliver later, delivers the due ones through
 * the dispatcher with `assigns.dispatchAttempts`, and lets `serviceResponded` decide whether to
 * forget or retry each. Delivery is at least once: an entry is claimed with a lease before it is
 * delivered and removed only when `serviceResponded` says so (or the delivery is denied); a crash
 * anywhere in between leaves it claimed, to be delivered again when the store releases the
 * claims of a crashed incarnation, or at the latest when the lease ends. The adapter arms its
 * timer (the Durable Object's alarm) at {@link nextWake}.
 */
export class SchedulerRunner {
  readonly #store: ScheduleStore;
  readonly #dispatch: SchedulerRunnerOptions["dispatch"];
  readonly #hooks: SchedulerHooks;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #batchSize: number;
  readonly #concurrency: number;
  readonly #lateAfterMs: number;
  readonly #reidentify: Reidentify | undefined;
  readonly #limits: SchedulingLimits;
  readonly #isAdmin: (identity: JsonObject) => boolean;
  readonly #telemetry: Telemetry;

  /** A runner over `store`. */
  constructor(store: ScheduleStore, options: SchedulerRunnerOptions) {
    this.#store = store;
    this.#dispatch = options.dispatch;
    this.#hooks = options.hooks ?? {};
    this.#logger = options.logger ?? jsonLogger();
    this.#now = options.now ?? Date.now;
    // A batch of 0 would claim nothing and ask to be woken again at once, forever; 0 in flight
    // would claim a batch and deliver none of it. What is not a count falls back to the default.
    this.#batchSize = wholeAtLeast(options.batchSize ?? 100, 1, 100);
    this.#concurrency = wholeAtLeast(options.concurrency ?? 16, 1, 16);
    this.#lateAfterMs = Number.isFinite(options.lateAfterMs) && (options.lateAfterMs ?? 0) >= 0 ? (options.lateAfterMs as number) : 30_000;
    this.#reidentify = options.reidentify;
    const limits = { ...DEFAULT_SCHEDULING_LIMITS, ...options.limits };
    this.#limits = {
      perOwner: wholeAtLeast(limits.perOwner, 0, DEFAULT_SCHEDULING_LIMITS.perOwner),
      perKey: wholeAtLeast(limits.perKey, 0, DEFAULT_SCHEDULING_LIMITS.perKey),
      minIntervalMs: wholeAtLeast(limits.minIntervalMs, MIN_INTERVAL_FLOOR_MS, DEFAULT_SCHEDULING_LIMITS.minIntervalMs),
    };
    this.#isAdmin = options.isAdmin ?? (() => false);
    this.#telemetry = options.telemetry ?? new Telemetry();
  }

  /** Stores a message to deliver later. Bad input is answered `invalid_request`, nothing stored. */
  async schedule(request: ScheduleRequest): Promise<ServiceResponse> {
    const now = this.#time();
    const key = readKey(request.key);
    if (!key.ok) return response.error("invalid_request", `key ${key.problem}`);
    const problem = messageProblem(request.message);
    if (problem !== null) return response.error("invalid_request", `message: ${problem}`);
    const parsed = parseSchedule(request.spec, now, this.#limits.minIntervalMs);
    if (typeof parsed === "string") return response.error("invalid_request", parsed);
    const owner = ownerOf(request.message);
    if (owner === null && parsed.recurrence !== null) {
      // A standing order must belong to someone: someone who can see it, cancel it, and whose
      // rights are checked at each occurrence. Anonymous callers are nobody in particular.
      return response.unauthorized("recurring schedules (cron, every) need an identified caller");
    }
    if (owner !== null && this.#reidentify === undefined) {
      // Delivering later with the identity of today would run with rights that may be revoked
      // by then: without a way to re-check them, only anonymous schedules are taken.
      return response.error("invalid_request", "this scheduler cannot re-check the caller's rights at delivery (no reidentify hook): only anonymous schedules are accepted");
    }

    let message: Message = {
      ...request.message,
      response: null,
      halted: false,
      events: [],
      assigns: { ...request.message.assigns, dispatchAt: dispatchAtOf(parsed.dueAt, parsed.recurrence), dispatchAttempts: 0 },
    };
    const replaced = await this.#hooks.saveAlarm?.(message, key.key);
    if (replaced !== undefined) message = { ...replaced, id: message.id };
    // Who scheduled is kept as a principal; the identity is resolved again at each delivery, so
    // today's identity (and its rights) is never stored to be replayed later.
    message = withoutIdentity(message, owner);
    const notJson = jsonProblem(message);
    if (notJson !== null) return response.error("invalid_request", `the message is not JSON: ${notJson}`);
    // As the gateway answers a body over its limit (413), with the limit.
    if (utf8Length(JSON.stringify(message), MAX_MESSAGE_BYTES) > MAX_MESSAGE_BYTES) return response.error("payload_too_large", { maxBytes: MAX_MESSAGE_BYTES });

    const entry: ScheduledEntry = {
      id: message.id,
      owner,
      key: key.key,
      service: message.serviceName,
      dueAt: parsed.dueAt,
      template: message,
      message,
      attempts: 0,
      late: parsed.dueAt < now,
      recurrence: parsed.recurrence,
      occurrence: 0,
      publicOnly: request.publicOnly === true,
      createdAt: iso(now),
    };
    const inserted = await this.#store.insert(entry, this.#limits);
    if (inserted === "inserted") {
      return response.ok({ key: key.key, dispatchAt: dispatchAtOf(entry.dueAt, entry.recurrence), recurrence: entry.recurrence, alreadyScheduled: false });
    }
    if (inserted === "owner_full") {
      return response.error("too_many_schedules", { limit: this.#limits.perOwner, per: "owner", problem: "you have as many pending schedules on this key as allowed" });
    }
    if (inserted === "key_full") {
      return response.error("too_many_schedules", { limit: this.#limits.perKey, per: "key", problem: "this key has as many pending schedules as allowed" });
    }
    // This owner already has the id (ids are scoped by owner: another owner's never block it). The
    // same request is a retry; anything else is refused.
    const existing = await this.#store.get(entry.owner, entry.id);
    if (existing === null || !sameRequest(existing.template, message)) {
      return response.error("idempotency_key_reused", { messageId: entry.id });
    }
    return response.ok({
      key: key.key,
      dispatchAt: String(existing.message.assigns["dispatchAt"] ?? iso(existing.dueAt)),
      recurrence: existing.recurrence,
      alreadyScheduled: true,
    });
  }

  /**
   * Cancels the entries with this id that `viewer` may cancel (see {@link ScheduleViewer}): an
   * owner's own, or every owner's for an admin; a recurring one stops.
   */
  async cancel(messageId: string, viewer?: ScheduleViewer): Promise<ServiceResponse> {
    const owner = this.#ownerSeenBy(viewer);
    const removed = await this.#store.remove(messageId, owner);
    const by = owner === undefined ? "admin" : "owner";
    for (const entry of removed) {
      this.#logger.info("scheduled message cancelled", { messageId: entry.id, key: entry.key, service: entry.service, owner: entry.owner, by });
      if (this.#telemetry.active) {
        this.#telemetry.emit("scheduled_cancel", {}, { key: entry.key, messageId: entry.id, owner: entry.owner, service: entry.service, by });
      }
    }
    return removed.length > 0 ? response.ok() : response.error("not_found");
  }

  /** The pending messages `viewer` may see, in due order; at most 1,000. */
  async list(viewer?: ScheduleViewer): Promise<ScheduledSummary[]> {
    return (await this.#store.list(this.#ownerSeenBy(viewer), LIST_LIMIT)).map((entry) => ({
      messageId: entry.id,
      owner: entry.owner,
      key: entry.key,
      service: entry.service,
      dispatchAt: String(entry.message.assigns["dispatchAt"] ?? iso(entry.dueAt)),
      nextAttemptAt: iso(entry.dueAt),
      attempts: entry.attempts,
      late: entry.late,
      recurrence: entry.recurrence,
      rawRequest: entry.message.rawRequest,
    }));
  }

  /** How recent schedules ended when they did not succeed (those `viewer` may see), newest first. */
  outcomes(viewer?: ScheduleViewer): Promise<ScheduleOutcome[]> {
    return this.#store.outcomes(this.#ownerSeenBy(viewer), RECENT_OUTCOMES);
  }

  /** Whose entries `viewer` may touch: one owner's, or everyone's (undefined). */
  #ownerSeenBy(viewer: ScheduleViewer): string | undefined {
    if (viewer === undefined || typeof viewer === "string") return viewer;
    return this.#isAdmin(viewer.identity) ? undefined : viewer.principal;
  }

  /** When something is due next (epoch ms), or null when nothing is scheduled. */
  nextWake(): Promise<number | null> {
    return this.#store.earliestDue();
  }

  /**
   * Delivers one batch of due messages. `more` says that due messages remain (re-arm at once).
   * Never throws for a single message's failure; a storage failure does throw, and loses nothing.
   */
  async deliverDue(): Promise<{ delivered: number; more: boolean }> {
    const now = this.#time();
    // The lease covers the whole batch: the last entries start only after the rounds before them.
    const rounds = Math.ceil(this.#batchSize / this.#concurrency);
    const claimed = await this.#store.claimDue(
      now,
      this.#batchSize,
      (entries) => now + rounds * Math.max(...entries.map((entry) => this.#timeoutOf(entry.message))) + LEASE_MARGIN_MS,
    );
    const invokedAt = iso(now);
    const settlements: Settlement[] = await mapBounded(claimed, this.#concurrency, async (entry) => ({
      claim: entry.claim,
      ...(await this.#deliver(entry, now, invokedAt)),
    }));
    // One atomic step for the whole batch. A crash before it leaves every entry of the batch
    // claimed: delivered again (at least once), as any crash during a delivery would.
    await this.#store.settleAll(settlements);
    // A full batch says more may be due (the adapter re-arms at once); otherwise the adapter's
    // next wake is the earliest entry, which it reads anyway.
    // An entry claimed when the object stopped goes alone (see ClaimedEntry.stopped): more may follow.
    return { delivered: claimed.length, more: claimed.length === this.#batchSize || claimed[0]?.stopped !== undefined };
  }

  /**
   * Delivers one claimed entry and decides what becomes of it — never throws for the entry's own
   * failures (a hook that throws is a failure, retried after a back-off). Every decision is logged
   * and emitted as telemetry here; the caller settles it.
   */
  async #deliver(entry: ClaimedEntry, now: number, invokedAt: string): Promise<Decision> {
    // When this occurrence was due, as scheduled (the stored due time is the lease's end now).
    const dueAt = Date.parse(String(entry.message.assigns["dispatchAt"]));
    let message = this.#deliveryOf(entry, now, dueAt, invokedAt);
    const attempt = entry.attempts;
    const lateness = Number.isNaN(dueAt) ? 0 : Math.max(0, now - dueAt);
    // Worked out for the first line written, if any: a delivery that goes well writes one info
    // line, which a logger that says nothing at info (the default in a drain of thousands) skips.
    const traced = message;
    let known: LogFields | null = null;
    const fields = (): LogFields => (known ??= { ...traceFields(traced.trace), messageId: traced.id, service: entry.service, key: entry.key, attempt, latenessMs: lateness });
    // A late run of a recurring schedule: its missed-run policy says what comes next and — for a
    // first attempt (a retry is not a missed run, and is delivered) — whether it runs at all.
    const missed = entry.recurrence !== null && lateness > this.#lateAfterMs ? this.#missedRun(entry.recurrence, dueAt, now) : null;
    if (missed !== null && !missed.deliver && attempt === 1) {
      const next = missed.next === null ? null : this.#occurrenceAt(entry, missed.next);
      this.#logger.info("missed run passed over, as its schedule says", { ...fields(), missed: entry.recurrence?.missed ?? "once", next: next === null ? null : iso(next.dueAt) });
      return { change: next };
    }
    try {
      if (entry.stopped === "alone") {
        // Its delivery, the only one under way, never answered: the object stopped (a crash, CPU
        // or memory exceeded, a deploy). The app's policy judges that attempt as a failure before
        // it is tried again: a delivery that stops its object every time is given up as the
        // policy says, not tried for ever.
        const unanswered: Message = { ...message, response: response.error("internal_error", STOPPED_DETAILS), assigns: { ...message.assigns, dispatchAttempts: attempt - 1 } };
        const decision = await (this.#hooks.serviceResponded ?? defaultServiceResponded)(unanswered);
        if (!isRetry(decision)) return { change: this.#afterDelivery(entry, missed, now), outcome: this.#gaveUp({ ...entry, attempts: attempt - 1 }, unanswered, fields()) };
      }
      if (entry.stopped !== undefined) this.#logger.warn("scheduled message was claimed when its object stopped: delivered again", { ...fields(), stopped: entry.stopped });
      if (entry.owner !== null) {
        // Who scheduled it, as they are now: their current rights are what authorize judges.
        if (this.#reidentify === undefined) return this.#denied(entry, message, "no_reidentify", null, fields());
        const identity = await this.#reidentify(entry.owner);
        if (identity === null) return this.#denied(entry, message, "principal_unknown", null, fields());
        message = { ...message, assigns: { ...message.assigns, identity, principal: entry.owner } };
      }
      const startMs = Date.now();
      const answer = await this.#dispatch(message, { timeoutMs: this.#timeoutOf(message), publicOnly: entry.publicOnly });
      const status = answer.response?.status ?? null;
      if (writesAt(this.#logger, "info")) this.#logger.info("scheduled message delivered", { ...fields(), status });
      if (this.#telemetry.active) {
        this.#telemetry.emit("scheduled_delivery", { ...finished(startMs), lateness }, { message: answer, key: entry.key, attempt, status });
      }
      if (status === "forbidden" || status === "unauthorized") return this.#denied(entry, answer, status, answer.response, fields());

      // The attempt count is the scheduler's to tell, whatever the service did with the assigns.
      const reply = { ...answer, assigns: { ...answer.assigns, dispatchAttempts: attempt } };
      const decision = await (this.#hooks.serviceResponded ?? defaultServiceResponded)(reply);
      if (isRetry(decision)) {
        const inMs = decision.retry.inMs;
        const delay = Number.isFinite(inMs) && inMs >= 0 ? Math.min(inMs, MAX_SCHEDULE_AHEAD_MS) : 1000;
        const from = decision.retry.message;
        const retried: Message = {
          ...entry.message,
          rawRequest: from?.rawRequest ?? entry.message.rawRequest,
          assigns: from === undefined ? entry.message.assigns : { ...withoutIdentity(from, entry.owner).assigns, dispatchAt: entry.message.assigns["dispatchAt"] ?? null },
        };
        this.#retrying(reply, entry, delay, "service_responded", fields());
        return { change: { dueAt: this.#time() + delay, message: retried } };
      }
      const failed = reply.response !== null && reply.response.status !== "ok" && reply.response.status !== "created";
      return { change: this.#afterDelivery(entry, missed, now), ...(failed ? { outcome: this.#gaveUp(entry, reply, fields()) } : {}) };
    } catch (error) {
      // Nothing is lost: the message stays, and is delivered again after a back-off that grows
      // with its attempts (a hook that always throws must not spin). A hook that throws is a bug
      // (or its store is down): logged as an error, not as a routine retry.
      const delay = backoffDelay(attempt, { baseMs: 1000, maxMs: MAX_FAILURE_BACKOFF_MS });
      this.#logger.error("scheduled delivery failed; it will be delivered again", { ...fields(), inMs: delay, error });
      this.#retrying(message, entry, delay, "failed", null);
      return { change: { dueAt: this.#time() + delay } };
    }
  }

  /** {@link missedRun}, or null (delivered as any run) when the schedule cannot be read any more (a time zone the runtime no longer knows). */
  #missedRun(recurrence: Recurrence, dueAt: number, now: number): { deliver: boolean; next: number | null } | null {
    try {
      return missedRun(recurrence, dueAt, now);
    } catch (error) {
      this.#logger.error("a recurring schedule's missed runs could not be worked out: this run is delivered, the next one follows it", { recurrence, error });
      return null;
    }
  }

  /** A retry decided: logged (warn, unless the caller logged it already) and emitted. */
  #retrying(message: Message, entry: ClaimedEntry, inMs: number, reason: "service_responded" | "failed", fields: LogFields | null): void {
    if (fields !== null) this.#logger.warn("scheduled message will be delivered again", { ...fields, inMs, response: message.response });
    if (this.#telemetry.active) this.#telemetry.emit("scheduled_retry", { inMs }, { message, key: entry.key, attempt: entry.attempts, reason });
  }

  /**
   * A failed delivery that `serviceResponded` said to stop retrying (attempts exhausted, or a
   * failure a retry would not change): logged as an error, emitted, and recorded as an outcome.
   */
  #gaveUp(entry: ClaimedEntry, reply: Message, fields: LogFields): ScheduleOutcome {
    const r = reply.response;
    this.#logger.error("scheduled message given up", { ...fields, response: r });
    if (this.#telemetry.active) this.#telemetry.emit("scheduled_give_up", {}, { message: reply, key: entry.key, attempt: entry.attempts, response: r });
    return this.#outcome(entry, reply, "gave_up", r === null ? "none" : r.status === "error" ? r.reason : r.status, r);
  }

  /**
   * A delivery refused for want of rights — the owner no longer resolves, or `authorize` (or the
   * service) refused the rights they have now. Retrying would not change that, and a recurring
   * schedule would be refused at every occurrence: the entry is removed (a recurring one stops),
   * and the denial logged, emitted and recorded. `serviceResponded` is not asked: this is the
   * scheduler's decision, not a retry policy's.
   */
  #denied(entry: ClaimedEntry, message: Message, reason: string, refusal: ServiceResponse | null, fields: LogFields): Decision {
    this.#logger.warn("scheduled message denied: its owner may no longer do this", { ...fields, owner: entry.owner, reason });
    if (this.#telemetry.active) {
      this.#telemetry.emit("scheduled_denied", {}, { message, key: entry.key, attempt: entry.attempts, principal: entry.owner, reason });
    }
    return { change: null, outcome: this.#outcome(entry, message, "denied", reason, refusal) };
  }

  #outcome(entry: ClaimedEntry, message: Message, outcome: ScheduleOutcome["outcome"], reason: string, r: ServiceResponse | null): ScheduleOutcome {
    return { at: iso(this.#time()), messageId: message.id, owner: entry.owner, key: entry.key, service: entry.service, outcome, reason, attempts: entry.attempts, response: r };
  }

  /** What becomes of an entry once done with: for a late recurring one, what its missed-run rule says; else {@link #next}. */
  #afterDelivery(entry: ClaimedEntry, missed: { next: number | null } | null, now: number): Reschedule | null {
    if (missed === null) return this.#next(entry, now);
    return missed.next === null ? null : this.#occurrenceAt(entry, missed.next);
  }

  /**
   * What becomes of an entry whose delivery is done: a one-off is removed (null); a recurring
   * schedule moves to its next occurrence, which starts again from the template (what retries
   * changed stays behind).
   */
  #next(entry: ClaimedEntry, now: number): Reschedule | null {
    if (entry.recurrence === null || entry.template === null) return null;
    const current = Date.parse(String(entry.message.assigns["dispatchAt"]));
    const from = Number.isNaN(current) ? now : Math.max(now, current);
    // A cron occurrence comes at least the minimum interval after the one before: an expression
    // that matches more often has its closer matches skipped (`every` is checked when scheduled).
    const spaced = "cron" in entry.recurrence && !Number.isNaN(current);
    const after = spaced ? Math.max(from, current + this.#limits.minIntervalMs - 1) : from;
    const next = nextOccurrence(entry.recurrence, after);
    return next === null ? null : this.#occurrenceAt(entry, next);
  }

  /** The occurrence of a recurring entry due at `dueAt`, from its template. */
  #occurrenceAt(entry: ClaimedEntry, dueAt: number): Reschedule | null {
    if (entry.template === null) return null;
    const template = entry.template;
    const message = { ...template, assigns: { ...template.assigns, dispatchAt: dispatchAtOf(dueAt, entry.recurrence), dispatchAttempts: 0 } };
    return { dueAt, message, attempts: 0, occurrence: entry.occurrence + 1, late: false };
  }

  /** The message as it is delivered: each occurrence of a recurring schedule has its own id. */
  #deliveryOf(entry: ClaimedEntry, now: number, dueAt: number, invokedAt: string): Message {
    const template = entry.message;
    const recurring = entry.recurrence !== null;
    const late = entry.late || (!Number.isNaN(dueAt) && now - dueAt > this.#lateAfterMs);
    const assigns: Record<string, Json> = { ...template.assigns, dispatchAttempts: entry.attempts };
    if (late) assigns["late"] = true;
    return {
      ...template,
      id: recurring ? `${entry.id}-${entry.occurrence}` : entry.id,
      causationId: recurring ? entry.id : template.causationId,
      invokedAt,
      // Each delivery is a span of the trace that scheduled it.
      trace: childTrace(template.trace),
      request: null,
      valid: true,
      response: null,
      events: [],
      halted: false,
      assigns,
    };
  }

  /**
   * The runner's clock, never trusted blindly: every due time is computed from it, and a time
   * that is not a finite positive number would be stored as garbage and arm an alarm that throws.
   */
  #time(): number {
    const now = this.#now();
    return Number.isFinite(now) && now > 0 ? Math.floor(now) : Date.now();
  }

  /** The app's `dispatchTimeout` for `message`, or 5 s when it has none, gives nonsense or throws. */
  #timeoutOf(message: Message): number {
    let timeout: number | undefined;
    try {
      timeout = this.#hooks.dispatchTimeout?.(message);
    } catch (error) {
      // A hook that throws must not stop every delivery of the key (the claim calls it too).
      this.#logger.error("dispatchTimeout threw; using 5 s", { messageId: message.id, error });
    }
    return timeout !== undefined && Number.isFinite(timeout) && timeout > 0 ? timeout : 5000;
  }
}

const defaultServiceResponded = retryTransientFailures();

/** Whether `serviceResponded` asked for a retry (anything else it answers means done). */
function isRetry(decision: unknown): decision is Extract<ServiceRespondedDecision, { retry: unknown }> {
  return typeof decision === "object" && decision !== null && "retry" in decision;
}

/** What the policy is told of a delivery that was under way when its object stopped. */
const STOPPED_DETAILS = "the delivery was under way when its object stopped, and never answered";

/** The message without `assigns.identity`, its principal recorded when it has an owner. */
function withoutIdentity(message: Message, owner: string | null): Message {
  const { identity: _identity, ...assigns } = message.assigns;
  return { ...message, assigns: owner === null ? assigns : { ...assigns, principal: owner } };
}

/** What becomes of a delivered entry: removed (`change` null) or rescheduled, and any outcome to record. */
type Decision = Omit<Settlement, "claim">;

/** Whether two scheduling requests ask for the same: the same service with the same raw request. */
function sameRequest(a: Message, b: Message): boolean {
  return a.serviceName === b.serviceName && canonicalJson(a.rawRequest) === canonicalJson(b.rawRequest);
}

/** `value` when it is a whole number of at least `least`, else `fallback`. */
function wholeAtLeast(value: number, least: number, fallback: number): number {
  return Number.isInteger(value) && value >= least ? value : fallback;
}

/** ISO 8601 of an epoch time; never throws (a time that is not one reads as now). */
function iso(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? new Date().toISOString() : date.toISOString();
}

